"""A new case decided from its first clue and shaped as stored: where it goes (routing), whether
it moves up (escalation) and gets a lead cadre, its deadline, what its clue says, its events and
opening audit lines. No storage touched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.outbox import pending as outbox_fields
from shared.times import to_nearest_ms

from . import deadlines, escalation, store, tracking
from .case_events import assigned_event, escalated_event
from .context import SYSTEM, Context, open_key
from .escalation import Subject
from .model import clue_record
from .routing import Route, is_serious, route


@dataclass(frozen=True)
class NewCase:
    """A case decided from its first clue, not stored yet: where it goes and why."""

    data: dict[str, Any]
    subject: Subject
    key: str
    where: Route
    decision: escalation.Escalation | None
    serious: bool
    bad_rank: str | None
    now: datetime

    @property
    def unit(self) -> str:
        return self.decision.to_unit if self.decision else self.where.unit

    @property
    def triage(self) -> bool:
        return self.where.mode == "triage"


def decide_case(
    data: dict[str, Any],
    subject: Subject,
    key: str,
    repeat_count: int,
    ctx: Context,
    bad_rank: str | None = None,
) -> NewCase:
    """Route the clue and decide escalation and seriousness (no storage touched)."""
    registry = ctx.registry()
    where = route(data["jurisdiction"], subject.employer, registry)
    decision = (
        None
        if where.mode == "triage"
        else escalation.decide(
            where.unit,
            subject,
            data.get("amount_cny"),
            bool(data.get("collusion")),
            repeat_count,
            registry,
            ctx.rules,
        )
    )
    serious = where.mode != "triage" and (
        is_serious(
            decision.reasons if decision else [],
            data.get("amount_cny"),
            data["category"],
            bool(data.get("collusion")),
            ctx.serious,
        )
        or review_kind(data) == "review"  # 复查 gets a lead cadre, as a reopened case does
    )
    return NewCase(data, subject, key, where, decision, serious, bad_rank, ctx.clock())


def case_document(
    new: NewCase, case_id: str, cadre: str | None, lead: str | None, ctx: Context
) -> dict[str, Any]:
    """The new case as stored, its events staged in its outbox."""
    data, subject, where, decision, now = new.data, new.subject, new.where, new.decision, new.now
    clue_id = data["clue_id"]
    supervised = decision is not None and decision.mode == "supervised"
    received: datetime = tracking.received_at(data)  # an imported old clue's original date
    reasons = list(decision.reasons) if decision else []
    doc: dict[str, Any] = {
        "_id": case_id,
        "clue_id": clue_id,
        "linked_clue_ids": [],
        "clue_times": [received],
        "received_at": received,
        "source": data["source"],
        "category": data["category"],
        "jurisdiction": data["jurisdiction"],
        "subject_name": subject.name,
        "subject_key": new.key,
        "open_key": open_key(new.key, data["category"]),
        "subject_employer": subject.employer,
        "subject_rank": subject.rank,
        "subject_position": (data["subject"].get("position") or None),
        "amount_cny": data.get("amount_cny"),
        "collusion": bool(data.get("collusion")),
        **_totals(data, subject),
        "routed_unit": where.unit,
        "route_mode": where.mode,
        "triage_reason": where.reason,
        "unit": new.unit,
        "cadre_id": cadre,
        "lead_cadre_id": lead,
        "holds_slot": cadre is not None,
        "holds_lead": lead is not None,
        "serious": new.serious,
        "status": "queued" if cadre is None else ("supervised" if supervised else "assigned"),
        "due_at": to_nearest_ms(_due(data, received, ctx)),
        "accepted_at": None if new.triage else to_nearest_ms(now),
        "assigned_at": to_nearest_ms(now) if cadre else None,
        "supervised_at": None,
        "watched_by": new.unit if supervised else None,
        "escalation_reasons": reasons,
        "closed_at": None,
        "disposition": None,
        "outcomes": [],
        "reporter_summary": None,
        "reopened_at": None,
        **_review_fields(data),
        "allegation": clue_record(data),
        "created_at": now,
        "outbox_version": 0,
    }
    envelopes = []
    if decision is not None:
        envelopes.append(escalated_event(doc, clue_id, where.unit, new.unit, decision.mode, reasons, now))
    envelopes.append(assigned_event(doc, clue_id, now))
    doc.update(outbox_fields(*envelopes))
    doc["opening_audit"] = opening_audit(doc, new.bad_rank)
    return doc


def _due(data: dict[str, Any], received: datetime, ctx: Context) -> datetime:
    """When the new case must be closed (a review clue: its batch's 限期处置 deadline)."""
    batch_due = (data.get("batch") or {}).get("deadline")
    return deadlines.due_at(received, data["category"], data["source"], ctx.deadlines, batch_due)


def review_kind(data: dict[str, Any]) -> str:
    """An imported old clue whose prior disposition was "handled" opens a review case (复查)."""
    return "review" if data.get("prior_disposition") == "handled" else "new"


def _review_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The review (大起底/回头看): batch, original unit, prior disposition, file number."""
    return {
        "kind": review_kind(data),
        "batch_id": (data.get("batch") or {}).get("id"),
        "original_unit": data.get("original_unit"),
        "prior_disposition": data.get("prior_disposition"),
        "file_number": data.get("file_number"),
        "imported_at": data["received_at"] if data.get("original_received_at") else None,
    }


def _totals(data: dict[str, Any], subject: Subject) -> dict[str, Any]:
    """What the case's clues add up to (linking adds to it), and its review state."""
    return {
        "amount_total_cny": data.get("amount_cny"),
        "any_collusion": bool(data.get("collusion")),
        "top_rank": subject.rank,
        "review": False,
        "closed_by": None,
    }


def opening_audit(doc: dict[str, Any], bad_rank: str | None = None) -> list[dict[str, Any]]:
    """The first audit entries of a new case, received (with its route) and assigned or queued.
    They are stored in the case itself, in the write that creates it, and never change; every
    later entry goes to the audit collection (queries.case_detail shows both)."""
    received = {
        "clue_id": doc["clue_id"],
        "routed_unit": doc["routed_unit"],
        "route_mode": doc["route_mode"],
        "reason": doc.get("triage_reason"),
        **({"unknown_rank": bad_rank} if bad_rank else {}),
    }
    cadre, lead = doc.get("cadre_id"), doc.get("lead_cadre_id")
    assigned = {"unit": doc["unit"], "cadre_id": cadre, "lead_cadre_id": lead}
    return [
        store.audit_entry(
            doc["_id"], SYSTEM, "received", doc["created_at"], received, f"{doc['_id']}:received"
        ),
        store.audit_entry(
            doc["_id"],
            SYSTEM,
            "assigned" if cadre else "queued",
            doc["created_at"],
            assigned,
            f"{doc['_id']}:assigned",
        ),
    ]
