from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.assignment.deadlines import (
    DeadlineRules,
    accept_notice_due,
    due_at,
    earlier,
    overdue_transition,
    result_notice_due,
    still_handling_due,
    transfer_due,
)


def at(day: int, hour: int = 10) -> datetime:
    """A time in April 2024; the 1st is a Monday, the 6th/7th a weekend."""
    return datetime(2024, 4, day, hour, tzinfo=UTC)


DUTY_DUES = [
    # the duty's due date is counted on China's calendar (清明 2024: 4-6 April off, 7 April on)
    ("acceptance notice: 15 working days", accept_notice_due, at(1), at(23)),
    ("transfer: 5 working days across 清明", transfer_due, at(3), at(11)),
    ("result notice: 15 working days", result_notice_due, at(1), at(23)),
    ("still handling: 30 calendar days and a day's grace", still_handling_due, at(1),
     at(1) + timedelta(days=31)),
]


@pytest.mark.parametrize("label,rule,start,expected", DUTY_DUES, ids=[d[0] for d in DUTY_DUES])
def test_duty_due_dates(label, rule, start, expected):
    assert rule(start, DeadlineRules()) == expected


def test_earlier_keeps_the_earlier_deadline():
    assert earlier(at(10), at(20)) == at(10)
    assert earlier(at(20), at(10)) == at(10)
    assert earlier(None, at(10)) == at(10)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        due_at(datetime(2024, 4, 1), "other", "observer")


CAMPAIGN = datetime(2024, 12, 31, 16, tzinfo=UTC)
BATCH = datetime(2024, 9, 30, 16, tzinfo=UTC)
RULES = DeadlineRules(category_days={"extortion": 30}, campaign_deadline=CAMPAIGN)

DUE = [
    ("default 90 days", at(1), "solicitation", "observer", DeadlineRules(), at(1) + timedelta(90)),
    ("category override", at(1), "extortion", "public_report", RULES, at(1) + timedelta(30)),
    ("other category keeps default", at(1), "other", "inspection", RULES, at(1) + timedelta(90)),
    ("review gets campaign deadline", at(1), "extortion", "review", RULES, CAMPAIGN),
    ("review in a batch gets the batch's deadline", at(1), "other", "review", RULES, BATCH),
    ("a batch deadline is for review clues only", at(1), "other", "observer", RULES, at(1) + timedelta(90)),
    (
        "review without campaign deadline",
        at(1),
        "other",
        "review",
        DeadlineRules(),
        at(1) + timedelta(90),
    ),
    (
        "other timezone in, UTC out",
        datetime(2024, 4, 1, 18, tzinfo=timezone(timedelta(hours=8))),
        "other",
        "observer",
        DeadlineRules(),
        datetime(2024, 6, 30, 10, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(
    "label,received,category,source,rules,expected", DUE, ids=[d[0] for d in DUE]
)
def test_due_at(label, received, category, source, rules, expected):
    result = due_at(received, category, source, rules, BATCH if "batch" in label else None)
    assert result == expected
    assert result.utcoffset() == timedelta(0)


def test_category_may_only_shorten_the_deadline():
    with pytest.raises(ValueError, match="solicitation"):
        DeadlineRules(category_days={"solicitation": 120})
    with pytest.raises(ValueError):
        DeadlineRules(category_days={"solicitation": 0})


def test_unknown_category_is_refused():
    with pytest.raises(ValueError, match="unknown category 'bribe'"):
        DeadlineRules(category_days={"bribe": 30})


DUE_AT = at(10)
OVERDUE = [
    # status, supervised_at, now, expected
    ("not yet due", "assigned", None, at(9), None),
    ("exactly at due", "assigned", None, DUE_AT, None),
    ("just past due", "assigned", None, DUE_AT + timedelta(seconds=1), "supervise"),
    ("queued past due", "queued", None, at(11), "supervise"),
    ("reopened past due", "reopened", None, at(11), "supervise"),
    ("closed past due", "closed", None, at(20), None),
    ("supervised, 14 days", "supervised", at(11), at(11) + timedelta(days=14), None),
    ("supervised, 15 days", "supervised", at(11), at(11) + timedelta(days=15), "escalate"),
    ("supervised, 16 days", "supervised", at(11), at(11) + timedelta(days=16), "escalate"),
    ("supervised then closed", "closed", at(11), at(11) + timedelta(days=20), None),
]


@pytest.mark.parametrize(
    "label,status,supervised_at,now,expected", OVERDUE, ids=[o[0] for o in OVERDUE]
)
def test_overdue_transition(label, status, supervised_at, now, expected):
    assert overdue_transition(status, DUE_AT, supervised_at, now, DeadlineRules()) == expected


def test_supervision_grace_is_configurable():
    rules = DeadlineRules(supervision_grace_days=5)
    assert overdue_transition("supervised", DUE_AT, at(11), at(16), rules) == "escalate"
    assert overdue_transition("supervised", DUE_AT, at(11), at(15), rules) is None
