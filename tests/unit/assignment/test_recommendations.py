"""Recommendations to bureaus: rules (recommendations.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.assignment import recommendations as rules

TODAY = date(2026, 12, 3)
DEADLINES = [
    ("today", TODAY, None),
    ("yesterday", TODAY - timedelta(days=1), "Must not be in the past."),
    ("a year away", TODAY + timedelta(days=rules.MAX_DAYS), None),
    (
        "more than a year away",
        TODAY + timedelta(days=rules.MAX_DAYS + 1),
        f"Must be within {rules.MAX_DAYS} days.",
    ),
]


@pytest.mark.parametrize("label, due, problem", DEADLINES, ids=[d[0] for d in DEADLINES])
def test_deadline_problem(label, due, problem):
    assert rules.deadline_problem(due, TODAY) == problem


DUE = date(2026, 12, 31)
STATUSES = [
    ("before the deadline", None, DUE - timedelta(days=1), "open"),
    ("on the deadline day", None, DUE, "open"),
    ("the day after", None, DUE + timedelta(days=1), "overdue"),
    ("answered in time", DUE, DUE + timedelta(days=30), "answered"),
    ("answered early", DUE - timedelta(days=20), DUE, "answered"),
    ("answered late", DUE + timedelta(days=1), DUE + timedelta(days=2), "answered_late"),
]


@pytest.mark.parametrize("label, answered, today, expected", STATUSES, ids=[s[0] for s in STATUSES])
def test_status(label, answered, today, expected):
    assert rules.status(DUE, answered, today) == expected


def test_china_today_turns_at_midnight_china_time():
    assert rules.china_today(datetime(2026, 12, 3, 15, 59, tzinfo=UTC)) == date(2026, 12, 3)
    assert rules.china_today(datetime(2026, 12, 3, 16, 0, tzinfo=UTC)) == date(2026, 12, 4)


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2026, 1, 1), (2026, 1)),
        (date(2026, 3, 31), (2026, 1)),
        (date(2026, 4, 1), (2026, 2)),
        (date(2026, 12, 31), (2026, 4)),
    ],
)
def test_quarter_of(day, expected):
    assert rules.quarter_of(day) == expected


def test_quarter_bounds_wrap_the_year():
    start, end = rules.quarter_bounds(2026, 4)
    assert (start.month, end.year, end.month) == (10, 2027, 1)


def test_bureau_quarter_counts_categories_and_outcomes():
    cases = [
        {
            "subject_employer": "um",
            "category": "solicitation",
            "status": "closed",
            "outcomes": ["admonition_talk", "restitution", "reassigned"],
        },
        {"subject_employer": "um", "category": "solicitation", "status": "assigned", "outcomes": []},
        {
            "subject_employer": "um",
            "category": "tip_off",
            "status": "closed",
            "outcomes": ["reminder_talk"] * 2,
        },
        {"subject_employer": "ms", "category": "other", "status": "queued"},
        {"subject_employer": None, "category": "other", "status": "queued"},
    ]
    rows = rules.bureau_quarter(cases)
    assert list(rows) == ["ms", "um"]
    assert rows["um"] == {
        "cases": 3,
        "closed": 2,
        "by_category": {"solicitation": 2, "tip_off": 1},
        "by_outcome": {"admonition_talk": 1, "restitution": 1, "reassigned": 1, "reminder_talk": 1},
    }
    assert rows["ms"]["cases"] == 1 and rows["ms"]["by_outcome"] == {}
