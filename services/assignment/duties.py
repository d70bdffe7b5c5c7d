"""Duties (DOMAIN.md, Deadlines): what a case owes, by when, and when it counts as met or missed.

A case carries, per clue:
- `accept_notice` (受理告知): a real-name reporter is told the clue was accepted, within 15
  working days of receipt;
- `transfer` (转办): a clue that belongs to another level goes there within 5 working days (one
  waiting in triage until it is routed; an escalation moves it at once and records the move);
- `result_notice` (结果反馈): the reporter is told the result within 15 working days of closing;
- `still_handling` (办理中告知): a real-name reporter who heard nothing for STILL_HANDLING_DAYS
  gets a note; once told anything, the next quiet period starts.

A duty is met when its event is written (a move) or its notification is delivered (notify's
clue-notified event); met after its due date, or not met by then, it is missed. A failed
notification leaves the duty open, with the failure shown. Plain Python: no storage here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .deadlines import (
    DeadlineRules,
    accept_notice_due,
    result_notice_due,
    still_handling_due,
    transfer_due,
)

KINDS = ("accept_notice", "transfer", "result_notice", "still_handling")
LABELS = {
    "accept_notice": "受理告知",
    "transfer": "转办上级",
    "result_notice": "结果反馈",
    "still_handling": "办理中告知",
}
STATES = ("due", "missed", "met")
STATE_LABELS = {"due": "待履行", "missed": "已逾期", "met": "已履行"}

# Which delivered notification (notify's kinds) meets which duties of its clue.
MET_BY = {
    "accepted": ("accept_notice",),
    "still_handling": ("still_handling",),
    "reviewing": ("still_handling",),  # a reopened case under review (复查)
    "transferred": ("still_handling",),
    "supervised": ("still_handling",),
    "closed": ("result_notice", "still_handling"),
}


@dataclass(frozen=True)
class Duty:
    """One duty of one clue: `start` is when its clock started (it names the duty)."""

    kind: str
    clue_id: str
    start: datetime
    due_at: datetime
    met_at: datetime | None = None

    def key(self, case_id: str) -> str:
        """A stable id: the same duty decided twice (a redelivered event) is stored once."""
        return f"{case_id}:{self.clue_id}:{self.kind}:{int(self.start.timestamp() * 1000)}"


def opening(
    clue_id: str, received_at: datetime, real_name: bool, triage: bool, rules: DeadlineRules
) -> list[Duty]:
    """The duties a clue brings when it opens or joins a case."""
    out: list[Duty] = []
    if real_name:
        out.append(Duty("accept_notice", clue_id, received_at, accept_notice_due(received_at, rules)))
        out.append(Duty("still_handling", clue_id, received_at, still_handling_due(received_at, rules)))
    if triage:
        out.append(Duty("transfer", clue_id, received_at, transfer_due(received_at, rules)))
    return out


def moved(clue_ids: list[str], at: datetime, rules: DeadlineRules) -> list[Duty]:
    """An escalation moves the clues at once: their transfer duties, met by the move itself."""
    return [Duty("transfer", c, at, transfer_due(at, rules), met_at=at) for c in clue_ids]


def closing(clue_ids: list[str], closed_at: datetime, rules: DeadlineRules) -> list[Duty]:
    """Closing owes every clue's reporter the result."""
    return [Duty("result_notice", c, closed_at, result_notice_due(closed_at, rules)) for c in clue_ids]


def next_quiet_period(clue_id: str, heard_at: datetime, rules: DeadlineRules) -> Duty:
    """Told something, the reporter's next quiet period starts: a new still-handling duty."""
    return Duty("still_handling", clue_id, heard_at, still_handling_due(heard_at, rules))


def state_when_met(due_at: datetime, met_at: datetime) -> str:
    """Met on or before its due date: met; later: missed (it stays counted as missed)."""
    return "met" if met_at <= due_at else "missed"


def state_now(stored: str, due_at: datetime, now: datetime) -> str:
    """The state to show: an open duty past its due date is missed even before the sweep marks it."""
    if stored == "due" and now > due_at:
        return "missed"
    return stored


def duties_met_by(notification_kind: str) -> tuple[str, ...]:
    return MET_BY.get(notification_kind, ())
