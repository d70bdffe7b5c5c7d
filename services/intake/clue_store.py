"""Where received clues, their timeline lines and the reporters' follow-ups are kept: the one place
the clue-moving use cases (timeline.py, follow_ups.py, case_events.py) reach the database through.

`ClueStore` speaks to MongoDB (or nx-27017) through the documents of documents.py; `MemoryClueStore`
keeps the same in dicts, for the use cases' unit tests. tests/integration/intake/test_clue_store.py
runs the same contract on both. `clues()` is the store the use cases use; `use()` swaps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from services.intake.documents import Clue as ClueDocument
from services.intake.documents import ClueUpdate, FollowUp
from services.intake.model import Clue, Line, Move
from shared.mongo import exact, insert_new
from shared.times import to_ms

PendingFollowUp = tuple[str, str, bool, datetime]  # id, clue id, objection, at


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

    def add_follow_up(self, item: FollowUp) -> None:
        item.save(force_insert=True)

    def follow_up_applied(self, follow_up_id: str) -> None:
        FollowUp._get_collection().update_one({"_id": follow_up_id}, {"$set": {"applied": True}})

    def pending_follow_ups(self, limit: int) -> list[PendingFollowUp]:
        found = FollowUp._get_collection().find(exact(applied=False), {"clue_id": 1, "objection": 1, "at": 1})
        return [(d["_id"], d["clue_id"], bool(d.get("objection")), d["at"]) for d in found.limit(limit)]


class MemoryClueStore:
    """The same store in dicts: for the use cases' unit tests."""

    def __init__(self) -> None:
        self.clues: dict[str, dict[str, Any]] = {}
        self.line_docs: dict[str, dict[str, Any]] = {}
        self.follow_ups: dict[str, dict[str, Any]] = {}

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

    def add_follow_up(self, item: FollowUp) -> None:
        if item.id in self.follow_ups:
            raise ValueError(f"follow-up {item.id} exists")
        self.follow_ups[item.id] = {"clue_id": item.clue_id, "objection": item.objection, "at": item.at,
                                    "applied": item.applied, "outbox": list(item.outbox or [])}

    def follow_up_applied(self, follow_up_id: str) -> None:
        self.follow_ups[follow_up_id]["applied"] = True

    def pending_follow_ups(self, limit: int) -> list[PendingFollowUp]:
        pending = [(i, f["clue_id"], f["objection"], f["at"]) for i, f in self.follow_ups.items()
                   if not f["applied"]]
        return pending[:limit]


_current: ClueStore | MemoryClueStore = ClueStore()


def clues() -> ClueStore | MemoryClueStore:
    """The store the use cases use."""
    return _current


def use(store: ClueStore | MemoryClueStore) -> ClueStore | MemoryClueStore:
    """Make `store` the use cases' store; returns the one it replaces."""
    global _current
    previous, _current = _current, store
    return previous
