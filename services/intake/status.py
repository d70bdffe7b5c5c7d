"""The reporter-facing status of a clue, moved by the events intake sees (plain Python).

Statuses (API.md): received 已收到 -> accepted 已受理 -> transferred 已转上级办理 -> closed 已办结.
A clue waiting in triage (its case-assigned carries a `reason`) stays received, with a line
saying it is being routed.
Status only moves forward, so a late or re-delivered event never undoes a later one; the one
way back is an objection to a closed case, which reopens it (closed -> accepted).

Updates are reporter-safe: fixed texts, never a unit, a cadre, a disposition or anything else
from the event, except the case-closed event's `reporter_summary`, written for the reporter.
"""

from typing import Any, NamedTuple

from shared.i18n import N_, gettext_in

RECEIVED = "received"
ACCEPTED = "accepted"
TRANSFERRED = "transferred"
CLOSED = "closed"
STATUSES: tuple[str, ...] = (RECEIVED, ACCEPTED, TRANSFERRED, CLOSED)
INITIAL_STATUS = RECEIVED
_ORDER = {status: index for index, status in enumerate(STATUSES)}

# Topic names and CloudEvents types (API.md, Events) are both accepted as event_type.
EVENT_TYPES: dict[str, str] = {
    "campaign.clue.received.v1": "clue-received",
    "campaign.case.assigned.v1": "case-assigned",
    "campaign.case.escalated.v1": "case-escalated",
    "campaign.case.closed.v1": "case-closed",
    "campaign.clue.followed_up.v1": "clue-followed-up",
}


class Update(NamedTuple):
    """One line of the reporter's timeline, in Chinese and English (both are stored with it)."""

    zh: str
    en: str

    @property
    def text(self) -> str:
        """Both languages on one line, Chinese first."""
        return f"{self.zh} / {self.en}"


def _update(chinese: str) -> Update:
    """The timeline line of a Chinese text marked for the catalog, with its English from it."""
    return Update(chinese, gettext_in("en", chinese))


RECEIVED_UPDATE = _update(N_("我们已收到您反映的问题线索。"))
ACCEPTED_UPDATE = _update(N_("您反映的问题线索已受理，正在办理中。"))
TRANSFERRED_UPDATE = _update(N_("您反映的问题线索已转上级纪检监察机关办理。"))
CLOSED_UPDATE = _update(N_("您反映的问题线索已办结。"))
REOPENED_UPDATE = _update(N_("我们已收到您对办理结果的异议，办理结果正在复查。"))
ROUTING_UPDATE = _update(N_("您反映的问题线索正在分办，确定承办单位后即予受理。"))
OBJECTION_UPDATE = _update(N_("我们已收到您的异议，已转交办理。"))
MESSAGE_UPDATE = _update(N_("我们已收到您补充的信息，已转交办理。"))


def _closed_update(data: dict[str, Any]) -> Update:
    summary = data.get("reporter_summary")
    if not isinstance(summary, str) or not summary.strip():
        return CLOSED_UPDATE
    summary = summary.strip()
    with_result = N_("{update}办理结果：{summary}")
    return Update(with_result.format(update=CLOSED_UPDATE.zh, summary=summary),
                  gettext_in("en", with_result).format(update=CLOSED_UPDATE.en, summary=summary))


def _target(status: str, event: str, data: dict[str, Any]) -> tuple[str, Update] | None:
    """Where an event would take the clue, before the forward-only rule."""
    if event == "case-assigned":
        if data.get("reason"):  # waiting in triage for a person to route it: not accepted yet
            return (RECEIVED, ROUTING_UPDATE) if status == RECEIVED else None
        return ACCEPTED, ACCEPTED_UPDATE
    if event == "case-escalated" and data.get("mode") == "direct_investigation":
        return TRANSFERRED, TRANSFERRED_UPDATE
    if event == "case-closed":
        return CLOSED, _closed_update(data)
    return None


def apply(status: str, event_type: str, data: dict[str, Any]) -> tuple[str, Update | None]:
    """The clue's status after `event_type` (topic name or CloudEvents type) with `data`.

    Returns (new_status, update), update None when the reporter has nothing new to read.
    A move backwards leaves the status unchanged with no update; a follow-up adds an update
    (reopening a closed case when it is an objection); supervision (mode `supervised`), the
    clue's own clue-received and unknown event types change nothing.
    Raises ValueError for an unknown status.
    """
    if status not in _ORDER:
        raise ValueError(f"unknown clue status: {status!r}")
    event = EVENT_TYPES.get(event_type, event_type)
    if event == "clue-followed-up":
        if data.get("objection") is True:
            if status == CLOSED:
                return ACCEPTED, REOPENED_UPDATE
            return status, OBJECTION_UPDATE
        return status, MESSAGE_UPDATE
    target = _target(status, event, data)
    if target == (RECEIVED, ROUTING_UPDATE):
        return target
    if target is None or _ORDER[target[0]] <= _ORDER[status]:
        return status, None
    return target


STILL_HANDLING_AFTER_DAYS = 30
STILL_HANDLING_UPDATE = _update(N_("您反映的问题线索仍在办理中，感谢您的耐心等待。"))


def still_handling(status: str, days_since_last_update: float,
                   after_days: int = STILL_HANDLING_AFTER_DAYS) -> Update | None:
    """The "still being handled" note for a clue not closed whose last update is 30+ days old."""
    if status != CLOSED and days_since_last_update >= after_days:
        return STILL_HANDLING_UPDATE
    return None
