"""Statistics counters kept as cases move: one document per quarter, basis and jurisdiction.

A fact (a clue received, a case accepted, escalated, supervised, closed, overdue, a duty missed)
is counted once: its mark (a deterministic id) is inserted first, and only the facts whose mark
is new add their increments, summed per counter document into one bulk write. A stats request
then reads the counter documents of the jurisdictions asked about: their number, not the number
of cases, bounds its cost. (A process dying between the mark and the increment loses that one
count; redelivery cannot double one.)
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from . import statistics
from .documents import StatCounter, StatMark
from .registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fact:
    """One countable thing: `mark` names it; `at` picks the quarter; `where` maps each basis to
    the jurisdiction it counts at; `fields` are the increments."""

    mark: str
    at: datetime
    where: Mapping[str, str | None]
    fields: Mapping[str, float] = field(default_factory=dict)


def counter_id(quarter: str, basis: str, jurisdiction: str) -> str:
    return f"{quarter}|{basis}|{jurisdiction}"


def unit_jurisdiction(registry: Registry, unit: str | None) -> str | None:
    found = registry.unit(unit) if unit else None
    return found.jurisdiction if found else None


def where(case: Mapping[str, Any], registry: Registry, unit: str | None = None) -> dict[str, str | None]:
    """The two places a fact about `case` counts: where its clue was received, and the
    jurisdiction of `unit` (default: the case's unit now)."""
    handled = unit_jurisdiction(registry, unit or case.get("unit"))
    return {"received": case.get("jurisdiction"), "handled": handled}


def _new_marks(facts: list[Fact]) -> list[Fact]:
    marks = StatMark._get_collection()
    docs = [{"_id": f.mark, "at": f.at} for f in facts]
    try:
        marks.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        seen = {e["index"] for e in errors}
        return [f for i, f in enumerate(facts) if i not in seen]
    return facts


def record(facts: Iterable[Fact]) -> int:
    """Count the facts not counted before; returns how many were new. Never raises for counting
    trouble (statistics must not stop a case from moving): it is logged."""
    facts = [f for f in facts if f.fields]
    if not facts:
        return 0
    try:
        fresh = _new_marks(list({f.mark: f for f in facts}.values()))
        sums: dict[tuple[str, str, str], Counter[str]] = {}
        for fact in fresh:
            quarter = statistics.quarter_of(fact.at)
            for basis, jurisdiction in fact.where.items():
                if jurisdiction:
                    statistics.add(sums.setdefault((quarter, basis, jurisdiction), Counter()), fact.fields)
        if sums:
            StatCounter._get_collection().bulk_write(
                [
                    UpdateOne(
                        {"_id": counter_id(*key)},
                        {"$set": {"quarter": key[0], "basis": key[1], "jurisdiction": key[2]},
                         "$inc": dict(counts)},
                        upsert=True,
                    )
                    for key, counts in sums.items()
                ],
                ordered=False,
            )
        return len(fresh)
    except Exception:  # noqa: BLE001 - counting must never fail a case's move
        log.exception("statistics counters not updated", extra={"facts": len(facts)})
        return 0


def read(quarters: Iterable[str], jurisdictions: Iterable[str]) -> dict[tuple[str, str], Counter[str]]:
    """Summed counters by (basis, jurisdiction) over the quarters: one indexed read by id."""
    ids = [counter_id(q, b, j) for q in quarters for b in statistics.BASES for j in jurisdictions]
    out: dict[tuple[str, str], Counter[str]] = {}
    for doc in StatCounter._get_collection().find({"_id": {"$in": ids}}):
        statistics.add(out.setdefault((doc["basis"], doc["jurisdiction"]), Counter()), doc)
    return out
