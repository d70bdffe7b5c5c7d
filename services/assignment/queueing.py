"""Use cases that move work between cadres of a unit: the queue's drain, the sweep after a
crash, and the registry changes that free or take away slots (DOMAIN.md, routing rule 3)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.times import to_nearest_ms

from .case_events import assigned_event
from .context import SYSTEM, Context, clue_ids, subject_cadres
from .model import OPEN_STATUSES
from .registry import Registry
from .store import case_store
from .workload import claim_cadre, release_stranded

log = logging.getLogger(__name__)


def _queued(unit: str) -> list[dict[str, Any]]:
    query = {"unit": unit, "status": "queued", "cadre_id": None, "triage_reason": None}
    return case_store().select(query, sort=("received_at", 1), limit=8)


def _drained_status(doc: dict[str, Any]) -> str:
    if doc.get("review"):
        return "reopened"
    return "supervised" if doc.get("watched_by") else "assigned"


def drain(unit: str, ctx: Context) -> int:
    """Give free slots of `unit` to its oldest queued cases; returns how many were assigned.

    Each step claims a slot for the oldest queued case (journaled), then takes the case with a
    conditional update that records the claim's key; if another worker took that case, the slot
    goes back and the next case is tried, so two drainers never take the same case nor strand a
    free slot. A case never goes to a cadre who is its subject.
    """
    assigned = 0
    registry = ctx.registry()
    while True:
        queued = _queued(unit)
        if not queued:
            return assigned
        tried = False
        for doc in queued:
            now = ctx.clock()
            excluded = subject_cadres(registry, unit, doc.get("subject_name")) | _not_reviewers(doc)
            if (slot := claim_cadre(unit, now, doc["_id"], excluded)) is None:
                if excluded:
                    continue  # another case may still fit the cadre this one may not have
                return assigned
            tried = True
            changes = {
                "cadre_id": slot[0],
                "holds_slot": True,
                "assigned_at": to_nearest_ms(now),
                "status": _drained_status(doc),
            }
            new = {**doc, **changes}
            updated = case_store().update(
                doc,
                changes,
                [assigned_event(new, c, now) for c in clue_ids(doc)],
                {"status": "queued", "cadre_id": None},
                slot=slot,
            )
            if updated is not None:
                case_store().audit(doc["_id"], SYSTEM, "assigned", now, cadre_id=slot[0], from_queue=True)
                ctx.wake(updated)
                assigned += 1
                break
        else:
            if not tried:  # every queued case waits for a cadre it may have
                return assigned


def _not_reviewers(doc: dict[str, Any]) -> set[str]:
    """A case under review (复查) never goes back to the cadre who closed it."""
    return {doc["closed_by"]} if doc.get("review") and doc.get("closed_by") else set()


def sweep_stranded_slots(ctx: Context, older_than: datetime) -> int:
    """Give back slots claimed before `older_than` for cases that never took them (a worker died
    mid-batch), finish slot releases a dead worker left half done, and let those units' queues
    take the slots; the slots freed by claims."""
    freed = release_stranded(older_than)
    units = set(freed) | case_store().finish_stranded_releases(older_than)
    for unit in sorted(units):
        drain(unit, ctx)
    return sum(freed.values())


def registry_changed(before: Registry, after: Registry, ctx: Context, actor: str) -> dict[str, int]:
    """Move work after a registry change: each open case of a cadre deactivated (or removed) goes
    to another cadre of the unit (least loaded first, queued if all are full), with a
    case-assigned event and an audit line; then every unit's queue takes the slots there are
    now (more capacity, new cadres). Returns how many cases were reassigned and drained."""
    gone = [c for c in before.cadres() if c.active and not _active(after, c.id)]
    reassigned = sum(reassign_cases_of(c.id, c.unit, ctx, actor) for c in gone)
    drained = sum(drain(unit.code, ctx) for unit in after.units())
    return {"reassigned": reassigned, "drained": drained}


def _active(registry: Registry, cadre_id: str) -> bool:
    cadre = registry.cadre(cadre_id)
    return cadre is not None and cadre.active


def reassign_cases_of(cadre_id: str, unit: str, ctx: Context, actor: str) -> int:
    """Give each open case `cadre_id` handles to another cadre (see `registry_changed`)."""
    moved = 0
    open_ = {"$in": list(OPEN_STATUSES)}
    for doc in case_store().select({"cadre_id": cadre_id, "status": open_}):
        if reassign(doc["_id"], cadre_id, ctx, actor):
            moved += 1
    return moved


def reassign(case_id: str, cadre_id: str, ctx: Context, actor: str) -> bool:
    """One case of a deactivated cadre to another cadre of its unit, or to the queue."""
    registry = ctx.registry()
    for _ in range(8):
        doc = case_store().get(case_id)
        if doc is None or doc.get("cadre_id") != cadre_id or doc["status"] not in OPEN_STATUSES:
            return False
        now = ctx.clock()
        excluded = (
            {cadre_id} | subject_cadres(registry, doc["unit"], doc.get("subject_name")) | _not_reviewers(doc)
        )
        slot = claim_cadre(doc["unit"], now, case_id, excluded)
        cadre = slot[0] if slot else None
        changes = {
            "cadre_id": cadre,
            "holds_slot": cadre is not None,
            "assigned_at": to_nearest_ms(now) if cadre else None,
            "status": _drained_status(doc) if cadre else "queued",
        }
        new = {**doc, **changes}
        updated = case_store().update(
            doc,
            changes,
            [assigned_event(new, c, now) for c in clue_ids(doc)],
            slot=slot,
            release=(cadre_id if doc.get("holds_slot") else None, None),
            now=now,
        )
        if updated is None:
            continue
        ctx.wake(updated)
        case_store().audit(case_id, actor, "reassigned", now, from_cadre=cadre_id, cadre_id=cadre)
        return True
    log.warning("case kept changing while reassigned", extra={"case_id": case_id})
    return False
