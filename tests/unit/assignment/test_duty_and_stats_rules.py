"""The rules of duties and statistics, one row per rule and boundary (plain Python, no storage)."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import duties, statistics, tracking
from services.assignment.deadlines import DeadlineRules

RULES = DeadlineRules()
# Thursday 9 October 2025, 10:00 in Foshan: the first working day after 国庆
T0 = datetime(2025, 10, 9, 2, tzinfo=UTC)

OPENING = [
    ("real name, routed", True, False, {"accept_notice", "still_handling"}),
    ("anonymous, routed", False, False, set()),
    ("anonymous, in triage", False, True, {"transfer"}),
    ("real name, in triage", True, True, {"accept_notice", "still_handling", "transfer"}),
]


@pytest.mark.parametrize("label,real_name,triage,kinds", OPENING, ids=[o[0] for o in OPENING])
def test_the_duties_a_clue_brings(label, real_name, triage, kinds):
    made = duties.opening("c1", T0, real_name, triage, RULES)
    assert {d.kind for d in made} == kinds
    assert all(d.met_at is None and d.start == T0 for d in made)


DUE = [
    # 15 working days: Saturday 11 October 2025 is a make-up working day
    ("acceptance notice", "accept_notice", datetime(2025, 10, 29, 2, tzinfo=UTC)),
    ("transfer: 5 working days, make-up Saturday included", "transfer",
     datetime(2025, 10, 15, 2, tzinfo=UTC)),
    ("still handling: 30 days and a day's grace", "still_handling", datetime(2025, 11, 9, 2, tzinfo=UTC)),
]


@pytest.mark.parametrize("label,kind,expected", DUE, ids=[d[0] for d in DUE])
def test_opening_due_dates_follow_the_calendar(label, kind, expected):
    made = {d.kind: d for d in duties.opening("c1", T0, True, True, RULES)}
    assert made[kind].due_at == expected


def test_a_move_is_a_met_transfer_and_closing_owes_every_clue_the_result():
    moved = duties.moved(["a", "b"], T0, RULES)
    assert [(d.kind, d.clue_id, d.met_at) for d in moved] == [("transfer", "a", T0), ("transfer", "b", T0)]
    closing = duties.closing(["a", "b"], T0, RULES)
    assert {d.clue_id for d in closing} == {"a", "b"}
    assert closing[0].due_at == datetime(2025, 10, 29, 2, tzinfo=UTC)


STATES = [
    ("met before due", T0, T0 - timedelta(seconds=1), "met"),
    ("met exactly at due", T0, T0, "met"),
    ("met a second late", T0, T0 + timedelta(seconds=1), "missed"),
]


@pytest.mark.parametrize("label,due,met,expected", STATES, ids=[s[0] for s in STATES])
def test_state_when_met(label, due, met, expected):
    assert duties.state_when_met(due, met) == expected


SHOWN = [
    ("open, not yet due", "due", T0 + timedelta(hours=1), "due"),
    ("open, past due before the sweep", "due", T0 - timedelta(hours=1), "missed"),
    ("met stays met", "met", T0 - timedelta(days=9), "met"),
    ("missed stays missed", "missed", T0 + timedelta(days=9), "missed"),
]


@pytest.mark.parametrize("label,stored,due,expected", SHOWN, ids=[s[0] for s in SHOWN])
def test_state_now(label, stored, due, expected):
    assert duties.state_now(stored, due, T0) == expected


MET_BY = [
    ("accepted", {"accept_notice"}),
    ("closed", {"result_notice", "still_handling"}),
    ("transferred", {"still_handling"}),
    ("reviewing", {"still_handling"}),
    ("still_handling", {"still_handling"}),
    ("received", set()),
]


@pytest.mark.parametrize("kind,expected", MET_BY, ids=[m[0] for m in MET_BY])
def test_which_notification_meets_which_duty(kind, expected):
    assert set(duties.duties_met_by(kind)) == expected


def test_duty_keys_are_stable():
    one = duties.opening("c1", T0, True, False, RULES)[0]
    assert one.key("case") == duties.opening("c1", T0, True, False, RULES)[0].key("case")
    assert one.key("case") != one.key("other")


REAL_NAME = [
    ("anonymous flag false", {"anonymous": False}, True),
    ("anonymous flag true, sealed contact", {"anonymous": True, "reporter_contact_sealed": "x"}, False),
    ("no flag, sealed contact", {"reporter_contact_sealed": "x"}, True),
    ("no flag, no contact", {"reporter_contact_sealed": None}, False),
]


@pytest.mark.parametrize("label,data,expected", REAL_NAME, ids=[r[0] for r in REAL_NAME])
def test_real_name(label, data, expected):
    assert tracking.real_name(data) is expected


QUARTERS = [
    ("Shanghai new year's day, still 2025 in UTC", datetime(2025, 12, 31, 16, 0, tzinfo=UTC), "2026Q1"),
    ("the last second of Q4 in Shanghai", datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC), "2025Q4"),
    ("1 April Shanghai", datetime(2026, 3, 31, 16, tzinfo=UTC), "2026Q2"),
    ("mid-quarter", datetime(2026, 8, 15, tzinfo=UTC), "2026Q3"),
]


@pytest.mark.parametrize("label,moment,expected", QUARTERS, ids=[q[0] for q in QUARTERS])
def test_quarter_of(label, moment, expected):
    assert statistics.quarter_of(moment) == expected


def test_quarter_bounds_are_shanghai_midnights():
    start, end = statistics.quarter_bounds("2026Q4")
    assert start == datetime(2026, 9, 30, 16, tzinfo=UTC) and end == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert statistics.quarter_of(start) == "2026Q4" and statistics.quarter_of(end) == "2027Q1"
    for bad in ("2026Q5", "26Q1", "2026-Q1", ""):
        with pytest.raises(ValueError):
            statistics.parse_quarter(bad)


BUCKETS = [
    ("seconds", 5 / 86400, "h_0"),
    ("just under a day", 0.999, "h_23"),
    ("a day", 1.0, "d_1"),
    ("ten and a half days", 10.5, "d_10"),
    ("beyond ten years", 5000.0, "d_3650"),
    ("negative (clock skew)", -1.0, "h_0"),
]


@pytest.mark.parametrize("label,days,expected", BUCKETS, ids=[b[0] for b in BUCKETS])
def test_day_bucket(label, days, expected):
    assert statistics.day_bucket(days) == expected


def _counted(values: list[float]) -> Counter:
    counts: Counter = Counter()
    for v in values:
        statistics.add(counts, statistics.duration_fields("close", v))
    return counts


P90 = [
    ("none", [], {"mean": None, "p90": None}),
    ("one value is exact", [10.0], {"mean": 10.0, "p90": 10.0}),
    ("ten equal values", [3.0] * 10, {"mean": 3.0, "p90": 3.0}),
    ("the 9th of 10 values", [1.0] * 8 + [20.0, 40.0], {"mean": 6.8, "p90": 20.0}),
    ("within a day, by the hour", [0.01] * 9 + [0.5], {"mean": 0.059, "p90": 0.01}),
]


@pytest.mark.parametrize("label,values,expected", P90, ids=[p[0] for p in P90])
def test_mean_and_p90_from_counters(label, values, expected):
    assert statistics.mean_p90(_counted(values), "close") == expected


def test_rows_and_table_have_every_column_in_chinese():
    counts = Counter({"received": 3, "accepted": 2, "esc_rank": 1, "escalated": 1, "disp_concluded": 1,
                      "out_unfounded": 1, "closed": 1, "duties_missed": 2})
    row = statistics.row("石湾", "foshan/chancheng/shiwan", counts)
    assert row["escalated_by_reason"]["rank"] == 1 and row["closed_by_outcome"]["unfounded"] == 1
    assert row["duties_missed"] == 2 and row["days_to_close"] == {"mean": None, "p90": None}
    report = {"bases": {b: {"rows": [row], "total": row} for b in statistics.BASES}}
    headers, rows = statistics.table(report)
    assert len(rows) == 4 and all(len(r) == len(headers) for r in rows)
    assert headers[:4] == ["统计口径", "辖区", "辖区代码", "受理线索"]
    assert all(not h.isascii() or h.startswith("受理天数P90") for h in headers if h != "办结天数P90")
    assert rows[0][:4] == ["按受理地统计", "石湾", "foshan/chancheng/shiwan", 3]
    assert rows[2][0] == "按办理层级统计"
