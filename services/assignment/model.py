"""The case (案件) aggregate: its transitions, the events they cause, the errors they raise.

Plain Python over the case as the store gives it (a dict, its times datetimes): no storage, no
HTTP, no broker. A transition
checks the case may take it, then returns a `Transition` (the fields to set, the events to
stage in the case's outbox, the audit lines to append); the handler saves it in one
conditional write. Slots are claimed by the handler before (see workload.py): a transition is
told which cadre and lead cadre the case gets, never chooses them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.times import to_nearest_ms

from .case_events import assigned_event, closed_event, escalated_event
from .errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from .escalation import sort_reasons

OPEN_STATUSES = ("queued", "assigned", "supervised", "reopened")
ALLEGATION_FIELDS = (
    "summary",
    "details",
    "occurred_on",
    "category",
    "source",
    "subject",
    "amount_cny",
    "collusion",
    "received_at",
)
SUBJECT_FIELDS = ("name", "position", "employer", "rank")
RANK_ORDER = ("staff", "village", "section", "division", "bureau")


class CaseError(DomainError):
    """A command the case cannot take; `field` names the input at fault, if one is. A plain
    CaseError is a conflict with the case's state."""


class CaseNotFound(CaseError, NotFound):
    """No such case, or one the person may not know exists (a conflict case, another area)."""


class CaseForbidden(CaseError, Forbidden):
    """The person sees the case but may not do this to it."""


class CaseClosed(CaseError, Conflict):
    """The case is closed."""


class NotInTriage(CaseError, Conflict):
    """Only a case waiting in triage can be routed."""


class InTriage(CaseError, Conflict):
    """A case in triage must be routed before it can move."""


class UnknownUnit(CaseError, Invalid):
    field = "unit"


class BadDeadline(CaseError, Invalid):
    field = "due_at"


class CaseBusy(CaseError, Conflict):
    """The case kept changing under the command; trying again may work."""


@dataclass
class Transition:
    """What a transition does: fields to set and unset, events to stage, audit lines to append
    (`(action, details)`, the actor is the handler's)."""

    changes: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    audit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    unset: tuple[str, ...] = ()


def clue_record(data: dict[str, Any]) -> dict[str, Any]:
    """What assignment keeps of one clue (its allegation), from clue-received's data: never the
    reporter's reference or contact."""
    subject = data.get("subject") or {}
    occurred = data.get("occurred_on")
    return {
        "clue_id": data["clue_id"],
        "summary": data.get("summary"),
        "details": data.get("details"),
        "occurred_on": occurred.isoformat() if hasattr(occurred, "isoformat") else occurred,
        "category": data.get("category"),
        "source": data.get("source"),
        "subject": {k: subject.get(k) for k in SUBJECT_FIELDS},
        "amount_cny": data.get("amount_cny"),
        "collusion": bool(data.get("collusion")),
        "received_at": data.get("received_at"),
    }


def higher_rank(a: str | None, b: str | None) -> str | None:
    """The higher of two ranks (unknown ranks never win)."""
    known = [r for r in (a, b) if r in RANK_ORDER]
    return max(known, key=RANK_ORDER.index) if known else (a or b)


# ---- the aggregate -----------------------------------------------------------------------------


class Case:
    """One case as stored; transitions return what changes, never write."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    @property
    def id(self) -> str:
        return self.doc["_id"]

    @property
    def unit(self) -> str:
        return self.doc["unit"]

    @property
    def is_open(self) -> bool:
        return self.doc["status"] in OPEN_STATUSES

    @property
    def in_triage(self) -> bool:
        return bool(self.doc.get("triage_reason"))

    @property
    def clue_ids(self) -> list[str]:
        return [self.doc["clue_id"], *(self.doc.get("linked_clue_ids") or [])]

    @property
    def amount_total(self) -> int | None:
        """Money of all the case's clues added up (积少成多); None when no clue names any."""
        total = self.doc.get("amount_total_cny")
        return self.doc.get("amount_cny") if total is None else total

    @property
    def due_at(self) -> datetime:
        return self.doc["due_at"]

    def _require_open(self) -> None:
        if not self.is_open:
            raise CaseClosed("the case is closed")

    def _each_clue(self, make) -> list[dict[str, Any]]:
        return [make(c) for c in self.clue_ids]

    def _deadline(self, due: datetime | None, why: str) -> tuple[dict[str, Any], list]:
        """The change and audit line of a new deadline (none when it does not change)."""
        if due is None or to_nearest_ms(due) == self.doc.get("due_at"):
            return {}, []
        line = ("deadline_changed", {"from": self.doc.get("due_at"), "to": due, "why": why})
        return {"due_at": to_nearest_ms(due)}, [line]

    def route(
        self,
        routed_unit: str,
        unit: str,
        cadre: str | None,
        lead: str | None,
        serious: bool,
        reasons: tuple[str, ...],
        now: datetime,
        note: str | None = None,
    ) -> Transition:
        """A person routes a triage case to `routed_unit`; the escalation rules may have sent it
        on to `unit` (with `reasons`). Accepted now, assigned to `cadre` or queued."""
        self._require_open()
        if not self.in_triage:
            raise NotInTriage("the case is not in triage")
        changes = {
            "routed_unit": routed_unit,
            "route_mode": "manual",
            "triage_reason": None,
            "unit": unit,
            "cadre_id": cadre,
            "lead_cadre_id": lead,
            "holds_slot": cadre is not None,
            "holds_lead": lead is not None,
            "serious": serious,
            "status": "assigned" if cadre else "queued",
            "accepted_at": to_nearest_ms(now),
            "assigned_at": to_nearest_ms(now) if cadre else None,
            "escalation_reasons": list(reasons),
        }
        new = {**self.doc, **changes}
        envelopes = []
        for c in self.clue_ids:
            if reasons:
                envelopes.append(
                    escalated_event(new, c, routed_unit, unit, "direct_investigation", reasons, now)
                )
            envelopes.append(assigned_event(new, c, now))
        audit = [
            ("routed", {"from_unit": self.unit, "to_unit": routed_unit, **({"note": note} if note else {})})
        ]
        audit.append(
            ("assigned" if cadre else "queued", {"unit": unit, "cadre_id": cadre, "lead_cadre_id": lead})
        )
        return Transition(changes, envelopes, audit)

    def escalate_to(
        self,
        to_unit: str,
        reasons: tuple[str, ...],
        mode: str,
        cadre: str | None,
        lead: str | None,
        due: datetime,
        now: datetime,
    ) -> Transition:
        """Move the case up to `to_unit` for direct investigation (提级直查)."""
        self._require_open()
        if self.in_triage:
            raise InTriage("the case waits in triage; route it first")
        deadline, deadline_audit = self._deadline(due, "escalated")
        merged = _merge(self.doc.get("escalation_reasons"), reasons)
        changes = {
            "unit": to_unit,
            "cadre_id": cadre,
            "lead_cadre_id": lead,
            "holds_slot": cadre is not None,
            "holds_lead": lead is not None,
            "serious": True,
            "status": ("reopened" if self.doc.get("review") else "assigned") if cadre else "queued",
            "assigned_at": to_nearest_ms(now) if cadre else None,
            "supervised_at": None,
            "watched_by": None,
            "escalation_reasons": merged,
            **deadline,
        }
        new = {**self.doc, **changes}
        envelopes = []
        for c in self.clue_ids:
            envelopes.append(escalated_event(self.doc, c, self.unit, to_unit, mode, reasons, now))
            envelopes.append(assigned_event(new, c, now))
        audit = [*deadline_audit]
        audit.append(
            ("assigned" if cadre else "queued", {"unit": to_unit, "cadre_id": cadre, "lead_cadre_id": lead})
        )
        return Transition(changes, envelopes, audit)

    def supervise(
        self,
        watcher: str,
        reasons: tuple[str, ...],
        now: datetime,
        due: datetime | None = None,
        overdue: bool = False,
        shorten_only: bool = False,
    ) -> Transition:
        """The level above watches the case (重点督办) without taking it over. `due` a new
        deadline (`shorten_only`: it may only come earlier); `overdue` starts the grace period."""
        self._require_open()
        if shorten_only and due is not None and due >= self.due_at:
            raise BadDeadline("a supervision deadline may only be earlier than the case's")
        deadline, deadline_audit = self._deadline(due, "supervised")
        changes = {
            "watched_by": watcher,
            "escalation_reasons": _merge(self.doc.get("escalation_reasons"), reasons),
            "supervised_at": to_nearest_ms(now) if overdue else None,
            **deadline,
        }
        if self.doc["status"] not in ("queued", "reopened"):
            changes["status"] = "supervised"
        envelopes = self._each_clue(
            lambda c: escalated_event(self.doc, c, self.unit, watcher, "supervised", reasons, now)
        )
        return Transition(changes, envelopes, deadline_audit)

    def close(
        self, closer: str, disposition: str, outcomes: list[str], reporter_summary: str, now: datetime
    ) -> Transition:
        """Its cadre or lead cadre closes the case (办结)."""
        if closer not in {self.doc.get("cadre_id"), self.doc.get("lead_cadre_id")} - {None}:
            raise CaseForbidden("only the case's cadre or lead cadre may close it")
        if not self.is_open:
            raise CaseClosed("the case is already closed")
        changes = {
            "status": "closed",
            "closed_at": to_nearest_ms(now),
            "closed_by": closer,
            "disposition": disposition,
            "outcomes": list(outcomes),
            "reporter_summary": reporter_summary,
            "holds_slot": False,
            "holds_lead": False,
            "review": False,
        }
        new = {**self.doc, **changes}
        return Transition(
            changes,
            self._each_clue(lambda c: closed_event(new, c, now)),
            [("closed", {"disposition": disposition, "outcomes": list(outcomes)})],
            unset=("open_key",),
        )

    def reviewers_excluded(self) -> set[str]:
        """Who may not review the case after an objection: whoever closed it."""
        return {c for c in (self.doc.get("closed_by") or self.doc.get("cadre_id"),) if c}

    def reopen(
        self, cadre: str | None, lead: str | None, due: datetime, now: datetime, clue_id: str
    ) -> Transition:
        """An objection reopens a closed case for review (复查) by another cadre of its unit, the
        unit's leader as lead cadre, with a new deadline."""
        if self.is_open:
            raise CaseError("the case is open")
        if cadre is not None and cadre in self.reviewers_excluded():
            raise CaseError("the cadre who closed the case may not review it")
        deadline, deadline_audit = self._deadline(due, "reopened")
        changes = {
            "status": "reopened" if cadre else "queued",
            "review": True,
            "reopened_at": to_nearest_ms(now),
            "cadre_id": cadre,
            "lead_cadre_id": lead,
            "holds_slot": cadre is not None,
            "holds_lead": lead is not None,
            "assigned_at": to_nearest_ms(now) if cadre else None,
            "supervised_at": None,
            "watched_by": None,
            **deadline,
        }
        new = {**self.doc, **changes}
        audit = [
            (
                "reopened",
                {"clue_id": clue_id, "reason": "objection", "cadre_id": cadre, "lead_cadre_id": lead},
            ),
            *deadline_audit,
        ]
        return Transition(changes, self._each_clue(lambda c: assigned_event(new, c, now)), audit)

    def link_clue(self, clue: dict[str, Any], now: datetime) -> Transition:
        """A repeat clue about the same subject and category joins the open case; its amount adds
        up and its rank and collusion count for the escalation rules."""
        self._require_open()
        amounts = [a for a in (self.amount_total, clue.get("amount_cny")) if a is not None]
        rank = (clue.get("subject") or {}).get("rank")
        changes = {
            "linked_clue_ids": [*(self.doc.get("linked_clue_ids") or []), clue["clue_id"]],
            "clue_times": [*(self.doc.get("clue_times") or []), clue["received_at"]],
            "amount_total_cny": sum(amounts) if amounts else None,
            "any_collusion": bool(self.doc.get("any_collusion") or self.doc.get("collusion"))
            or bool(clue.get("collusion")),
            "top_rank": higher_rank(self.doc.get("top_rank") or self.doc.get("subject_rank"), rank),
        }
        event = assigned_event(self.doc, clue["clue_id"], now)
        return Transition(changes, [event])


def _merge(before: Iterable[str] | None, added: Iterable[str]) -> list[str]:
    return list(sort_reasons([*(before or []), *added]))
