"""The duty store's contract, run on the real database (MongoDutyStore) and on its in-memory twin
(MemoryDutyStore), through duty_store's module functions: a duty is stored once under its key, it
follows its case, it is met once (late: missed, and counted once), a failed notice leaves it open,
the sweep turns past-due duties missed once, and the reads filter, page and order as the API needs.
Times go in and come out as datetimes, to the millisecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.assignment import counter_store, counters, duty_store
from services.assignment.duties import Duty
from services.assignment.errors import Forbidden
from services.assignment.memory_duties import MemoryDutyStore
from services.assignment.registry_file import load_registry
from shared.auth import Principal

pytestmark = pytest.mark.stack

FOSHAN = Path(__file__).resolve().parents[3] / "deploy" / "registry" / "foshan.yaml"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 2026Q1 in China too
DAY = timedelta(days=1)
SHIWAN, ZUMIAO, NANHAI = ("foshan/chancheng/shiwan#commission", "foshan/chancheng/zumiao#commission",
                          "foshan/nanhai#commission")
SHIWAN_BOSS = Principal("supervisor", "foshan/chancheng/shiwan", "k")
CHANCHENG_BOSS = Principal("supervisor", "foshan/chancheng", "k")
ADMIN = Principal("admin", "", "k")


@pytest.fixture(scope="module")
def registry():
    return load_registry(FOSHAN)


@pytest.fixture(params=["mongo", "memory"])
def store(request):
    """The store under contract, made the one in use (with a counter store of the same kind);
    the real ones on a fresh database."""
    if request.param == "mongo":
        request.getfixturevalue("mongo_db")
        made, counting = duty_store.MongoDutyStore(), counter_store.MongoCounterStore()
    else:
        made, counting = MemoryDutyStore(), counter_store.MemoryCounterStore()
    previous, previous_counting = duty_store.use(made), counter_store.use(counting)
    yield made
    duty_store.use(previous)
    counter_store.use(previous_counting)


def case(case_id: str, unit: str = SHIWAN) -> dict:
    return {"_id": case_id, "unit": unit, "jurisdiction": unit.split("#")[0]}


def missed_counted(jurisdiction: str = "foshan/chancheng/shiwan") -> tuple[int, int]:
    """duties_missed as counted where received and where handled, in 2026Q1."""
    sums = counters.read(["2026Q1"], [jurisdiction])
    return tuple(sums.get((basis, jurisdiction), {}).get("duties_missed", 0)  # type: ignore[return-value]
                 for basis in ("received", "handled"))


def test_a_duty_is_stored_once_under_its_key(store):
    accept = Duty("accept_notice", "clue-a", T0, T0 + 15 * DAY)
    quiet = Duty("still_handling", "clue-a", T0, T0 + 30 * DAY)
    moved = Duty("transfer", "clue-a", T0 + DAY, T0 + 5 * DAY, met_at=T0 + DAY)
    assert duty_store.add(case("case-a"), [accept, quiet], T0) == 2
    assert duty_store.add(case("case-a"), [quiet, moved, accept], T0 + DAY) == 1  # a redelivery
    assert duty_store.add_many([(case("case-a"), [moved]), (case("case-b"), [accept, accept])], T0) == 1
    assert duty_store.add_many([(case("case-c"), [])], T0) == 0
    shown = duty_store.case_duties("case-a", T0)
    assert [(d["kind"], d["state"], d["met_at"]) for d in shown] == [
        ("transfer", "met", T0 + DAY), ("accept_notice", "due", None), ("still_handling", "due", None)]
    assert [d["duty_id"] for d in duty_store.case_duties("case-b", T0)] == [accept.key("case-b")]


def test_times_go_in_and_come_out_as_datetimes_to_the_millisecond(store):
    start = T0 + timedelta(microseconds=123_456)  # kept as 123 ms
    duty = Duty("transfer", "clue-t", start, start + 5 * DAY + timedelta(microseconds=999))
    duty_store.add(case("case-t"), [duty], start)
    [found] = duty_store.open_duties("clue-t", ("transfer",))
    at_ms = T0 + timedelta(milliseconds=123)
    assert found == {
        "_id": duty.key("case-t"), "case_id": "case-t", "clue_id": "clue-t", "kind": "transfer",
        "unit": SHIWAN, "jurisdiction": "foshan/chancheng/shiwan", "state": "due",
        "start_at": at_ms, "due_at": at_ms + 5 * DAY + timedelta(milliseconds=1), "met_at": None,
        "failed_at": None, "failure": None, "channel": None, "created_at": at_ms,
    }
    assert found["due_at"].utcoffset() == timedelta(0)


def test_a_moved_case_takes_all_its_duties_along(store, registry):
    duty_store.add(case("case-a"), [Duty("accept_notice", "clue-a", T0, T0 + 15 * DAY),
                                    Duty("transfer", "clue-b", T0, T0 + 5 * DAY)], T0)
    duty_store.add(case("case-b"), [Duty("accept_notice", "clue-c", T0, T0 + 15 * DAY)], T0)
    duty_store.follow_case("case-a", ZUMIAO)
    assert {d["unit"] for d in duty_store.case_duties("case-a", T0)} == {ZUMIAO}
    assert [d["unit"] for d in duty_store.case_duties("case-b", T0)] == [SHIWAN]
    seen = duty_store.list_duties(SHIWAN_BOSS, registry, T0)["items"]
    assert [d["case_id"] for d in seen] == ["case-b"]  # the unit it left sees none of them
    there = duty_store.list_duties(CHANCHENG_BOSS, registry, T0, jurisdiction="foshan/chancheng/zumiao")
    assert sorted(d["clue_id"] for d in there["items"]) == ["clue-a", "clue-b"]


def test_meeting_on_time_is_met_late_is_missed_and_counted_once(store, registry):
    on_time = Duty("accept_notice", "clue-m", T0 + timedelta(hours=1), T0 + 2 * DAY)
    late = Duty("transfer", "clue-m", T0, T0 + DAY)
    duty_store.add(case("case-m"), [on_time, late], T0)
    found = duty_store.open_duties("clue-m", ("accept_notice", "transfer", "result_notice"))
    assert [d["kind"] for d in found] == ["transfer", "accept_notice"]  # oldest first
    assert duty_store.open_duties("clue-m", ("result_notice",)) == []
    assert duty_store.open_duties("clue-x", ("transfer",)) == []
    first, second = found
    assert duty_store.meet(second, T0 + DAY, registry, "sms") == "met"
    assert missed_counted() == (0, 0)
    assert duty_store.meet(first, T0 + 2 * DAY, registry) == "missed"
    assert missed_counted() == (1, 1)
    assert duty_store.meet(first, T0 + 3 * DAY, registry, "email") is None  # met already
    assert duty_store.meet(second, T0 + DAY, registry) is None
    assert missed_counted() == (1, 1)
    assert duty_store.open_duties("clue-m", ("accept_notice", "transfer")) == []
    shown = {d["kind"]: d for d in duty_store.case_duties("case-m", T0 + 9 * DAY)}
    assert (shown["accept_notice"]["state"], shown["accept_notice"]["met_at"],
            shown["accept_notice"]["channel"]) == ("met", T0 + DAY, "sms")
    assert (shown["transfer"]["state"], shown["transfer"]["met_at"],
            shown["transfer"]["channel"]) == ("missed", T0 + 2 * DAY, None)
    assert duty_store.sweep_missed(T0 + 9 * DAY, registry) == 0  # met duties are not swept


def test_a_failed_notice_leaves_the_duty_open_with_its_reason(store, registry):
    duty_store.add(case("case-f"), [Duty("result_notice", "clue-f", T0, T0 + 15 * DAY)], T0)
    [duty] = duty_store.open_duties("clue-f", ("result_notice",))
    duty_store.fail(duty, T0 + timedelta(hours=1), "channel not available", "sms")
    [still] = duty_store.open_duties("clue-f", ("result_notice",))
    assert (still["state"], still["met_at"], still["failure"], still["failed_at"], still["channel"]) == (
        "due", None, "channel not available", T0 + timedelta(hours=1), "sms")
    assert duty_store.meet(still, T0 + 2 * DAY, registry) == "met"  # no channel named: kept
    duty_store.fail(still, T0 + 3 * DAY, "bounced", "email")  # met: a later failure changes nothing
    [shown] = duty_store.case_duties("case-f", T0 + 3 * DAY)
    assert (shown["state"], shown["failure"], shown["failed_at"], shown["channel"]) == (
        "met", "channel not available", T0 + timedelta(hours=1), "sms")


def test_the_sweep_turns_only_due_duties_past_due_and_once(store, registry):
    now = T0 + 2 * DAY
    duty_store.add(case("case-s"), [
        Duty("still_handling", "clue-1", T0, T0 + DAY),  # past due
        Duty("still_handling", "clue-2", T0, T0 + DAY + timedelta(hours=1)),  # past due
        Duty("still_handling", "clue-3", T0, now),  # due this very moment: not past
        Duty("still_handling", "clue-4", T0, T0 + 10 * DAY),  # not yet
        Duty("transfer", "clue-5", T0, T0 + DAY, met_at=T0),  # met in time
    ], T0)
    assert duty_store.sweep_missed(now, registry, batch=1) == 1
    assert duty_store.sweep_missed(now, registry) == 1
    assert duty_store.sweep_missed(now, registry) == 0
    assert missed_counted() == (2, 2)
    states = {c: [d["state"] for d in duty_store.open_duties(c, ("still_handling",))]
              for c in ("clue-1", "clue-2", "clue-3", "clue-4")}
    assert states == {"clue-1": ["missed"], "clue-2": ["missed"], "clue-3": ["due"], "clue-4": ["due"]}
    assert duty_store.open_duties("clue-5", ("transfer",)) == []
    # a late delivery still meets a swept duty: missed, and not counted again
    [swept] = duty_store.open_duties("clue-1", ("still_handling",))
    assert duty_store.meet(swept, now + DAY, registry) == "missed"
    assert missed_counted() == (2, 2)


def _six_cases() -> dict[str, str]:
    """A duty each: cases 1-4 in Shiwan (due, met, due but past due, met late), 5 in Zumiao and 6
    in Nanhai (due). Their ids by case."""
    ids = {}
    for n, (unit, due, met) in enumerate([
        (SHIWAN, T0 + 5 * DAY, None), (SHIWAN, T0 + DAY, T0), (SHIWAN, T0 - DAY, None),
        (SHIWAN, T0 - DAY, T0), (ZUMIAO, T0 + 5 * DAY, None), (NANHAI, T0 + 5 * DAY, None),
    ], start=1):
        duty = Duty("transfer", f"clue-{n}", T0 - 3 * DAY, due, met_at=met)
        duty_store.add(case(f"case-{n}", unit), [duty], T0 - 3 * DAY)
        ids[f"case-{n}"] = duty.key(f"case-{n}")
    return ids


def listed(page: dict) -> list[str]:
    return [d["case_id"] for d in page["items"]]


def test_the_list_filters_by_state_and_jurisdiction_newest_first(store, registry):
    _six_cases()
    everything = duty_store.list_duties(SHIWAN_BOSS, registry, T0)
    assert listed(everything) == ["case-4", "case-3", "case-2", "case-1"]
    by_state = {s: listed(duty_store.list_duties(SHIWAN_BOSS, registry, T0, state=s))
                for s in ("due", "missed", "met")}
    assert by_state == {"due": ["case-1"], "missed": ["case-4", "case-3"], "met": ["case-2"]}
    assert listed(duty_store.list_duties(CHANCHENG_BOSS, registry, T0, state="due")) == ["case-5", "case-1"]
    assert listed(duty_store.list_duties(
        CHANCHENG_BOSS, registry, T0, jurisdiction="foshan/chancheng/zumiao")) == ["case-5"]
    assert listed(duty_store.list_duties(ADMIN, registry, T0, state="due")) == ["case-6", "case-5", "case-1"]
    with pytest.raises(Forbidden):
        duty_store.list_duties(SHIWAN_BOSS, registry, T0, jurisdiction="foshan/nanhai")
    earlier = duty_store.list_duties(SHIWAN_BOSS, registry, T0 - 2 * DAY, state="due")
    assert listed(earlier) == ["case-3", "case-1"]  # before its due date, case 3's was due
    [shown] = duty_store.list_duties(SHIWAN_BOSS, registry, T0, state="due")["items"]
    assert (shown["state"], shown["due_at"], shown["unit_name"], shown["kind_label"]) == (
        "due", T0 + 5 * DAY, "石湾镇街道纪工委", "转办上级")


def test_the_list_pages_by_cursor(store, registry):
    ids = _six_cases()
    first = duty_store.list_duties(SHIWAN_BOSS, registry, T0, limit=3)
    assert (listed(first), first["next"]) == (["case-4", "case-3", "case-2"], ids["case-2"])
    rest = duty_store.list_duties(SHIWAN_BOSS, registry, T0, limit=3, cursor=first["next"])
    assert (listed(rest), rest["next"]) == (["case-1"], None)
    assert [d["case_id"] for d in store.newest(None, None, T0, None, 2)] == ["case-6", "case-5"]
    assert [d["case_id"] for d in store.newest([SHIWAN], "missed", T0, ids["case-4"], 5)] == ["case-3"]
    whole = duty_store.list_duties(SHIWAN_BOSS, registry, T0, limit=4)
    assert (len(whole["items"]), whole["next"]) == (4, None)  # exactly a page: no next
    # the missed ones come from two filters (stored missed; due and past due), paged as one list
    one = duty_store.list_duties(SHIWAN_BOSS, registry, T0, state="missed", limit=1)
    assert (listed(one), one["next"]) == (["case-4"], ids["case-4"])
    two = duty_store.list_duties(SHIWAN_BOSS, registry, T0, state="missed", limit=1, cursor=one["next"])
    assert (listed(two), two["next"]) == (["case-3"], None)


def test_counts_by_state_in_the_principals_jurisdiction(store, registry):
    _six_cases()
    counts = {s: duty_store.count(SHIWAN_BOSS, registry, T0, s) for s in ("due", "missed", "met")}
    assert counts == {"due": 1, "missed": 2, "met": 1}
    assert duty_store.count(CHANCHENG_BOSS, registry, T0, "due") == 2
    assert duty_store.count(ADMIN, registry, T0, "due") == 3
    assert duty_store.count(SHIWAN_BOSS, registry, T0 + 5 * DAY, "due") == 1  # due this very moment
    assert duty_store.count(SHIWAN_BOSS, registry, T0 + 5 * DAY + timedelta(milliseconds=1), "missed") == 3


def test_a_cases_duties_come_by_due_date(store):
    duty_store.add(case("case-o"), [
        Duty("still_handling", "clue-o", T0, T0 + 30 * DAY),
        Duty("transfer", "clue-p", T0, T0 + 5 * DAY),
        Duty("accept_notice", "clue-o", T0, T0 + 15 * DAY),
    ], T0)
    duty_store.add(case("case-other"), [Duty("transfer", "clue-q", T0, T0 + DAY)], T0)
    shown = duty_store.case_duties("case-o", T0)
    assert [(d["kind"], d["due_at"]) for d in shown] == [
        ("transfer", T0 + 5 * DAY), ("accept_notice", T0 + 15 * DAY), ("still_handling", T0 + 30 * DAY)]
    assert duty_store.case_duties("case-none", T0) == []
