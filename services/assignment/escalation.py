"""Escalation (提级直查) and supervision (重点督办): when a case moves up, and where to.

Levels rise town -> district -> city (embedded groups sit at their district). Reason codes:

- `rank`: the subject's rank needs a higher level (干部管理权限; see RANK_LEVELS);
- `conflict`: the subject works in the handling unit (a cadre of it, or employed by any discipline
  body), or leads its jurisdiction (or one above);
- `amount`: money >= 50,000 CNY needs the district, >= 500,000 CNY the city;
- `repeat`: >= 3 clues about the subject within 365 days (this clue included);
- `collusion`, `overdue`, `manual`: one level up;
- `network`: the case belongs to a network of the relationship map (关系图): it goes to the unit
  that covers every case of the network (see services/assignment/relmap.py), which leads the
  joint handling (协作办案).

`rank` and `amount` move the case straight to the lowest level where they no longer hold
(a staff member with 600,000 CNY goes town -> city); the others move it one level up.
A city case cannot go higher: it becomes supervised at the city.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .registry import LEVELS, Registry
from .registry import normalise_name as normalise_name

RANKS: tuple[str, ...] = ("staff", "village", "section", "division", "bureau")
RANK_LEVELS: Mapping[str, str] = {
    "staff": "town",
    "village": "town",
    "section": "district",
    "division": "city",
    "bureau": "city",
}
"""The lowest level allowed to handle each rank (town also handles auxiliaries and contract
workers, who are `staff`)."""
REASONS: tuple[str, ...] = (
    "rank",
    "conflict",
    "amount",
    "repeat",
    "collusion",
    "network",
    "overdue",
    "manual",
)
"""All reason codes, in the stable order reasons are reported."""


@dataclass(frozen=True)
class EscalationRules:
    """Escalation thresholds (configuration; DOMAIN.md's defaults)."""

    district_amount_cny: int = 50_000
    city_amount_cny: int = 500_000
    repeat_count: int = 3
    repeat_window_days: int = 365
    overdue_grace_days: int = 15
    rank_levels: Mapping[str, str] = field(default_factory=lambda: dict(RANK_LEVELS))


@dataclass(frozen=True)
class Subject:
    """The person a clue is about, as far as escalation cares."""

    name: str
    employer: str | None = None
    rank: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Subject:
        """Build from a clue's `subject` object (extra keys such as `position` are ignored)."""
        return cls(
            name=data.get("name") or "", employer=data.get("employer"), rank=data.get("rank")
        )


@dataclass(frozen=True)
class Escalation:
    """A decision: `direct_investigation` by `to_unit`, or `supervised` by it (at the city,
    the city unit supervises its own case)."""

    to_unit: str
    mode: str
    reasons: tuple[str, ...]


def _level_index(level: str) -> int:
    return LEVELS.index(level)


def rank_level(rank: str, rules: EscalationRules | None = None) -> str:
    """The lowest level that may handle a subject of this rank; ValueError if unknown."""
    rules = rules or EscalationRules()
    try:
        return rules.rank_levels[rank]
    except KeyError:
        raise ValueError(f"unknown rank {rank!r}") from None


def amount_level(amount_cny: int | None, rules: EscalationRules | None = None) -> str:
    """The lowest level that may handle this much money: town below the district threshold,
    district from it (>= 50,000 by default), city from the city threshold (>= 500,000)."""
    rules = rules or EscalationRules()
    if amount_cny is None or amount_cny < rules.district_amount_cny:
        return "town"
    if amount_cny < rules.city_amount_cny:
        return "district"
    return "city"


def required_level(
    subject_rank: str | None, amount_cny: int | None, rules: EscalationRules | None = None
) -> str:
    """The lowest level at which neither `rank` nor `amount` holds."""
    levels = [amount_level(amount_cny, rules)]
    if subject_rank:
        levels.append(rank_level(subject_rank, rules))
    return max(levels, key=_level_index)


def sort_reasons(codes: Iterable[str]) -> tuple[str, ...]:
    """Deduplicate reason codes and put them in REASONS order; ValueError on an unknown code."""
    wanted = set(codes)
    unknown = wanted - set(REASONS)
    if unknown:
        raise ValueError(f"unknown escalation reasons: {sorted(unknown)}")
    return tuple(r for r in REASONS if r in wanted)


def reasons(
    unit_level: str,
    subject_rank: str | None,
    amount_cny: int | None,
    collusion: bool,
    repeat_count: int,
    conflict: bool,
    rules: EscalationRules | None = None,
) -> list[str]:
    """The escalation reasons that hold for a case at a unit of `unit_level`, in REASONS order.

    `repeat_count` counts clues about the subject within the window, this one included.
    At the city, `rank` and `amount` never hold; the others do (and lead to supervision).
    """
    rules = rules or EscalationRules()
    here = _level_index(unit_level)
    found = []
    if subject_rank and _level_index(rank_level(subject_rank, rules)) > here:
        found.append("rank")
    if conflict:
        found.append("conflict")
    if _level_index(amount_level(amount_cny, rules)) > here:
        found.append("amount")
    if repeat_count >= rules.repeat_count:
        found.append("repeat")
    if collusion:
        found.append("collusion")
    return found


def count_recent(timestamps: Iterable[datetime], now: datetime, window_days: int) -> int:
    """How many timestamps fall within `window_days` before `now`, the edge included
    (exactly 365 days ago counts, 365 days and a second does not). Later ones count too."""
    since = now - timedelta(days=window_days)
    return sum(1 for t in timestamps if t >= since)


def conflict_of_interest(subject: Subject, unit: str, registry: Registry) -> bool:
    """True if the unit may not handle a clue about this subject: the subject is employed by a
    discipline body (`employer` names a unit code such as ``foshan/chancheng/shiwan#commission``),
    or `conflicted_with` the unit."""
    employer = (subject.employer or "").strip()
    if employer and registry.unit(employer) is not None:
        return True
    return conflicted_with(subject, unit, registry)


def conflicted_with(subject: Subject, unit: str, registry: Registry) -> bool:
    """True if the subject works in the handling unit itself (employer == unit code, or a cadre
    of the unit by the registry's names), or is a leader of the jurisdiction the unit serves or
    of one above it, or, for an embedded group, a leader of the bureau it serves."""
    if subject.employer and subject.employer.strip() == unit:
        return True
    handling = registry.unit(unit)
    if handling is None or not subject.name:
        return False
    name = normalise_name(subject.name)
    if any(normalise_name(c.name) == name for c in registry.cadres_of(unit)):
        return True
    if handling.serves_employer:
        employer = registry.employer(handling.serves_employer)
        if employer is not None and name in employer.leaders:
            return True
    code: str | None = handling.jurisdiction
    while code is not None:
        jurisdiction = registry.jurisdiction(code)
        if jurisdiction is None:
            break
        if name in jurisdiction.leaders:
            return True
        code = jurisdiction.parent
    return False


def _commission_at(registry: Registry, unit: str, level: str) -> str:
    jurisdiction = registry.ancestor_at(registry.unit(unit).jurisdiction, level)
    found = registry.unit_for_jurisdiction(jurisdiction) if jurisdiction else None
    return found or registry.city_unit()


def target_unit(
    unit: str,
    reasons: Iterable[str],
    registry: Registry,
    *,
    required_level: str | None = None,
) -> Escalation | None:
    """Where a case at `unit` goes for these reasons; None if there are none.

    `rank`/`amount` go to the commission at `required_level` (see required_level(); one level
    up if not given); the other reasons at least one level up. At the city: supervised there.
    """
    codes = sort_reasons(reasons)
    if not codes:
        return None
    here = _level_index(registry.level_of(unit))
    if LEVELS[here] == "city":
        return Escalation(registry.city_unit(), "supervised", codes)
    target = here + 1
    if required_level is not None and ({"rank", "amount"} & set(codes)):
        target = max(target, _level_index(required_level))
    return Escalation(_commission_at(registry, unit, LEVELS[target]), "direct_investigation", codes)


def supervision(unit: str, registry: Registry, reasons: Iterable[str] = ("overdue",)) -> Escalation:
    """The first step for an overdue case: the level above supervises it without taking it
    over (重点督办); a city case is supervised by the city unit itself."""
    watcher = registry.parent_unit(unit) or registry.city_unit()
    return Escalation(watcher, "supervised", sort_reasons(reasons))


def decide(
    unit: str,
    subject: Subject,
    amount_cny: int | None,
    collusion: bool,
    repeat_count: int,
    registry: Registry,
    rules: EscalationRules | None = None,
    extra_reasons: Iterable[str] = (),
    already: Iterable[str] = (),
) -> Escalation | None:
    """The whole escalation decision for a case at `unit` (None: it stays). `extra_reasons`
    adds `manual` or `overdue`; reasons in `already` (the case was moved for them before) do
    not move it again, except `rank` and `amount`, which hold only while the level is too low.
    If the subject also has a conflict of interest with the target unit, the case goes on up
    until it has none, or reaches the city."""
    rules = rules or EscalationRules()
    conflict = conflict_of_interest(subject, unit, registry)
    before = set(already) - {"rank", "amount"}
    level = registry.level_of(unit)
    found = reasons(level, subject.rank, amount_cny, collusion, repeat_count, conflict, rules)
    found = [r for r in found if r not in before]
    decision = target_unit(
        unit,
        [*found, *extra_reasons],
        registry,
        required_level=required_level(subject.rank, amount_cny, rules),
    )
    if decision is None or decision.mode == "supervised":
        return decision
    to_unit = decision.to_unit
    while registry.level_of(to_unit) != "city" and conflicted_with(subject, to_unit, registry):
        to_unit = registry.parent_unit(to_unit) or registry.city_unit()
    codes = (
        decision.reasons
        if to_unit == decision.to_unit
        else sort_reasons([*decision.reasons, "conflict"])
    )
    return Escalation(to_unit, decision.mode, codes)
