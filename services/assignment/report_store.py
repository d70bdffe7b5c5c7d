"""The reads of cases that the statistics report and the gauges count: queued cases and open
cases past their due date, by unit. Each reads only ids and units, through indexes: a count is
an aggregation, which the local database runs over the whole collection (see shared/mongo.py).
They read through the case store in use (store.py), so they count the in-memory twin's cases in
unit tests as they count the database's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime

from .documents import OPEN_STATUSES
from .store import case_store


def queued_within(units: Collection[str]) -> int:
    """How many cases wait in the queues of `units`."""
    return len(case_store().select({"unit": {"$in": list(units)}, "status": "queued"}, {"_id": 1}))


def queued_by_unit() -> Counter[str]:
    """Queued cases per unit (only units with any)."""
    return Counter(d["unit"] for d in case_store().select({"status": "queued"}, {"unit": 1}))


def overdue_by_unit(now: datetime) -> Counter[str]:
    """Open cases due before `now`, per unit (only units with any)."""
    overdue = {"status": {"$in": list(OPEN_STATUSES)}, "due_at": {"$lt": now}}
    return Counter(d["unit"] for d in case_store().select(overdue, {"unit": 1}))
