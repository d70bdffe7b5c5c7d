"""The reads of cases that the statistics report and the gauges count: queued cases and open
cases past their due date, by unit. Each reads only ids and units, through indexes: a count is
an aggregation, which the local database runs over the whole collection (see shared/mongo.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime

from shared.mongo import exact
from shared.times import to_ms

from .documents import OPEN_STATUSES, Case


def queued_within(units: Collection[str]) -> int:
    """How many cases wait in the queues of `units`."""
    queued = {"unit": {"$in": list(units)}, **exact(status="queued")}
    return sum(1 for _ in Case._get_collection().find(queued, {"_id": 1}))


def queued_by_unit() -> Counter[str]:
    """Queued cases per unit (only units with any)."""
    return Counter(d["unit"] for d in Case._get_collection().find(exact(status="queued"), {"unit": 1}))


def overdue_by_unit(now: datetime) -> Counter[str]:
    """Open cases due before `now`, per unit (only units with any)."""
    overdue = {"status": {"$in": list(OPEN_STATUSES)}, "due_at": {"$lt": to_ms(now)}}
    return Counter(d["unit"] for d in Case._get_collection().find(overdue, {"unit": 1}))
