"""Statistics counters kept as cases move: one document per quarter, basis and jurisdiction.

A fact (a clue received, a case accepted, escalated, supervised, closed, overdue, a duty missed)
is counted once: its mark (a deterministic id) is inserted first, and only the facts whose mark
is new add their increments, summed per counter document into one bulk write. A stats request
then reads the counter documents of the jurisdictions asked about: their number, not the number
of cases, bounds its cost. (A process dying between the mark and the increment loses that one
count; redelivery cannot double one.) The marks and counter documents are counter_store.py's.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import counter_store, statistics
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


def unit_jurisdiction(registry: Registry, unit: str | None) -> str | None:
    found = registry.unit(unit) if unit else None
    return found.jurisdiction if found else None


def where(case: Mapping[str, Any], registry: Registry, unit: str | None = None) -> dict[str, str | None]:
    """The two places a fact about `case` counts: where its clue was received, and the
    jurisdiction of `unit` (default: the case's unit now)."""
    handled = unit_jurisdiction(registry, unit or case.get("unit"))
    return {"received": case.get("jurisdiction"), "handled": handled}


def record(facts: Iterable[Fact]) -> int:
    """Count the facts not counted before; returns how many were new. Never raises for counting
    trouble (statistics must not stop a case from moving): it is logged."""
    facts = [f for f in facts if f.fields]
    if not facts:
        return 0
    try:
        unique = {f.mark: f for f in facts}
        new = counter_store.new_marks({mark: f.at for mark, f in unique.items()})
        fresh = [f for mark, f in unique.items() if mark in new]
        sums: dict[counter_store.CounterKey, Counter[str]] = {}
        for fact in fresh:
            quarter = statistics.quarter_of(fact.at)
            for basis, jurisdiction in fact.where.items():
                if jurisdiction:
                    statistics.add(sums.setdefault((quarter, basis, jurisdiction), Counter()), fact.fields)
        counter_store.add(sums)
        return len(fresh)
    except Exception:  # noqa: BLE001 - counting must never fail a case's move
        log.exception("statistics counters not updated", extra={"facts": len(facts)})
        return 0


def read(quarters: Iterable[str], jurisdictions: Iterable[str]) -> dict[tuple[str, str], Counter[str]]:
    """Summed counters by (basis, jurisdiction) over the quarters: one indexed read by id."""
    keys = [(q, b, j) for q in quarters for b in statistics.BASES for j in jurisdictions]
    out: dict[tuple[str, str], Counter[str]] = {}
    for (_quarter, basis, jurisdiction), counts in counter_store.read(keys).items():
        statistics.add(out.setdefault((basis, jurisdiction), Counter()), counts)
    return out
