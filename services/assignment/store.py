"""Where cases are kept: the one place the case use cases (receiving, triage, moves, closing,
linking, queueing, queries, tracking) reach the database through.

`CaseStore` speaks to MongoDB (or nx-27017) through the collections of documents.py;
`MemoryCaseStore` (memory_store.py) keeps the same in dicts, for the use cases' unit tests.
tests/integration/assignment/test_case_store.py runs the same contract on both. `case_store()` is
the store the use cases use; `use()` swaps it.

Every change of a case is one conditional single-document write (on the `outbox_version` it was
read at) that also stages its events in the case's outbox. A slot given up by a case (closing,
moving, a cadre deactivated) is released through a journal: the case's write records the release
(`release_key`), the cadre's counters move in an update guarded by that key (`give_back`), and the
journal is cleared after; `finish_stranded_releases` finishes what a crash left half done.

Filters (`select`) are plain `{field: value}` maps with `$in`, `$lt`, `$lte`, `$gt`, `$ne` and
`$exists`; the store alone writes them the way the local database reads them fast (`exact`).

Times are datetimes to the use cases. The store alone keeps the local database's workaround:
the times a case's updates change (`TIMES`) are stored as epoch milliseconds (shared/times.py),
converted on the way in (documents, changes, filters) and out.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.current import Current
from shared.mongo import new_id, utcnow
from shared.outbox import staged_update
from shared.times import from_ms, to_ms

from . import workload, workload_store
from .documents import Case, CaseAudit, CaseClue, EscalationEntry, WaitingFollowUp
from .model import OPEN_STATUSES, Transition

Doc = dict[str, Any]
# scalar fields matched with `$eq` (shared.mongo.exact): an index serves those on nx-27017
_SCALARS = ("unit", "status", "cadre_id", "lead_cadre_id", "subject_key", "route_mode", "clue_id",
            "open_key", "watched_by", "triage_reason", "category", "batch_id")
TIMES = ("due_at", "accepted_at", "assigned_at", "supervised_at", "closed_at", "reopened_at")
# a case's release journal once finished (see `CaseWrites.finish_release`)
RELEASE_CLEARED = {"release_key": None, "release_at": 0, "release_slot": None, "release_lead": None}
# Open cases stored before open keys existed (receiving.backfill_open_keys gives them theirs).
WITHOUT_OPEN_KEY = {"status": {"$in": list(OPEN_STATUSES)}, "open_key": {"$exists": False}}


def cases():
    """The cases' collection, for the storage modules that read cases themselves (network_store,
    recommendation_store)."""
    return Case._get_collection()


def _ms(name: str, value: Any) -> Any:
    if name not in TIMES:
        return value
    if isinstance(value, datetime):
        return to_ms(value)
    if isinstance(value, Mapping):
        return {op: to_ms(v) if isinstance(v, datetime) else v for op, v in value.items()}
    return value


def _db_filter(query: Mapping[str, Any]) -> Doc:
    return {k: {"$eq": v} if k in _SCALARS and isinstance(v, str) else _ms(k, v)
            for k, v in query.items()}


def to_db(values: Mapping[str, Any]) -> Doc:
    """A case's fields (or changes) as stored: its times in epoch milliseconds."""
    return {k: _ms(k, v) for k, v in values.items()}


def to_db_update(update: Doc) -> Doc:
    """An update document as stored: the times it sets in epoch milliseconds."""
    return {**update, "$set": to_db(update["$set"])}


def from_db(doc: Doc | None) -> Doc | None:
    """A case as the use cases see it: its times as datetimes."""
    if doc is not None:
        for name in TIMES:
            if name in doc:
                doc[name] = from_ms(doc[name])
    return doc


def release_changes(release: tuple[str | None, str | None], now: datetime | None) -> Doc:
    """The journal fields of a write giving up `release`'s (cadre, lead cadre)."""
    return {"release_key": f"r{secrets.token_hex(6)}", "release_at": to_ms(now or utcnow()),
            "release_slot": release[0], "release_lead": release[1]}


def give_back(doc: Mapping[str, Any]) -> list[str]:
    """Give back the slot and lead journaled in the case: each cadre's counter moves once, in an
    update guarded by the release key (workload_store.give_back_once); the cadres marked (to clear
    once the case's journal is)."""
    key, at = doc["release_key"], from_ms(doc.get("release_at"))
    for cadre, counter in ((doc.get("release_slot"), "load"), (doc.get("release_lead"), "leads")):
        if cadre:
            workload_store.give_back_once(cadre, counter, key, at)
    return [c for c in (doc.get("release_slot"), doc.get("release_lead")) if c]


def audit_entry(
    case_id: str, actor: str, action: str, at: datetime, details: dict[str, Any], entry_id: str | None = None
) -> Doc:
    """One audit entry as stored (a given id makes appending it idempotent)."""
    return {"_id": entry_id or new_id(), "case_id": case_id, "at": at, "actor": actor, "action": action,
            "details": details}


def escalation_entry(doc: Mapping[str, Any], from_unit: str, to_unit: str, mode: str, reasons: list[str],
                     at: datetime, actor: str, note: str | None, due_at: datetime | None) -> Doc:
    """One entry of the escalation log, its id the case's version (a repeat adds nothing)."""
    entry = {"_id": f"{doc['_id']}:{doc.get('outbox_version', 0)}", "case_id": doc["_id"],
             "from_unit": from_unit, "to_unit": to_unit, "mode": mode, "reasons": reasons, "at": at,
             "actor": actor, "note": note}
    if due_at is not None:
        entry["due_at"] = due_at
    return entry


def follow_up_view(entries: Iterable[Mapping[str, Any]]) -> list[Doc]:
    lines = sorted((a for a in entries if a["action"] in ("follow_up", "objection")),
                   key=lambda a: (a["at"], a["_id"]))
    return [{"at": a["at"], "message": (a.get("details") or {}).get("message"),
             "objection": a["action"] == "objection"} for a in lines]


def waiting_doc(event_id: str, data: Mapping[str, Any], at: datetime) -> Doc:
    return {"_id": event_id, "clue_id": data["clue_id"], "message": data.get("message") or "",
            "objection": bool(data.get("objection")), "sent_at": data.get("at"), "at": at}


class CaseWrites:
    """What both case stores share (`CaseStore` here, `MemoryCaseStore` in memory_store.py): `update`
    and `save` around the store's own `_write`, which applies an update document to the case only if
    it is still the version `doc` was read at and matches `expect`; the release journal's protocol
    (`finish_release`, `finish_stranded_releases`) around the store's own reads and write of it."""

    def _write(self, doc: Doc, update: Doc, expect: Mapping[str, Any]) -> Doc | None:
        raise NotImplementedError

    def _clear_release(self, case_id: str, key: str) -> None:
        """Clear the case's release journal, if it still holds `key`."""
        raise NotImplementedError

    def _stranded(self, older_than: datetime) -> list[Doc]:
        """Cases whose release journal was written before `older_than` (a batch of them)."""
        raise NotImplementedError

    def _release_held(self, key: str) -> bool:
        """Whether a case's release journal still holds `key`."""
        raise NotImplementedError

    def finish_release(self, doc: Doc) -> None:
        """Give back the slot and lead the case's last write gave up, once, then clear the case's
        journal and the cadres' marks."""
        key = doc["release_key"]
        marked = give_back(doc)
        self._clear_release(doc["_id"], key)
        workload_store.unmark(marked, key)

    def finish_stranded_releases(self, older_than: datetime) -> set[str]:
        """Finish the releases a dead worker left half done; the units whose cadres got slots back."""
        units: set[str] = set()
        for doc in self._stranded(older_than):
            self.finish_release(doc)
            units.add(doc["unit"])
        for cadre, key in workload_store.stale_marks(older_than):
            if not self._release_held(key):
                workload_store.unmark([cadre], key)
        return units

    def update(
        self,
        doc: Doc,
        changes: Doc,
        envelopes: Iterable[Doc],
        expect: Mapping[str, Any] | None = None,
        unset: Iterable[str] = (),
        slot: tuple[str, str] | None = None,
        release: tuple[str | None, str | None] = (None, None),
        now: datetime | None = None,
    ) -> Doc | None:
        """Apply `changes` (and remove the `unset` fields) and stage `envelopes` in one write, only if
        the case is still the version `doc` was read at (and matches `expect`); the updated case,
        or None if it changed (or a change would take an open key another case holds).

        `slot`, a (cadre, journal key) from `workload.claim_cadre` that this write gives the case:
        the write records the key (what tells the sweep the case took the slot), and the claim is
        settled after it, the slot given back if the write missed. `release`, the (cadre, lead
        cadre) whose slot and lead this write gives up: journaled in the write (the release
        journaled before is finished first), given back after."""
        if doc.get("release_key") and any(release):
            self.finish_release(doc)
        update = staged_update(doc, *envelopes)
        update["$set"].update(changes)
        if slot:
            update["$set"][f"slot_keys.{slot[1]}"] = True
        if any(release):
            update["$set"].update(release_changes(release, now))
        if unset := list(unset):
            update["$unset"] = dict.fromkeys(unset, "")
        updated = self._write(doc, update, expect or {})
        if slot:
            workload.settle_slot(*slot, taken=updated is not None)
        if updated is not None and updated.get("release_key") and any(release):
            self.finish_release(updated)
        return updated

    def save(self, doc: Doc, transition: Transition, expect: Mapping[str, Any] | None = None,
             **kw: Any) -> Doc | None:
        """`update` with a transition's changes, events and unset fields."""
        return self.update(doc, transition.changes, transition.events, expect, transition.unset, **kw)

    def audit_lines(self, case_id: str, actor: str, at: datetime,
                    lines: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Append one audit entry per (action, details) line."""
        for action, details in lines:
            self.audit(case_id, actor, action, at, **details)


class CaseStore(CaseWrites):
    """The cases' store on the database."""

    # ---- cases -----------------------------------------------------------------------------

    def get(self, case_id: str, fields: Mapping[str, int] | None = None) -> Doc | None:
        return from_db(cases().find_one({"_id": case_id}, fields))

    def by_clue(self, clue_id: str) -> Doc | None:
        """The case holding the clue (as its first clue or a linked one), or None."""
        first = cases().find_one(_db_filter({"clue_id": clue_id}))
        return from_db(first or cases().find_one({"linked_clue_ids": clue_id}))

    def open_key_taken(self, key: str) -> bool:
        return cases().find_one(_db_filter({"open_key": key}), {"_id": 1}) is not None

    def select(self, query: Mapping[str, Any], fields: Mapping[str, int] | None = None,
               sort: tuple[str, int] | None = None, limit: int = 0) -> list[Doc]:
        """The cases matching `query`, sorted on one field (1 up, -1 down), at most `limit` (0: all)."""
        found = cases().find(_db_filter(query), fields)
        if sort:
            found = found.sort(*sort)
        return [from_db(d) for d in found.limit(limit)]

    def insert(self, docs: list[Doc]) -> tuple[list[int], Exception | None]:
        """Insert new cases in one write: the positions refused (their clue, or their subject and
        category while open, has a case already), and any other error, for the caller to raise."""
        try:
            cases().insert_many([to_db(d) for d in docs], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            other = exc if any(e.get("code") != 11000 for e in errors) else None
            return sorted({e["index"] for e in errors}), other
        return [], None

    def stored_ids(self, case_ids: Iterable[str], slot_key: str | None = None) -> set[str]:
        """Those of the case ids that are stored (and hold `slot_key` in `slot_keys`, if given)."""
        query: Doc = {"_id": {"$in": list(case_ids)}}
        if slot_key:
            query[f"slot_keys.{slot_key}"] = {"$exists": True}
        return {d["_id"] for d in cases().find(query, {"_id": 1})}

    def give_open_key(self, case_id: str, key: str) -> bool:
        """Give an open case stored without an open key its key; False if another has it."""
        try:
            found = cases().update_one({"_id": case_id, **WITHOUT_OPEN_KEY}, {"$set": {"open_key": key}})
        except DuplicateKeyError:
            return False
        return found.modified_count == 1

    def _write(self, doc: Doc, update: Doc, expect: Mapping[str, Any]) -> Doc | None:
        wanted = {"_id": doc["_id"], "outbox_version": doc.get("outbox_version", 0), **_db_filter(expect)}
        try:
            return from_db(cases().find_one_and_update(wanted, to_db_update(update),
                                                       return_document=ReturnDocument.AFTER))
        except DuplicateKeyError:  # MongoDB: another case took the open key meanwhile
            return None

    def _clear_release(self, case_id: str, key: str) -> None:
        cases().update_one({"_id": case_id, "release_key": key}, {"$set": RELEASE_CLEARED})

    def _stranded(self, older_than: datetime) -> list[Doc]:
        return list(cases().find({"release_at": {"$gt": 0, "$lt": to_ms(older_than)}}).limit(500))

    def _release_held(self, key: str) -> bool:
        return cases().find_one({"release_key": key}, {"_id": 1}) is not None

    # ---- clues of a case ---------------------------------------------------------------------

    def keep_clue(self, case_id: str, record: Mapping[str, Any]) -> None:
        """Keep what a linked clue says, under its case (written again if it goes to another case)."""
        fields = {k: v for k, v in record.items() if k != "clue_id"}
        CaseClue._get_collection().update_one(
            {"_id": record["clue_id"]}, {"$set": {"case_id": case_id, **fields}}, upsert=True
        )

    def clues_of(self, case_id: str) -> dict[str, Doc]:
        """What each clue of the case says, by clue id (clues from before this was kept: absent)."""
        return {d["_id"]: d for d in CaseClue._get_collection().find({"case_id": case_id})}

    # ---- audit trail and escalation log --------------------------------------------------------

    def audit(self, case_id: str, actor: str, action: str, at: datetime, entry_id: str | None = None,
              **details: Any) -> None:
        """Append one audit entry (a given id makes the append idempotent)."""
        try:
            CaseAudit._get_collection().insert_one(audit_entry(case_id, actor, action, at, details, entry_id))
        except DuplicateKeyError:
            pass

    def record_reads(self, case_ids: list[str], actor: str, action: str, at: datetime) -> None:
        """Every read of a case by a person is in its audit trail."""
        if case_ids:
            CaseAudit._get_collection().insert_many([audit_entry(c, actor, action, at, {}) for c in case_ids])

    def audit_of(self, case_id: str) -> list[Doc]:
        """The case's audit entries after its opening ones, oldest first."""
        return list(CaseAudit._get_collection().find({"case_id": case_id}).sort([("at", 1), ("_id", 1)]))

    def has_audit(self, entry_id: str) -> bool:
        return CaseAudit._get_collection().find_one({"_id": entry_id}, {"_id": 1}) is not None

    def follow_ups(self, case_id: str) -> list[Doc]:
        """The reporter's follow-up messages on the case, oldest first."""
        actions = {"$in": ["follow_up", "objection"]}
        return follow_up_view(CaseAudit._get_collection().find({"case_id": case_id, "action": actions}))

    def add_escalation(self, entry: Doc) -> bool:
        """Log one move or supervision (`escalation_entry`); False if it was logged before."""
        try:
            EscalationEntry._get_collection().insert_one(to_db(entry))
        except DuplicateKeyError:
            return False
        return True

    def escalations_of(self, case_id: str) -> list[Doc]:
        found = EscalationEntry._get_collection().find({"case_id": case_id}).sort("at", 1)
        return [from_db(e) for e in found]

    def escalations_touching(self, units: list[str], limit: int = 200) -> list[Doc]:
        """The newest escalations into or out of these units: two reads, merged (an `$or` is a scan
        in Python on nx-27017)."""
        log = EscalationEntry._get_collection()
        found = {
            e["_id"]: e
            for side in ("to_unit", "from_unit")
            for e in log.find({side: {"$in": units}}).sort("at", -1).limit(limit)
        }
        newest = sorted(found.values(), key=lambda e: (e["at"], e["_id"]), reverse=True)[:limit]
        return [from_db(e) for e in newest]

    # ---- follow-ups waiting for their case -----------------------------------------------------

    def keep_waiting(self, event_id: str, data: Mapping[str, Any], at: datetime) -> None:
        """Keep a follow-up whose clue has no case yet (idempotent per event)."""
        try:
            WaitingFollowUp._get_collection().insert_one(waiting_doc(event_id, data, at))
        except DuplicateKeyError:
            pass

    def waiting_for(self, clue_ids: Iterable[str]) -> list[Doc]:
        found = WaitingFollowUp._get_collection().find({"clue_id": {"$in": list(clue_ids)}})
        return list(found.sort("at", 1))

    def waiting_clue_ids(self, limit: int = 200) -> list[str]:
        found = WaitingFollowUp._get_collection().find({}, {"clue_id": 1}).limit(limit)
        return list(dict.fromkeys(d["clue_id"] for d in found))

    def done_waiting(self, event_id: str) -> None:
        WaitingFollowUp._get_collection().delete_one({"_id": event_id})


# The store the use cases use; `use(other)` swaps in a stand-in, returning the one before.
_current: Current[Any] = Current(CaseStore())
case_store = _current.get
use = _current.use
