"""Routing (归口办理, 属地管理): which handling unit gets a clue, and which cadre inside it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction

from .registry import Registry

SERIOUS_CATEGORIES: frozenset[str] = frozenset({"bribery", "extortion", "entrapment"})


@dataclass(frozen=True)
class Route:
    """Where a clue goes. mode: `embedded` (归口), `territorial` (属地) or `triage`
    (the city unit's queue, for a person to route; `reason` says why)."""

    unit: str
    mode: str
    reason: str | None = None


@dataclass(frozen=True)
class CadreLoad:
    """A cadre's current load as the storage layer sees it."""

    id: str
    load: int
    capacity: int
    active: bool = True
    last_assigned_at: datetime | None = None


@dataclass(frozen=True)
class SeriousRules:
    """When a case is serious enough to get a lead cadre (领导包案)."""

    amount_cny: int = 10_000
    categories: frozenset[str] = field(default_factory=lambda: SERIOUS_CATEGORIES)


def route(jurisdiction: str, employer: str | None, registry: Registry) -> Route:
    """Route a clue: the employer's embedded group at the clue's district if there is one,
    else the jurisdiction's commission; an unknown jurisdiction goes to city triage
    with reason `unroutable`. An unknown employer is routed territorially."""
    if registry.jurisdiction(jurisdiction) is None:
        return Route(registry.city_unit(), "triage", "unroutable")
    district = registry.district_of(jurisdiction)
    if employer and district:
        group = registry.embedded_group_for(employer.strip(), district)
        if group is not None:
            return Route(group, "embedded")
    unit = registry.unit_for_jurisdiction(jurisdiction)
    if unit is None:
        return Route(registry.city_unit(), "triage", "unroutable")
    return Route(unit, "territorial")


def _recency_key(when: datetime | None) -> tuple[int, float]:
    # Never assigned sorts first; then the earliest last assignment.
    return (0, 0.0) if when is None else (1, when.timestamp())


def cadre_preference(cadres: Iterable[CadreLoad]) -> list[str]:
    """Ids of the cadres that can take one more case, best first: active, load < capacity,
    lowest load/capacity (exact), then least recently assigned (never first), then id.
    The storage layer tries to claim them atomically in this order."""
    open_cadres = [c for c in cadres if c.active and c.capacity > 0 and c.load < c.capacity]
    open_cadres.sort(
        key=lambda c: (Fraction(c.load, c.capacity), _recency_key(c.last_assigned_at), c.id)
    )
    return [c.id for c in open_cadres]


def plan_picks(cadres: Iterable[CadreLoad], count: int, now: datetime) -> list[str]:
    """The cadres that `count` claims one after another would take, in order: each is the head of
    `cadre_preference` once the earlier picks are counted in (one more case each, assigned
    `now`). Shorter than `count` when the cadres fill up."""
    current = {c.id: c for c in cadres}
    picks: list[str] = []
    for _ in range(count):
        order = cadre_preference(current.values())
        if not order:
            break
        best = current[order[0]]
        current[best.id] = replace(best, load=best.load + 1, last_assigned_at=now)
        picks.append(best.id)
    return picks


def is_serious(
    escalation_reasons: Collection[str],
    amount_cny: int | None,
    category: str,
    collusion: bool,
    rules: SeriousRules | None = None,
) -> bool:
    """True if the case gets a lead cadre: any escalation reason, money at or above the
    threshold, a serious category (bribery, extortion, entrapment by default), or collusion."""
    rules = rules or SeriousRules()
    return (
        bool(escalation_reasons)
        or (amount_cny is not None and amount_cny >= rules.amount_cny)
        or category in rules.categories
        or collusion
    )
