"""Deadlines (办理时限, 限期处置): when a case is due, the due dates of the duties it carries, and
what to do once it is overdue.

Every date goes through China's working-day calendar (`shared.workdays`, Asia/Shanghai): close
days are calendar days counted there, notice and transfer limits are working days (holidays off,
make-up weekends on). All datetimes are timezone-aware; results are in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.vocabulary import CATEGORIES
from shared.workdays import DEFAULT, WorkCalendar

OPEN_STATUSES: frozenset[str] = frozenset({"queued", "assigned", "supervised", "reopened"})
STILL_HANDLING_GRACE_DAYS = 1


@dataclass(frozen=True)
class DeadlineRules:
    """Deadline settings (DOMAIN.md's defaults). `category_days` may only shorten the
    default and names known categories; review clues (回头看) get their batch's 限期处置 deadline,
    else `campaign_deadline` when it is set."""

    close_days: int = 90
    category_days: Mapping[str, int] = field(default_factory=dict)
    campaign_deadline: datetime | None = None
    supervision_grace_days: int = 15
    still_handling_days: int = 30
    accept_notice_working_days: int = 15
    transfer_working_days: int = 5
    result_notice_working_days: int = 15
    calendar: WorkCalendar = DEFAULT

    def __post_init__(self) -> None:
        for category, days in self.category_days.items():
            if category not in CATEGORIES:
                raise ValueError(f"unknown category {category!r}")
            if not 0 < days <= self.close_days:
                raise ValueError(
                    f"deadline for {category!r} must be 1..{self.close_days} days, got {days}"
                )
        if self.campaign_deadline is not None:
            _require_aware(self.campaign_deadline, "campaign_deadline")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def due_at(
    received_at: datetime,
    category: str,
    source: str,
    rules: DeadlineRules | None = None,
    batch_deadline: datetime | None = None,
) -> datetime:
    """When a case must be closed: for a review clue, its batch's 限期处置 deadline, else the
    campaign deadline (if set); otherwise `received_at` plus the category's days (default 90
    calendar days, counted in Shanghai). In UTC."""
    rules = rules or DeadlineRules()
    _require_aware(received_at, "received_at")
    if source == "review" and batch_deadline is not None:
        _require_aware(batch_deadline, "batch_deadline")
        return batch_deadline.astimezone(UTC)
    if source == "review" and rules.campaign_deadline is not None:
        return rules.campaign_deadline.astimezone(UTC)
    days = rules.category_days.get(category, rules.close_days)
    return rules.calendar.add_days(received_at, days)


def earlier(current: datetime | None, proposed: datetime) -> datetime:
    """The earlier of a case's current deadline and a rule's new one (a move never extends it)."""
    return proposed if current is None or proposed < current else current


# ---- the duties a case carries (DOMAIN.md, Deadlines) ------------------------------------------


def accept_notice_due(received_at: datetime, rules: DeadlineRules | None = None) -> datetime:
    """Tell a real-name reporter the clue was accepted: 15 working days from receipt."""
    rules = rules or DeadlineRules()
    return rules.calendar.add_working_days(received_at, rules.accept_notice_working_days)


def transfer_due(since: datetime, rules: DeadlineRules | None = None) -> datetime:
    """A clue that belongs to another level goes there: 5 working days."""
    rules = rules or DeadlineRules()
    return rules.calendar.add_working_days(since, rules.transfer_working_days)


def result_notice_due(closed_at: datetime, rules: DeadlineRules | None = None) -> datetime:
    """Tell the reporter the result: 15 working days from closing."""
    rules = rules or DeadlineRules()
    return rules.calendar.add_working_days(closed_at, rules.result_notice_working_days)


def still_handling_due(last_heard: datetime, rules: DeadlineRules | None = None) -> datetime:
    """A reporter who heard nothing since `last_heard` is owed a note once `still_handling_days`
    have passed; the duty allows one more day, since notify looks for quiet clues periodically
    (hourly by default) and its quiet period starts at its last message, seconds after ours."""
    rules = rules or DeadlineRules()
    return rules.calendar.add_days(last_heard, rules.still_handling_days + STILL_HANDLING_GRACE_DAYS)


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
        if now >= rules.calendar.add_days(supervised_at, rules.supervision_grace_days):
            return "escalate"
        return None
    if now > due_at:
        return "supervise"
    return None
