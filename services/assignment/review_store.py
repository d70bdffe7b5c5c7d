"""The review batches of old clues (大起底/回头看) as stored, and the one read of a batch's cases
its progress needs (through the case store in use, store.py). Deadlines cross this module's edge
as datetimes (stored as epoch ms)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from shared.times import from_ms, to_ms

from .documents import ReviewBatch
from .store import case_store


def _batch(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {"_id": doc["_id"], "name": doc["name"], "deadline": from_ms(doc["deadline"])}


def remember(batches: Mapping[str, Mapping[str, Any]], now: datetime) -> None:
    """Keep each batch (id -> its `name` and `deadline`), replacing what was kept under that id."""
    for batch_id, batch in batches.items():
        ReviewBatch._get_collection().update_one(
            {"_id": batch_id},
            {"$set": {"name": batch["name"], "deadline": to_ms(batch["deadline"]), "created_at": now}},
            upsert=True,
        )


def all_batches() -> list[dict[str, Any]]:
    """Every batch (`_id`, `name`, `deadline`), nearest deadline first."""
    found = sorted(ReviewBatch._get_collection().find({}), key=lambda b: b["deadline"])
    return [_batch(doc) for doc in found]


def find(batch_id: str) -> dict[str, Any] | None:
    found = ReviewBatch._get_collection().find_one({"_id": batch_id})
    return _batch(found) if found else None


def cases_of(batch_id: str, units: Collection[str] | None) -> list[dict[str, Any]]:
    """The batch's cases (of `units` only, unless None): `status`, `due_at`, `unit`, `kind`."""
    query: dict[str, Any] = {"batch_id": batch_id}
    if units is not None:
        query["unit"] = {"$in": list(units)}
    found = case_store().select(query, {"status": 1, "due_at": 1, "unit": 1, "kind": 1})
    return [{"status": d["status"], "due_at": d["due_at"], "unit": d["unit"], "kind": d.get("kind")}
            for d in found]
