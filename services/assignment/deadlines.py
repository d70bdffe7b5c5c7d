"""Deadlines (办理时限, 限期处置): when a case is due, and what to do once it is overdue.

All datetimes are timezone-aware; results are in UTC. Working days skip Saturdays and Sundays
(public holidays are not modelled).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

OPEN_STATUSES: frozenset[str] = frozenset({"queued", "assigned", "supervised", "reopened"})


@dataclass(frozen=True)
class DeadlineRules:
    """Deadline settings (DOMAIN.md's defaults). `category_days` may only shorten the
    default; review clues (回头看) get `campaign_deadline` when it is set."""

    close_days: int = 90
    category_days: Mapping[str, int] = field(default_factory=dict)
    campaign_deadline: datetime | None = None
    supervision_grace_days: int = 15
    still_handling_days: int = 30
    accept_notice_working_days: int = 15
    transfer_working_days: int = 5
    result_notice_working_days: int = 15

    def __post_init__(self) -> None:
        for category, days in self.category_days.items():
            if not 0 < days <= self.close_days:
                raise ValueError(
                    f"deadline for {category!r} must be 1..{self.close_days} days, got {days}"
                )
        if self.campaign_deadline is not None:
            _require_aware(self.campaign_deadline, "campaign_deadline")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def add_working_days(start: datetime, n: int, tz: tzinfo = UTC) -> datetime:
    """`start` moved forward by `n` working days (Mon-Fri as seen in `tz`), same time of day.

    Counting starts the day after `start`, so Friday + 1 is Monday and Saturday + 1 is Monday;
    n = 0 returns `start`. Returned in UTC.
    """
    _require_aware(start, "start")
    if n < 0:
        raise ValueError("n must be >= 0")
    local = start.astimezone(tz)
    while n > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            n -= 1
    return local.astimezone(UTC)


def due_at(
    received_at: datetime, category: str, source: str, rules: DeadlineRules | None = None
) -> datetime:
    """When a case must be closed: the campaign deadline for a review clue (if set), else
    `received_at` plus the category's days (default 90 calendar days). In UTC."""
    rules = rules or DeadlineRules()
    _require_aware(received_at, "received_at")
    if source == "review" and rules.campaign_deadline is not None:
        return rules.campaign_deadline.astimezone(UTC)
    days = rules.category_days.get(category, rules.close_days)
    return (received_at + timedelta(days=days)).astimezone(UTC)


def overdue_transition(
    case_status: str,
    due_at: datetime,
    supervised_at: datetime | None,
    now: datetime,
    rules: DeadlineRules | None = None,
) -> str | None:
    """What an open case needs now: `supervise` once strictly past `due_at` (if not yet
    supervised for being overdue), `escalate` when `supervision_grace_days` have passed since
    `supervised_at` (the start of overdue supervision) and it is still open, else None.
    Closed cases need nothing."""
    rules = rules or DeadlineRules()
    for value, name in ((due_at, "due_at"), (now, "now")):
        _require_aware(value, name)
    if case_status not in OPEN_STATUSES:
        return None
    if supervised_at is not None:
        _require_aware(supervised_at, "supervised_at")
        if now - supervised_at >= timedelta(days=rules.supervision_grace_days):
            return "escalate"
        return None
    if now > due_at:
        return "supervise"
    return None


def needs_still_handling_note(last_update_at: datetime, now: datetime, days: int = 30) -> bool:
    """True if the reporter has heard nothing for `days` days (30 by default) or more."""
    _require_aware(last_update_at, "last_update_at")
    _require_aware(now, "now")
    return now - last_update_at >= timedelta(days=days)
