"""CaseStore: the only module that reads and writes cases, their clues and audit trail.

Every change of a case is one conditional single-document write (filter on `outbox_version`)
that also stages its events in the case's outbox. A slot given up by a case (closing, moving,
a cadre deactivated) is released through a journal: the case's write records the release
(`release_key`), the cadre's counters move in an update guarded by that key, and the journal is
cleared after; `finish_stranded_releases` finishes what a crash left half done.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.mongo import exact, new_id, utcnow
from shared.outbox import staged_update
from shared.times import to_ms

from . import tracking, workload
from .documents import CadreSlot, Case, CaseAudit, CaseClue, EscalationEntry, WaitingFollowUp
from .model import Transition


def cases():
    return Case._get_collection()


def _clues():
    return CaseClue._get_collection()


def _cadres():
    return CadreSlot._get_collection()


def find(case_id: str, projection: dict[str, Any] | None = None) -> dict[str, Any] | None:
    return cases().find_one({"_id": case_id}, projection)


def open_key_taken(key: str) -> bool:
    return cases().find_one(exact(open_key=key), {"_id": 1}) is not None


def find_by_clue(clue_id: str) -> dict[str, Any] | None:
    """The case holding the clue (as its first clue or a linked one), or None."""
    return cases().find_one(exact(clue_id=clue_id)) or cases().find_one({"linked_clue_ids": clue_id})


def update_case(
    doc: dict[str, Any],
    changes: dict[str, Any],
    envelopes: Iterable[dict[str, Any]],
    extra_filter: dict[str, Any] | None = None,
    unset: Iterable[str] = (),
    slot: tuple[str, str] | None = None,
    release: tuple[str | None, str | None] = (None, None),
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Apply `changes` (and remove the `unset` fields) and stage `envelopes` in one write, only if
    the case is still the version `doc` was read at (and matches `extra_filter`); the updated
    case, or None if it changed.

    `slot`, a (cadre, journal key) from `claim_cadre` that this write gives the case: the write
    records the key (what tells the sweep the case took the slot), and the claim is settled after
    it, the slot given back if the write missed. `release`, the (cadre, lead cadre) whose slot
    and lead this write gives up: journaled in the write, given back after it."""
    if doc.get("release_key") and any(release):
        finish_release(doc)
    update = staged_update(doc, *envelopes)
    update["$set"].update(changes)
    if slot:
        update["$set"][f"slot_keys.{slot[1]}"] = True
    if any(release):
        update["$set"].update(
            release_key=f"r{secrets.token_hex(6)}",
            release_at=to_ms(now or utcnow()),
            release_slot=release[0],
            release_lead=release[1],
        )
    if unset := list(unset):
        update["$unset"] = dict.fromkeys(unset, "")
    try:
        updated = cases().find_one_and_update(
            {"_id": doc["_id"], "outbox_version": doc.get("outbox_version", 0), **(extra_filter or {})},
            update,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError:
        if slot:
            workload.settle_slot(*slot, taken=False)
        raise
    if slot:
        workload.settle_slot(*slot, taken=updated is not None)
    if updated is not None and updated.get("release_key") and any(release):
        finish_release(updated)
    return updated


def save(doc: dict[str, Any], transition: Transition, extra_filter: dict[str, Any] | None = None, **kw: Any):
    """`update_case` with a transition's changes, events and unset fields."""
    return update_case(doc, transition.changes, transition.events, extra_filter, transition.unset, **kw)


def finish_release(doc: dict[str, Any]) -> None:
    """Give back the slot and lead the case's last write gave up, once: each counter moves in an
    update guarded by the release key, then the case's journal and the cadres' marks are cleared."""
    key = doc["release_key"]
    stamp = {f"released.{key}": doc.get("release_at") or 0}
    for cadre, counter in ((doc.get("release_slot"), "load"), (doc.get("release_lead"), "leads")):
        if cadre:
            _cadres().update_one(
                {"_id": cadre, counter: {"$gt": 0}, f"released.{key}": {"$exists": False}},
                {"$inc": {counter: -1}, "$set": stamp},
            )
    cases().update_one(
        {"_id": doc["_id"], "release_key": key},
        {"$set": {"release_key": None, "release_at": 0, "release_slot": None, "release_lead": None}},
    )
    marked = [c for c in (doc.get("release_slot"), doc.get("release_lead")) if c]
    if marked:
        _cadres().update_many({"_id": {"$in": marked}}, {"$unset": {f"released.{key}": ""}})


def finish_stranded_releases(older_than: datetime) -> set[str]:
    """Finish the releases a dead worker left half done; the units whose cadres got slots back."""
    units: set[str] = set()
    for doc in list(cases().find({"release_at": {"$gt": 0, "$lt": to_ms(older_than)}}).limit(500)):
        finish_release(doc)
        units.add(doc["unit"])
    for cadre in list(_cadres().find({"released": {"$exists": True}}, {"released": 1})):
        for key, at in (cadre.get("released") or {}).items():
            if (at or 0) < to_ms(older_than) and cases().find_one({"release_key": key}, {"_id": 1}) is None:
                _cadres().update_one({"_id": cadre["_id"]}, {"$unset": {f"released.{key}": ""}})
    return units


# ---- clues of a case ---------------------------------------------------------------------------


def keep_clue(case_id: str, record: dict[str, Any]) -> None:
    """Keep what a linked clue says, under its case (written again if it goes to another case)."""
    _clues().update_one(
        {"_id": record["clue_id"]}, {"$set": {"case_id": case_id, **_clue_fields(record)}}, upsert=True
    )


def _clue_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "clue_id"}


def clues_of(case_id: str) -> dict[str, dict[str, Any]]:
    """What each clue of the case says, by clue id (clues from before this was kept: absent)."""
    return {d["_id"]: d for d in _clues().find({"case_id": case_id})}


# ---- audit trail and escalation log ------------------------------------------------------------


def audit_entry(
    case_id: str, actor: str, action: str, at: datetime, details: dict[str, Any], entry_id: str | None = None
) -> dict[str, Any]:
    """One audit entry as stored (a given id makes appending it idempotent)."""
    return {
        "_id": entry_id or new_id(),
        "case_id": case_id,
        "at": at,
        "actor": actor,
        "action": action,
        "details": details,
    }


def audit(
    case_id: str, actor: str, action: str, at: datetime, entry_id: str | None = None, **details: Any
) -> None:
    """Append one audit entry (a given id makes the append idempotent)."""
    try:
        CaseAudit._get_collection().insert_one(audit_entry(case_id, actor, action, at, details, entry_id))
    except DuplicateKeyError:
        pass


def audit_lines(case_id: str, actor: str, at: datetime, lines: Iterable[tuple[str, dict[str, Any]]]) -> None:
    for action, details in lines:
        audit(case_id, actor, action, at, **details)


def record_reads(case_ids: list[str], actor: str, action: str, at: datetime) -> None:
    """Every read of a case by a person is in its audit trail."""
    if case_ids:
        CaseAudit._get_collection().insert_many([audit_entry(c, actor, action, at, {}) for c in case_ids])


def audit_of(case_id: str) -> list[dict[str, Any]]:
    """The case's audit entries after its opening ones, oldest first."""
    return list(CaseAudit._get_collection().find({"case_id": case_id}).sort([("at", 1), ("_id", 1)]))


def escalations_of(case_id: str) -> list[dict[str, Any]]:
    return list(EscalationEntry._get_collection().find({"case_id": case_id}).sort("at", 1))


def escalations_touching(units: list[str], limit: int = 200) -> list[dict[str, Any]]:
    """The newest escalations into or out of these units: two reads, merged (an `$or` is a scan in
    Python on nx-27017)."""
    found = {
        e["_id"]: e
        for side in ("to_unit", "from_unit")
        for e in EscalationEntry._get_collection().find({side: {"$in": units}}).sort("at", -1).limit(limit)
    }
    return sorted(found.values(), key=lambda e: (e["at"], e["_id"]), reverse=True)[:limit]


def has_audit(entry_id: str) -> bool:
    return CaseAudit._get_collection().find_one({"_id": entry_id}, {"_id": 1}) is not None


def follow_ups(case_id: str) -> list[dict[str, Any]]:
    """The reporter's follow-up messages on the case, oldest first."""
    found = CaseAudit._get_collection().find(
        {"case_id": case_id, "action": {"$in": ["follow_up", "objection"]}}
    )
    lines = sorted(found, key=lambda a: (a["at"], a["_id"]))
    return [
        {
            "at": a["at"],
            "message": (a.get("details") or {}).get("message"),
            "objection": a["action"] == "objection",
        }
        for a in lines
    ]


def record_escalation(
    doc: dict[str, Any],
    from_unit: str,
    to_unit: str,
    mode: str,
    reasons: Iterable[str],
    at: datetime,
    actor: str,
    note: str | None = None,
    due_at: datetime | None = None,
    ctx: Any = None,
) -> None:
    """Log one move or supervision of the case and its audit line; with `ctx`, what it leaves
    behind besides the case (duties, statistics: tracking.py)."""
    reasons = list(reasons)
    entry_id = f"{doc['_id']}:{doc.get('outbox_version', 0)}"
    entry = {
        "_id": entry_id,
        "case_id": doc["_id"],
        "from_unit": from_unit,
        "to_unit": to_unit,
        "mode": mode,
        "reasons": reasons,
        "at": at,
        "actor": actor,
        "note": note,
    }
    if due_at is not None:
        entry["due_at"] = to_ms(due_at)
    try:
        EscalationEntry._get_collection().insert_one(entry)
    except DuplicateKeyError:
        pass
    else:
        if ctx is not None:
            tracking.escalation_recorded(doc, entry_id, from_unit, to_unit, mode, reasons, at, ctx)
    audit(
        doc["_id"],
        actor,
        "escalated" if mode == "direct_investigation" else "supervised",
        at,
        from_unit=from_unit,
        to_unit=to_unit,
        mode=mode,
        reasons=reasons,
        **({"note": note} if note else {}),
    )


# ---- follow-ups waiting for their case ---------------------------------------------------------


def keep_waiting(event_id: str, data: dict[str, Any], at: datetime) -> None:
    """Keep a follow-up whose clue has no case yet (idempotent per event)."""
    try:
        WaitingFollowUp._get_collection().insert_one(
            {
                "_id": event_id,
                "clue_id": data["clue_id"],
                "message": data.get("message") or "",
                "objection": bool(data.get("objection")),
                "sent_at": data.get("at"),
                "at": at,
            }
        )
    except DuplicateKeyError:
        pass


def waiting_for(clue_ids: Iterable[str]) -> list[dict[str, Any]]:
    return list(WaitingFollowUp._get_collection().find({"clue_id": {"$in": list(clue_ids)}}).sort("at", 1))


def waiting_clue_ids(limit: int = 200) -> list[str]:
    return list(
        dict.fromkeys(
            d["clue_id"] for d in WaitingFollowUp._get_collection().find({}, {"clue_id": 1}).limit(limit)
        )
    )


def done_waiting(event_id: str) -> None:
    WaitingFollowUp._get_collection().delete_one({"_id": event_id})
