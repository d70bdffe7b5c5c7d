"""Recommendations to bureaus (纪律检查建议 / 监察建议): rules in plain Python.

After its cases, a commission tells a bureau what to put right (查办一案、警示一片、规范一方):
a supervisor looks at the bureau's quarter (cases by category and outcome), issues a
recommendation with a deadline for the bureau's rectification report, and records the answer.
A recommendation is overdue from the day after its deadline (China time) until its answer is
recorded; an answer recorded late still closes it, and says it was late.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from shared.times import CHINA_TIME as CHINA

MAX_DAYS = 366  # a deadline further than a year away is a typo


def china_today(now: datetime) -> date:
    return now.astimezone(CHINA).date()


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """The quarter's start and end (exclusive) in China time."""
    start = datetime(year, 3 * (quarter - 1) + 1, 1, tzinfo=CHINA)
    end = datetime(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1, tzinfo=CHINA)
    return start, end


def deadline_problem(due_on: date, today: date) -> str | None:
    """Why a rectification deadline cannot be set (None: it can): not in the past, within a year."""
    if due_on < today:
        return "Must not be in the past."
    if due_on > today + timedelta(days=MAX_DAYS):
        return f"Must be within {MAX_DAYS} days."
    return None


def status(due_on: date, answered_on: date | None, today: date) -> str:
    """`answered`, `answered_late`, `overdue` (no answer after the deadline) or `open`."""
    if answered_on is not None:
        return "answered_late" if answered_on > due_on else "answered"
    return "overdue" if today > due_on else "open"


def bureau_quarter(cases: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per bureau (the subject's employer): cases, closed ones, by category, by outcome (a case
    with several outcomes counts once under each)."""
    rows: dict[str, dict[str, Any]] = {}
    for case in cases:
        bureau = case.get("subject_employer")
        if not bureau:
            continue
        row = rows.setdefault(
            bureau, {"cases": 0, "closed": 0, "by_category": Counter(), "by_outcome": Counter()}
        )
        row["cases"] += 1
        row["by_category"][case["category"]] += 1
        if case.get("status") == "closed":
            row["closed"] += 1
            row["by_outcome"].update(set(case.get("outcomes") or []))
    return {
        b: {**r, "by_category": dict(r["by_category"]), "by_outcome": dict(r["by_outcome"])}
        for b, r in sorted(rows.items())
    }
