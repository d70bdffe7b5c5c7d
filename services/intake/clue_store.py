"""ClueStore: the only module that reads and writes clues, their timelines, their follow-ups and
the review batches, and the only one that knows the local database's ways (`exact()` filters on
scalar fields, times kept as epoch milliseconds where a `$set` datetime would turn into text on
nx-27017, no count aggregations).

Reads return `model.Clue` (or plain dicts for lines and follow-ups); writes take what the
aggregate's transitions return. `memory_store.MemoryClueStore` is the same interface in a dict,
for the use cases' unit tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import mongoengine as me
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from services.intake import status
from services.intake.documents import Clue as ClueDocument
from services.intake.documents import ClueUpdate, FollowUp, ImportBatch
from services.intake.model import Clue
from shared.mongo import count_exact, exact, insert_new
from shared.outbox import OutboxDocument

# Never read back by a use case that does not need them: the reporter's ciphertext and secrets.
_SECRETS = {"reporter_sealed": 0, "contact_sealed": 0, "receipt_code_digest": 0,
            "receipt_secret_digest": 0, "replay_sealed": 0}


class ClueStore:
    """Intake's clues on MongoDB (the mongoengine documents of `documents`)."""

    follow_up_document: type[OutboxDocument] = FollowUp  # what the relay publishes follow-ups from

    def _clues(self):
        return ClueDocument._get_collection()

    def insert(self, clue: Clue) -> bool:
        """Store a new clue in one insert; False if a unique key (receipt, Idempotency-Key) is taken."""
        try:
            # pymongo directly: mongoengine's bookkeeping cost more than the rest of the request.
            self._clues().insert_one(clue.doc)
        except (me.NotUniqueError, DuplicateKeyError):
            return False
        return True

    def by_idempotency_key(self, frontline_unit: str, key_digest: str) -> Clue | None:
        found = self._clues().find_one(exact(frontline_unit=frontline_unit, idempotency_key=key_digest),
                                       {"request_hash": 1, "replay_sealed": 1, "replay_until_ms": 1})
        return Clue(found) if found else None

    def by_receipt(self, code_digest: str) -> Clue | None:
        found = self._clues().find_one(exact(receipt_code_digest=code_digest),
                                       {"status": 1, "received_at": 1, "receipt_secret_digest": 1})
        return Clue(found) if found else None

    def get(self, clue_id: str) -> Clue | None:
        """The clue without reporter ciphertext, receipt digests or sealed replay."""
        found = self._clues().find_one({"_id": clue_id}, _SECRETS)
        return Clue(found) if found else None

    def statuses(self, clue_ids: Iterable[str]) -> dict[str, str]:
        found = self._clues().find({"_id": {"$in": list(clue_ids)}}, {"status": 1})
        return {d["_id"]: d["status"] for d in found}

    def update(self, clue_id: str, changes: dict[str, Any], expected_status: str | None = None) -> bool:
        """Set `changes` on the clue, only if its status is still `expected_status` (when given)."""
        guard = {"_id": clue_id, **({"status": expected_status} if expected_status else {})}
        return self._clues().update_one(guard, {"$set": changes}).matched_count == 1

    def update_many(self, moves: list[tuple[str, str, dict[str, Any]]]) -> int:
        """`update` for each (clue id, expected status, changes) in one write; how many matched."""
        if not moves:
            return 0
        writes = [UpdateOne({"_id": i, "status": s}, {"$set": c}) for i, s, c in moves]
        return self._clues().bulk_write(writes, ordered=False).matched_count

    def add_lines(self, lines: list[dict[str, Any]]) -> None:
        """Add timeline lines; one already there (a re-delivered event's) is left as it is."""
        if lines:
            insert_new(ClueUpdate._get_collection(), lines)

    def lines(self, clue_id: str) -> list[dict[str, Any]]:
        return list(ClueUpdate._get_collection().find(exact(clue_id=clue_id)).sort("at", 1))

    def add_follow_up(self, item: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        """Store a follow-up with its event in its outbox, in one insert; the document as stored."""
        doc = FollowUp(id=item["_id"], clue_id=item["clue_id"], message=item["message"],
                       objection=item["objection"], at=item["at"], applied=False)
        doc.stage(event)
        doc.save(force_insert=True)
        return doc.to_mongo().to_dict()

    def follow_up_applied(self, follow_up_id: str) -> None:
        FollowUp.objects(id=follow_up_id).update_one(set__applied=True)

    def unapplied_follow_ups(self, limit: int) -> list[dict[str, Any]]:
        fields = {"clue_id": 1, "objection": 1, "at": 1}
        return list(FollowUp._get_collection().find(exact(applied=False), fields).limit(limit))

    def unacknowledged(self, staged_before_ms: int, limit: int) -> list[Clue]:
        """Clues not acknowledged whose event last went out before then (without the vault's texts)."""
        due = {**exact(acknowledged=False), "last_staged_ms": {"$lt": staged_before_ms}}
        found = self._clues().find(due, {"reporter_sealed": 0, "replay_sealed": 0}).limit(limit)
        return [Clue(d) for d in found]

    def count_unacknowledged(self) -> int:
        return count_exact(self._clues(), acknowledged=False)

    def note_staged(self, clue_ids: list[str], at_ms: int) -> None:
        """Note when the events of these clues (still unacknowledged) went out again."""
        self._clues().update_many({"_id": {"$in": clue_ids}, **exact(acknowledged=False)},
                                  {"$set": {"last_staged_ms": at_ms}})

    def expire_replays(self, before_ms: int, batch: int) -> int:
        """Erase the replay data of clues whose replay window ended before then; how many."""
        # Clues stored before the digests were keyed hold a plain SHA-256 of the body and no
        # expiry: their replay data goes at once (its key's old digest then matches nothing new).
        due = {"$or": [{"replay_until_ms": {"$lt": before_ms}},
                       {"request_hash": {"$type": "string"}, "replay_until_ms": {"$exists": False}}]}
        return self._in_batches(due, {"$unset": {"request_hash": "", "replay_sealed": "",
                                                 "replay_until_ms": ""}}, {}, batch)

    def erase_sealed(self, closed_before_ms: int, now_ms: int, batch: int) -> int:
        """Erase the sealed identity and contact of clues closed before then; how many."""
        closed = exact(status=status.CLOSED)
        due = {**closed, "closed_ms": {"$lt": closed_before_ms}, "reporter_sealed": {"$type": "string"}}
        # Guarded by status, so a clue reopened since the read keeps its identity.
        change = {"$unset": {"reporter_sealed": "", "contact_sealed": ""}, "$set": {"erased_ms": now_ms}}
        return self._in_batches(due, change, closed, batch)

    def _in_batches(self, due: dict, change: dict, guard: dict, batch: int) -> int:
        done = 0
        while True:
            ids = [d["_id"] for d in self._clues().find(due, {"_id": 1}).limit(batch)]
            if not ids:
                return done
            done += self._clues().update_many({"_id": {"$in": ids}, **guard}, change).modified_count
            if len(ids) < batch:
                return done

    def review_batch(self, batch_id: str, wanted: dict[str, str]) -> dict[str, Any]:
        """The review batch `batch_id`, made with `wanted` on first use; as stored."""
        batches = ImportBatch._get_collection()
        batches.update_one({"_id": batch_id}, {"$set": {"seen": True}, "$setOnInsert": wanted}, upsert=True)
        stored = batches.find_one({"_id": batch_id}) or {}
        if not stored.get("deadline"):  # a database that ignores $setOnInsert on upsert
            batches.update_one({"_id": batch_id, "deadline": None}, {"$set": wanted})
            stored = batches.find_one({"_id": batch_id}) or {}
        return stored
