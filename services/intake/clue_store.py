"""Where received clues, their timeline lines and the reporters' follow-ups are kept: the one place
the clue-moving use cases (timeline.py, follow_ups.py, case_events.py) reach the database through.

Receiving (receiving.py) and the relay's rounds (backstops.py, retention.py) store, find and expire
whole clue documents (`received` below) through it too.

`ClueStore` speaks to MongoDB (or nx-27017) through the documents of documents.py; `MemoryClueStore`
keeps the same in dicts, for the use cases' unit tests. tests/integration/intake/test_clue_store.py
runs the same contract on both. `clues()` is the store the use cases use; `use()` swaps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import mongoengine as me
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from services.intake import status
from services.intake.documents import Clue as ClueDocument
from services.intake.documents import ClueUpdate, FollowUp, ImportBatch
from services.intake.model import Clue, Line, Move
from shared.current import Current
from shared.mongo import count_exact, exact, insert_new
from shared.outbox import pending
from shared.times import from_ms, to_ms

# What no use case reads back unless it needs it: the reporter's ciphertexts and the receipt's secrets.
_SECRETS = ("reporter_sealed", "contact_sealed", "receipt_code_digest", "receipt_secret_digest",
            "replay_sealed")
PendingFollowUp = tuple[str, str, bool, datetime]  # id, clue id, objection, at
# The outbox the follow-ups' clue-followed-up events go out from: the relay to wake (Outbox.wake).
FOLLOW_UP_OUTBOX = FollowUp
# A received clue's times that change after its insert: datetimes in the model, epoch milliseconds
# in the documents (shared/times.py says why), under these names.
_MS_FIELDS = {"last_staged_at": "last_staged_ms", "replay_until": "replay_until_ms"}
_TIME_FIELDS = {stored: name for name, stored in _MS_FIELDS.items()}


def as_stored(doc: dict[str, Any]) -> dict[str, Any]:
    """A received clue (`model.received_clue`) as its document is stored, in the same key order."""
    return {_MS_FIELDS.get(k, k): to_ms(v) if k in _MS_FIELDS else v for k, v in doc.items()}


def _as_read(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored clue document with its millisecond times as datetimes again."""
    return {_TIME_FIELDS.get(k, k): from_ms(v) if k in _TIME_FIELDS else v for k, v in stored.items()}


def _changes(move: Move) -> dict[str, Any]:
    changes: dict[str, Any] = {"status": move.after}
    if move.acknowledge:
        changes["acknowledged"] = True
    if move.closed_at is not None:
        changes["closed_ms"] = to_ms(move.closed_at)
    return changes


def _line_doc(line: Line) -> dict[str, Any]:
    return {"_id": line.id, "clue_id": line.clue_id, "at": line.at, "kind": line.kind,
            "message_zh": line.zh, "message_en": line.en}


class ClueStore:
    """The clues' store on the database."""

    def get(self, clue_id: str) -> Clue | None:
        found = ClueDocument._get_collection().find_one({"_id": clue_id}, {"status": 1, "received_at": 1})
        return Clue(found["_id"], found["status"], found.get("received_at")) if found else None

    def by_receipt(self, code_digest: str) -> tuple[Clue, str] | None:
        """The clue with this receipt code's digest, and its secret's digest."""
        wanted = {"status": 1, "received_at": 1, "receipt_secret_digest": 1}
        found = ClueDocument._get_collection().find_one(exact(receipt_code_digest=code_digest), wanted)
        if found is None:
            return None
        return Clue(found["_id"], found["status"], found.get("received_at")), found["receipt_secret_digest"]

    def many(self, ids: Iterable[str]) -> dict[str, Clue]:
        found = ClueDocument._get_collection().find({"_id": {"$in": sorted(set(ids))}}, {"status": 1})
        return {d["_id"]: Clue(d["_id"], d["status"]) for d in found}

    def lines(self, clue_id: str) -> list[Line]:
        """The clue's timeline lines, oldest first."""
        found = ClueUpdate._get_collection().find(exact(clue_id=clue_id)).sort("at", 1)
        return [Line(d["_id"], d["clue_id"], d["at"], d["kind"], d["message_zh"], d["message_en"])
                for d in found]

    def save(self, moves: list[Move]) -> bool:
        """Write the moves' lines (those written before stay) and each clue's status, guarded by
        its status before; False when some clue's status had changed meanwhile (its move is not
        written: take it again on what the clue is now)."""
        lines = [_line_doc(line) for move in moves for line in move.lines]
        if lines:
            insert_new(ClueUpdate._get_collection(), lines)
        if not moves:
            return True
        updates = [UpdateOne({"_id": m.clue_id, "status": m.before}, {"$set": _changes(m)}) for m in moves]
        return ClueDocument._get_collection().bulk_write(updates, ordered=False).matched_count == len(moves)

    def conflict_moved_to(self, clue_id: str) -> tuple[bool, str | None]:
        """Whether the clue is held, and where a conflict escalation last took it."""
        found = ClueDocument._get_collection().find_one({"_id": clue_id}, {"conflict_moved_to": 1})
        return found is not None, (found or {}).get("conflict_moved_to")

    def note_conflict(self, clue_id: str, jurisdiction: str) -> None:
        ClueDocument._get_collection().update_one({"_id": clue_id},
                                                  {"$set": {"conflict_moved_to": jurisdiction}})

    def add_follow_up(self, follow_up_id: str, clue_id: str, message: str, objection: bool, at: datetime,
                      event: dict[str, Any]) -> Mapping[str, Any]:
        """Store a reporter's follow-up, not yet noted on its clue, with its event staged in its
        outbox; returns it as stored (what the relay is woken with)."""
        item = FollowUp(id=follow_up_id, clue_id=clue_id, message=message, objection=objection, at=at,
                        applied=False)
        item.stage(event)
        item.save(force_insert=True)
        return item.to_mongo()

    def follow_up_applied(self, follow_up_id: str) -> None:
        FollowUp._get_collection().update_one({"_id": follow_up_id}, {"$set": {"applied": True}})

    def pending_follow_ups(self, limit: int) -> list[PendingFollowUp]:
        found = FollowUp._get_collection().find(exact(applied=False), {"clue_id": 1, "objection": 1, "at": 1})
        return [(d["_id"], d["clue_id"], bool(d.get("objection")), d["at"]) for d in found.limit(limit)]


    # ---- received clues as whole documents (receiving.py, backstops.py, retention.py) ----------

    def insert(self, doc: dict[str, Any]) -> bool:
        """Store a new clue in one insert; False if its receipt code or Idempotency-Key is taken."""
        try:
            # pymongo directly: mongoengine's bookkeeping cost more than the rest of the request.
            ClueDocument._get_collection().insert_one(as_stored(doc))
        except (me.NotUniqueError, DuplicateKeyError):
            return False
        return True

    def replay_of(self, frontline_unit: str, key_digest: str) -> dict[str, Any] | None:
        """The replay fields (`request_hash`, `replay_sealed`, `replay_until`) of the unit's clue
        posted with this Idempotency-Key's digest."""
        found = ClueDocument._get_collection().find_one(
            exact(frontline_unit=frontline_unit, idempotency_key=key_digest),
            {"request_hash": 1, "replay_sealed": 1, "replay_until_ms": 1})
        return _as_read(found) if found is not None else None

    def view(self, clue_id: str) -> Any:
        """The clue without reporter ciphertext, receipt digests or sealed replay, or None."""
        return ClueDocument.objects(id=clue_id).exclude(*_SECRETS).first()

    def unacknowledged(self, staged_before: datetime, limit: int) -> list[dict[str, Any]]:
        """Clues no case event acknowledged whose event last went out before then (as stored,
        without the reporter's and the replay's ciphertexts)."""
        due = {**exact(acknowledged=False), "last_staged_ms": {"$lt": to_ms(staged_before)}}
        found = ClueDocument._get_collection().find(due, {"reporter_sealed": 0, "replay_sealed": 0})
        return [_as_read(d) for d in found.limit(limit)]

    def count_unacknowledged(self) -> int:
        return count_exact(ClueDocument._get_collection(), acknowledged=False)

    def note_staged(self, clue_ids: list[str], at: datetime) -> None:
        ClueDocument._get_collection().update_many({"_id": {"$in": clue_ids}, **exact(acknowledged=False)},
                                                   {"$set": {"last_staged_ms": to_ms(at)}})

    def expire_replays(self, before: datetime, batch: int) -> int:
        """Erase the replay data of clues whose 24 h ended before then, `batch` at a time; how many."""
        # Clues stored before the digests were keyed hold a plain SHA-256 of the body and no
        # expiry: their replay data goes at once (its key's old digest then matches nothing new).
        due = {"$or": [{"replay_until_ms": {"$lt": to_ms(before)}},
                       {"request_hash": {"$type": "string"}, "replay_until_ms": {"$exists": False}}]}
        gone = {"$unset": {"request_hash": "", "replay_sealed": "", "replay_until_ms": ""}}
        return _in_batches(due, gone, {}, batch)

    def erase_sealed(self, closed_before: datetime, now: datetime, batch: int) -> int:
        """Erase the sealed identity and contact of clues closed before then; how many."""
        closed = exact(status=status.CLOSED)
        due = {**closed, "closed_ms": {"$lt": to_ms(closed_before)}, "reporter_sealed": {"$type": "string"}}
        erase = {"$unset": {"reporter_sealed": "", "contact_sealed": ""}, "$set": {"erased_ms": to_ms(now)}}
        return _in_batches(due, erase, closed, batch)  # guarded: a clue reopened meanwhile keeps it

    def review_batch(self, batch_id: str, wanted: dict[str, str]) -> dict[str, Any]:
        """The review batch `batch_id` as stored, made with `wanted` on first use."""
        batches = ImportBatch._get_collection()
        batches.update_one({"_id": batch_id}, {"$set": {"seen": True}, "$setOnInsert": wanted}, upsert=True)
        stored = batches.find_one({"_id": batch_id}) or {}
        if not stored.get("deadline"):  # a database that ignores $setOnInsert on upsert
            batches.update_one({"_id": batch_id, "deadline": None}, {"$set": wanted})
            stored = batches.find_one({"_id": batch_id}) or {}
        return stored


def _in_batches(due: dict[str, Any], change: dict[str, Any], guard: dict[str, Any], batch: int) -> int:
    """Apply `change` to the clues `due`, `batch` at a time (no long write); how many changed."""
    collection, done = ClueDocument._get_collection(), 0
    while True:
        ids = [d["_id"] for d in collection.find(due, {"_id": 1}).limit(batch)]
        if not ids:
            return done
        done += collection.update_many({"_id": {"$in": ids}, **guard}, change).modified_count
        if len(ids) < batch:
            return done


class MemoryClueStore:
    """The same store in dicts: for the use cases' unit tests."""

    def __init__(self) -> None:
        self.clues: dict[str, dict[str, Any]] = {}
        self.line_docs: dict[str, dict[str, Any]] = {}
        self.follow_ups: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    def add(self, clue_id: str, status: str, received_at: datetime, code_digest: str = "",
            secret_digest: str = "") -> None:
        """A received clue (what post_clue stores, as far as these use cases read it)."""
        self.clues[clue_id] = {"status": status, "received_at": received_at, "code": code_digest,
                               "secret": secret_digest, "acknowledged": False}

    def get(self, clue_id: str) -> Clue | None:
        found = self.clues.get(clue_id)
        return Clue(clue_id, found["status"], found["received_at"]) if found else None

    def by_receipt(self, code_digest: str) -> tuple[Clue, str] | None:
        for clue_id, found in self.clues.items():
            if found["code"] == code_digest:
                return Clue(clue_id, found["status"], found["received_at"]), found["secret"]
        return None

    def many(self, ids: Iterable[str]) -> dict[str, Clue]:
        return {i: clue for i in set(ids) if (clue := self.get(i)) is not None}

    def lines(self, clue_id: str) -> list[Line]:
        return sorted((line for line in self.line_docs.values() if line.clue_id == clue_id),
                      key=lambda line: line.at)

    def save(self, moves: list[Move]) -> bool:
        for move in moves:
            for line in move.lines:
                self.line_docs.setdefault(line.id, line)
        matched = [m for m in moves
                   if m.clue_id in self.clues and self.clues[m.clue_id]["status"] == m.before]
        for move in matched:
            self.clues[move.clue_id].update(_changes(move))
        return len(matched) == len(moves)

    def conflict_moved_to(self, clue_id: str) -> tuple[bool, str | None]:
        found = self.clues.get(clue_id)
        return found is not None, (found or {}).get("conflict_moved_to")

    def note_conflict(self, clue_id: str, jurisdiction: str) -> None:
        self.clues[clue_id]["conflict_moved_to"] = jurisdiction

    def add_follow_up(self, follow_up_id: str, clue_id: str, message: str, objection: bool, at: datetime,
                      event: dict[str, Any]) -> Mapping[str, Any]:
        if follow_up_id in self.follow_ups:
            raise me.NotUniqueError(f"follow-up {follow_up_id} exists")  # as the database's insert
        self.follow_ups[follow_up_id] = {"clue_id": clue_id, "message": message, "objection": objection,
                                         "at": at, "applied": False, **pending(event), "outbox_version": 0}
        return {"_id": follow_up_id, **self.follow_ups[follow_up_id]}

    def follow_up_applied(self, follow_up_id: str) -> None:
        self.follow_ups[follow_up_id]["applied"] = True

    def pending_follow_ups(self, limit: int) -> list[PendingFollowUp]:
        pending = [(i, f["clue_id"], f["objection"], f["at"]) for i, f in self.follow_ups.items()
                   if not f["applied"]]
        return pending[:limit]


    # ---- received clues as whole documents ----------------------------------------------------

    def insert(self, doc: dict[str, Any]) -> bool:
        code = doc["receipt_code_digest"]
        key = (doc["frontline_unit"], doc["idempotency_key"])
        taken = [f for f in self.clues.values()
                 if f["code"] == code or (f.get("frontline_unit"), f.get("idempotency_key")) == key]
        if taken or doc["_id"] in self.clues:
            return False
        self.clues[doc["_id"]] = {**as_stored(doc), "code": code, "secret": doc["receipt_secret_digest"]}
        return True

    def _docs(self) -> list[dict[str, Any]]:
        return [{"_id": i, **f} for i, f in self.clues.items()]

    def replay_of(self, frontline_unit: str, key_digest: str) -> dict[str, Any] | None:
        found = next((d for d in self._docs() if d.get("frontline_unit") == frontline_unit
                      and d.get("idempotency_key") == key_digest), None)
        return _as_read(found) if found is not None else None

    def view(self, clue_id: str) -> Any:
        found = self.clues.get(clue_id)
        shown = {k: v for k, v in (found or {}).items() if k not in (*_SECRETS, "code", "secret")}
        return SimpleNamespace(id=clue_id, **shown) if found else None

    def unacknowledged(self, staged_before: datetime, limit: int) -> list[dict[str, Any]]:
        cutoff = to_ms(staged_before)
        due = [d for d in self._docs() if not d["acknowledged"] and d["last_staged_ms"] < cutoff]
        hidden = ("reporter_sealed", "replay_sealed")
        return [_as_read({k: v for k, v in d.items() if k not in hidden}) for d in due][:limit]

    def count_unacknowledged(self) -> int:
        return sum(not found["acknowledged"] for found in self.clues.values())

    def note_staged(self, clue_ids: list[str], at: datetime) -> None:
        for clue_id in clue_ids:
            if not self.clues[clue_id]["acknowledged"]:
                self.clues[clue_id]["last_staged_ms"] = to_ms(at)

    def expire_replays(self, before: datetime, batch: int) -> int:
        before_ms = to_ms(before)
        due = [f for f in self.clues.values() if f.get("replay_until_ms", before_ms) < before_ms]
        for found in due:
            for name in ("request_hash", "replay_sealed", "replay_until_ms"):
                found.pop(name, None)
        return len(due)

    def erase_sealed(self, closed_before: datetime, now: datetime, batch: int) -> int:
        cutoff = to_ms(closed_before)
        due = [f for f in self.clues.values() if f["status"] == status.CLOSED and f.get("reporter_sealed")
               and f.get("closed_ms", cutoff) < cutoff]
        for found in due:
            found.pop("reporter_sealed")
            found.pop("contact_sealed", None)
            found["erased_ms"] = to_ms(now)
        return len(due)

    def review_batch(self, batch_id: str, wanted: dict[str, str]) -> dict[str, Any]:
        return self.batches.setdefault(batch_id, {"_id": batch_id, **wanted})


# The store the use cases use; `use(other)` swaps in a stand-in, returning the one before.
_current: Current[ClueStore | MemoryClueStore] = Current(ClueStore())
clues = _current.get
use = _current.use
