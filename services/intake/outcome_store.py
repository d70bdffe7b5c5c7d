"""Where intake keeps what came of each clue (outcomes.py): the one place that reads and writes
the clues' outcomes, and converts their times for the database.

`OutcomeStore` speaks to MongoDB (or nx-27017); `MemoryOutcomeStore` keeps the same in a dict, for
unit tests. tests/integration/intake/test_outcome_store.py runs one contract on both.
`outcome_store()` is the store in use; `use()` swaps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pymongo import UpdateOne

from services.intake.documents import ClueOutcome
from shared.current import Current
from shared.times import from_ms, to_ms, to_nearest_ms


@dataclass(frozen=True)
class Outcome:
    """The latest close of a clue's case (a later close replaces an earlier one)."""

    clue_id: str
    disposition: str
    outcomes: list[str]
    closed_at: datetime


class OutcomeStore:
    """The clues' outcomes on the database."""

    def record(self, closes: list[Outcome]) -> None:
        """Keep each clue's outcome, replacing what an earlier close left."""
        writes = [UpdateOne({"_id": c.clue_id}, {"$set": {"disposition": c.disposition,
                                                          "outcomes": list(c.outcomes),
                                                          "closed_ms": to_ms(c.closed_at)}}, upsert=True)
                  for c in closes]
        if writes:
            ClueOutcome._get_collection().bulk_write(writes, ordered=False)

    def of_clues(self, clue_ids: list[str]) -> dict[str, Outcome]:
        """The recorded outcomes of these clues, by clue id."""
        if not clue_ids:
            return {}
        found = ClueOutcome._get_collection().find({"_id": {"$in": list(clue_ids)}})
        return {d["_id"]: Outcome(d["_id"], d["disposition"], list(d.get("outcomes") or []),
                                  from_ms(d["closed_ms"])) for d in found}


class MemoryOutcomeStore:
    """The same store in a dict."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}

    def record(self, closes: list[Outcome]) -> None:
        for close in closes:
            at = to_nearest_ms(close.closed_at)  # as the database keeps it: to the millisecond
            self.outcomes[close.clue_id] = Outcome(close.clue_id, close.disposition, list(close.outcomes), at)

    def of_clues(self, clue_ids: list[str]) -> dict[str, Outcome]:
        return {i: self.outcomes[i] for i in clue_ids if i in self.outcomes}


class Store(Protocol):
    def record(self, closes: list[Outcome]) -> None: ...
    def of_clues(self, clue_ids: list[str]) -> dict[str, Outcome]: ...


# The store outcomes.py uses; `use(other)` swaps in a stand-in, returning the one before.
_current: Current[Store] = Current(OutcomeStore())
outcome_store = _current.get
use = _current.use
