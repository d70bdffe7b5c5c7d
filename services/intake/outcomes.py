"""What came of each clue, as intake learns it from case-closed: the outcomes per clue.

Intake keeps it for the funnels of supervision cards and integrity observers (cards.py,
observers.py), which count what became of the clues that came through them without asking
the assignment service. A later close (after a reopened review) replaces the earlier one.
Stored through outcome_store.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.intake.outcome_store import Outcome, outcome_store
from shared import events


def record(batch: Iterable[events.Event]) -> int:
    """Keep the outcomes of the case-closed events in `batch` (others are ignored); idempotent.
    Returns how many clues were written."""
    closed_type = events.TYPES[events.CASE_CLOSED]
    closes = [Outcome(e.data["clue_id"], e.data["disposition"], list(e.data["outcomes"]), e.data["closed_at"])
              for e in batch if e.type == closed_type]
    outcome_store().record(closes)
    return len(closes)


def of_clues(clue_ids: list[str]) -> dict[str, Outcome]:
    """The recorded outcomes of these clues, by clue id."""
    return outcome_store().of_clues(clue_ids)
