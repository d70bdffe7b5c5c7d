"""Use cases at the end of a case: closing it (办结), the reporter's follow-ups, and the review
(复查) an objection to a closed case opens."""

from __future__ import annotations

import logging
from typing import Any

from shared import events
from shared.auth import Principal

from . import deadlines, tracking
from .context import MAX_ATTEMPTS, SYSTEM, Context, open_key, subject_cadres
from .model import OPEN_STATUSES, Case, CaseBusy, CaseForbidden, CaseNotFound
from .queueing import drain
from .store import case_store
from .workload import choose_lead, claim_cadre, release_lead

log = logging.getLogger(__name__)


def close_case(
    case_id: str,
    principal: Principal,
    disposition: str,
    outcomes: list[str],
    reporter_summary: str,
    ctx: Context,
) -> dict[str, Any]:
    """Close a case (its cadre or lead cadre only): publishes case-closed per clue, gives the
    cadre's slot back (journaled) and lets the unit's oldest queued case take it."""
    for _ in range(MAX_ATTEMPTS):
        doc = case_store().get(case_id)
        if doc is None:
            raise CaseNotFound("no such case")
        if principal.role != "cadre":
            raise CaseForbidden("only the case's cadre or lead cadre may close it")
        now = ctx.clock()
        transition = Case(doc).close(principal.scope, disposition, outcomes, reporter_summary, now)
        released = (
            doc.get("cadre_id") if doc.get("holds_slot") else None,
            doc.get("lead_cadre_id") if doc.get("holds_lead") else None,
        )
        updated = case_store().save(
            doc, transition, {"status": {"$in": list(OPEN_STATUSES)}}, release=released, now=now
        )
        if updated is None:
            continue
        ctx.wake(updated)
        case_store().audit_lines(case_id, principal.actor, now, transition.audit)
        tracking.case_closed(updated, ctx)
        if doc.get("holds_slot"):
            drain(doc["unit"], ctx)
        return updated
    raise CaseBusy("the case kept changing; try again")


def clue_followed_up(event: events.Event, ctx: Context) -> None:
    """A reporter's follow-up lands on the case as a note; an objection to a closed case reopens
    it for review (复查). A follow-up whose clue has no case yet is kept until the case comes
    (`apply_waiting`), never dropped."""
    data = event.data
    doc = case_store().by_clue(data["clue_id"])
    if doc is None:
        case_store().keep_waiting(event.id, data, ctx.clock())
        doc = case_store().by_clue(data["clue_id"])  # the case may have come meanwhile
        if doc is None:
            log.info("follow-up kept until its case comes", extra={"clue_id": data["clue_id"]})
            return
    follow_up(doc, event.id, data, ctx)
    case_store().done_waiting(event.id)


def follow_up(doc: dict[str, Any], event_id: str, data: dict[str, Any], ctx: Context) -> None:
    """Note one follow-up on the case (once per event), reopening a closed case on an objection."""
    clue_id = data["clue_id"]
    note_id = f"{doc['_id']}:followup:{event_id}"
    if case_store().has_audit(note_id):
        return
    now = ctx.clock()
    if data["objection"] and doc["status"] == "closed":
        reopen(doc["_id"], clue_id, ctx)
    case_store().audit(
        doc["_id"],
        "reporter",
        "objection" if data["objection"] else "follow_up",
        now,
        note_id,
        clue_id=clue_id,
        message=data["message"],
        sent_at=data.get("at"),
    )


def apply_waiting(clue_ids: list[str], ctx: Context) -> None:
    """Hand the follow-ups kept for these clues to their cases, oldest first."""
    for item in case_store().waiting_for(clue_ids):
        doc = case_store().by_clue(item["clue_id"])
        if doc is None:
            continue
        data = {
            "clue_id": item["clue_id"],
            "message": item.get("message") or "",
            "objection": bool(item.get("objection")),
            "at": item.get("sent_at"),
        }
        follow_up(doc, item["_id"], data, ctx)
        case_store().done_waiting(item["_id"])


def retry_waiting(ctx: Context) -> None:
    """The scheduler's backstop: follow-ups whose case has come since they were kept."""
    apply_waiting(case_store().waiting_clue_ids(), ctx)


def reopen(case_id: str, clue_id: str, ctx: Context) -> dict[str, Any] | None:
    """Reopen a closed case for review (复查): a slot of a cadre of its unit other than the one who
    closed it (queued if none is free), the unit's leader as lead cadre, a new deadline, and
    case-assigned with status `reopened`."""
    registry = ctx.registry()
    for _ in range(MAX_ATTEMPTS):
        doc = case_store().get(case_id)
        if doc is None or doc["status"] != "closed":
            return None
        case, now, unit = Case(doc), ctx.clock(), doc["unit"]
        excluded = case.reviewers_excluded() | subject_cadres(registry, unit, doc.get("subject_name"))
        slot = claim_cadre(unit, now, case_id, excluded) if registry.unit(unit) else None
        cadre = slot[0] if slot else None
        lead = choose_lead(unit, now, ({cadre} - {None}) | excluded) if registry.unit(unit) else None
        due = deadlines.due_at(now, doc["category"], "", ctx.deadlines)
        transition = case.reopen(cadre, lead, due, now, clue_id)
        updated = _save_reopened(doc, transition, slot)
        if updated is None:
            release_lead(lead)
            continue
        ctx.wake(updated)
        case_store().audit_lines(case_id, SYSTEM, now, transition.audit)
        return updated
    raise CaseBusy(f"case {case_id} kept changing while reopened")


def _save_reopened(doc: dict[str, Any], transition, slot) -> dict[str, Any] | None:
    """Save the reopened case; it takes its subject and category's open key back unless a newer
    case on them is open (then clues keep linking to the oldest open one, as before). A race for
    the key misses the write (the caller reads again and retries)."""
    key = open_key(doc["subject_key"], doc["category"])
    if not case_store().open_key_taken(key):
        transition.changes["open_key"] = key
    return case_store().save(doc, transition, {"status": "closed"}, slot=slot)
