"""MemoryClueStore: `ClueStore`'s interface over dicts, for the use cases' unit tests.

It keeps what the use cases rely on (unique receipt and Idempotency-Key, status-guarded
updates, lines written once) and nothing of the database's ways.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from services.intake import status
from services.intake.model import Clue

_HIDDEN = ("reporter_sealed", "contact_sealed", "receipt_code_digest", "receipt_secret_digest",
           "replay_sealed")


class MemoryClueStore:
    follow_up_document: Any = "follow_ups"

    def __init__(self) -> None:
        self.clues: dict[str, dict[str, Any]] = {}
        self.timeline: dict[str, dict[str, Any]] = {}
        self.follow_ups: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    def _find(self, **fields: Any) -> list[dict[str, Any]]:
        return [d for d in self.clues.values() if all(d.get(k) == v for k, v in fields.items())]

    def insert(self, clue: Clue) -> bool:
        doc = clue.doc
        if doc["_id"] in self.clues or self._find(receipt_code_digest=doc["receipt_code_digest"]) or \
                self._find(frontline_unit=doc["frontline_unit"], idempotency_key=doc["idempotency_key"]):
            return False
        self.clues[doc["_id"]] = copy.deepcopy(doc)
        return True

    def by_idempotency_key(self, frontline_unit: str, key_digest: str) -> Clue | None:
        found = self._find(frontline_unit=frontline_unit, idempotency_key=key_digest)
        return Clue(copy.deepcopy(found[0])) if found else None

    def by_receipt(self, code_digest: str) -> Clue | None:
        found = self._find(receipt_code_digest=code_digest)
        return Clue(copy.deepcopy(found[0])) if found else None

    def get(self, clue_id: str) -> Clue | None:
        doc = self.clues.get(clue_id)
        return Clue({k: copy.deepcopy(v) for k, v in doc.items() if k not in _HIDDEN}) if doc else None

    def statuses(self, clue_ids: Iterable[str]) -> dict[str, str]:
        return {i: self.clues[i]["status"] for i in clue_ids if i in self.clues}

    def update(self, clue_id: str, changes: dict[str, Any], expected_status: str | None = None) -> bool:
        doc = self.clues.get(clue_id)
        if doc is None or (expected_status is not None and doc["status"] != expected_status):
            return False
        doc.update(copy.deepcopy(changes))
        return True

    def update_many(self, moves: list[tuple[str, str, dict[str, Any]]]) -> int:
        return sum(self.update(clue_id, changes, expected) for clue_id, expected, changes in moves)

    def add_lines(self, lines: list[dict[str, Any]]) -> None:
        for line in lines:
            self.timeline.setdefault(line["_id"], dict(line))

    def lines(self, clue_id: str) -> list[dict[str, Any]]:
        mine = [ln for ln in self.timeline.values() if ln["clue_id"] == clue_id]
        return sorted(mine, key=lambda ln: ln["at"])

    def add_follow_up(self, item: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        stored = {**item, "outbox": [event], "outbox_pending": True}
        self.follow_ups[item["_id"]] = stored
        return stored

    def follow_up_applied(self, follow_up_id: str) -> None:
        self.follow_ups[follow_up_id]["applied"] = True

    def unapplied_follow_ups(self, limit: int) -> list[dict[str, Any]]:
        return [f for f in self.follow_ups.values() if f.get("applied") is False][:limit]

    def unacknowledged(self, staged_before_ms: int, limit: int) -> list[Clue]:
        due = [d for d in self._find(acknowledged=False) if d["last_staged_ms"] < staged_before_ms]
        hidden = ("reporter_sealed", "replay_sealed")
        return [Clue({k: copy.deepcopy(v) for k, v in d.items() if k not in hidden}) for d in due[:limit]]

    def count_unacknowledged(self) -> int:
        return len(self._find(acknowledged=False))

    def note_staged(self, clue_ids: list[str], at_ms: int) -> None:
        for clue_id in clue_ids:
            if not self.clues[clue_id]["acknowledged"]:
                self.clues[clue_id]["last_staged_ms"] = at_ms

    def expire_replays(self, before_ms: int, batch: int) -> int:
        due = [d for d in self.clues.values() if d.get("replay_until_ms", before_ms) < before_ms]
        for doc in due:
            for name in ("request_hash", "replay_sealed", "replay_until_ms"):
                doc.pop(name, None)
        return len(due)

    def erase_sealed(self, closed_before_ms: int, now_ms: int, batch: int) -> int:
        due = [d for d in self._find(status=status.CLOSED)
               if d.get("closed_ms", closed_before_ms) < closed_before_ms and d.get("reporter_sealed")]
        for doc in due:
            doc.pop("reporter_sealed")
            doc.pop("contact_sealed", None)
            doc["erased_ms"] = now_ms
        return len(due)

    def review_batch(self, batch_id: str, wanted: dict[str, str]) -> dict[str, Any]:
        return self.batches.setdefault(batch_id, {"_id": batch_id, **wanted})
