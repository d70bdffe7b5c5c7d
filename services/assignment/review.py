"""The review of old clues (大起底/回头看) as batches: each batch's name and 限期处置 deadline, and
its progress: total, in hand, closed, overdue, by unit (one indexed read of the batch's cases,
through review_store.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.auth import Principal
from shared.problems import Problem

from . import review_store
from .documents import OPEN_STATUSES
from .registry import Registry


def remember_batches(datas: Iterable[Mapping[str, Any]], now: datetime) -> None:
    """Keep the batches named by these clue-received data (first seen wins; upserts)."""
    seen: dict[str, Mapping[str, Any]] = {}
    for data in datas:
        batch = data.get("batch")
        if batch:
            seen[batch["id"]] = batch
    review_store.remember(seen, now)


def _units(principal: Principal, registry: Registry) -> list[str] | None:
    if principal.role == "admin":
        return None
    return list(registry.units_within(principal.scope))


def _figures(docs: list[dict[str, Any]], now: datetime) -> dict[str, int]:
    open_ = [d for d in docs if d["status"] in OPEN_STATUSES]
    return {
        "total": len(docs),
        "in_hand": len(open_),
        "closed": sum(1 for d in docs if d["status"] == "closed"),
        "overdue": sum(1 for d in open_ if d["due_at"] < now),
        "reviews": sum(1 for d in docs if d.get("kind") == "review"),
    }


def summary(
    batch: Mapping[str, Any], principal: Principal, registry: Registry, now: datetime
) -> dict[str, Any]:
    """One batch's progress over the cases the principal may see, with a row per unit."""
    docs = review_store.cases_of(batch["_id"], _units(principal, registry))
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_unit.setdefault(doc["unit"], []).append(doc)
    rows = []
    for code, unit_docs in sorted(by_unit.items(), key=lambda kv: -len(kv[1])):
        unit = registry.unit(code)
        rows.append({"unit": code, "unit_name": unit.name if unit else code, **_figures(unit_docs, now)})
    return {
        "batch_id": batch["_id"], "name": batch["name"], "deadline": batch["deadline"],
        **_figures(docs, now), "by_unit": rows,
    }


def batches(principal: Principal, registry: Registry, now: datetime) -> list[dict[str, Any]]:
    """Every batch with cases in scope, nearest deadline first."""
    out = [summary(b, principal, registry, now) for b in review_store.all_batches()]
    return [b for b in out if b["total"] or principal.role == "admin"]


def batch(batch_id: str, principal: Principal, registry: Registry, now: datetime) -> dict[str, Any]:
    found = review_store.find(batch_id)
    if found is None:
        raise Problem(404, "Not Found", "no such review batch")
    return summary(found, principal, registry, now)


