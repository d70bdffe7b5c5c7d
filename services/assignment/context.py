"""What every use case of the assignment service needs besides its input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.mongo import utcnow

from .deadlines import DeadlineRules
from .escalation import EscalationRules
from .registry import Registry, normalise_name
from .routing import SeriousRules

SYSTEM = "system"
MAX_ATTEMPTS = 8


@dataclass
class Context:
    """The registry, the rules, the clock, and `wake` (asks the outbox relay to publish a case's
    pending events now)."""

    registry: Callable[[], Registry]
    rules: EscalationRules = field(default_factory=EscalationRules)
    deadlines: DeadlineRules = field(default_factory=DeadlineRules)
    serious: SeriousRules = field(default_factory=SeriousRules)
    wake: Callable[[dict[str, Any]], None] = lambda _case: None
    clock: Callable[[], datetime] = utcnow


def subject_key(name: str, employer: str | None, clue_id: str = "") -> str:
    """How repeat clues about one person are matched: normalised name and employer code. A clue
    that names no one (a supervision card's opinion about a bureau) matches no other clue."""
    person = normalise_name(name) or f"~{clue_id}"
    return f"{person}|{(employer or '').strip()}"


def open_key(key: str, category: str) -> str:
    """What may have one open case at a time (DOMAIN.md: a clue about the same subject and
    category while a case on them is open is linked to it). A case holds it while open; a unique
    index on it makes two workers racing on the same subject end with one case, not two."""
    return f"{key}|{category}"


def clue_ids(doc: dict[str, Any]) -> list[str]:
    return [doc["clue_id"], *(doc.get("linked_clue_ids") or [])]


def subject_cadres(registry: Registry, unit: str, subject_name: str | None) -> set[str]:
    """The cadres of `unit` who bear the subject's name: a case is never given to its subject."""
    if not subject_name:
        return set()
    name = normalise_name(subject_name)
    return {c.id for c in registry.cadres_of(unit) if normalise_name(c.name) == name}
