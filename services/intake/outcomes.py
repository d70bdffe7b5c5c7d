"""What came of each clue, as intake learns it from case-closed: the outcomes per clue.

Intake keeps it for the funnels of supervision cards and integrity observers (cards.py,
observers.py), which count what became of the clues that came through them without asking
the assignment service. A later close (after a reopened review) replaces the earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable

import mongoengine as me
from pymongo import UpdateOne

from shared import events


class ClueOutcome(me.Document):
    """The latest close of a clue's case: disposition and outcomes (no case officer, no unit)."""

    id = me.StringField(primary_key=True)  # the clue id
    disposition = me.StringField(required=True)
    outcomes = me.ListField(me.StringField(), default=list)
    closed_ms = me.LongField(required=True)  # epoch ms (nx-27017 keeps a $set datetime as text)
    meta = {"collection": "clue_outcomes"}


def record(batch: Iterable[events.Event]) -> int:
    """Keep the outcomes of the case-closed events in `batch` (others are ignored); idempotent.
    Returns how many clues were written."""
    closed_type = events.TYPES[events.CASE_CLOSED]
    writes = [
        UpdateOne(
            {"_id": e.data["clue_id"]},
            {
                "$set": {
                    "disposition": e.data["disposition"],
                    "outcomes": list(e.data["outcomes"]),
                    "closed_ms": int(e.data["closed_at"].timestamp() * 1000),
                }
            },
            upsert=True,
        )
        for e in batch
        if e.type == closed_type
    ]
    if writes:
        ClueOutcome._get_collection().bulk_write(writes, ordered=False)
    return len(writes)


def of_clues(clue_ids: list[str]) -> dict[str, ClueOutcome]:
    """The recorded outcomes of these clues, by clue id."""
    if not clue_ids:
        return {}
    return {o.id: o for o in ClueOutcome.objects(id__in=clue_ids)}
