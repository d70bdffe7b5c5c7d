"""The review batches (大起底/回头看) as stored (review_store.py) on the real database: deadlines go
in and come out as datetimes, the batches nearest deadline first, a batch's cases by unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import review_store
from services.assignment.documents import Case, ReviewBatch

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_batches_are_kept_and_read_back_nearest_deadline_first(mongo_db):
    late, soon = T0 + timedelta(days=90), T0 + timedelta(days=30)
    review_store.remember({"b1": {"name": "2026年大起底", "deadline": late},
                           "b2": {"name": "回头看", "deadline": soon}}, T0)
    review_store.remember({"b1": {"name": "2026年大起底（修订）", "deadline": late}}, T0)  # the same id again
    assert ReviewBatch._get_collection().count_documents({}) == 2
    assert review_store.all_batches() == [{"_id": "b2", "name": "回头看", "deadline": soon},
                                          {"_id": "b1", "name": "2026年大起底（修订）", "deadline": late}]
    assert review_store.find("b2") == {"_id": "b2", "name": "回头看", "deadline": soon}
    assert review_store.find("nope") is None
    review_store.remember({}, T0)
    assert len(review_store.all_batches()) == 2


def test_a_batchs_cases_are_read_with_due_dates_as_datetimes(mongo_db):
    ms = int(T0.timestamp() * 1000)
    Case._get_collection().insert_many([
        {"_id": "c1", "batch_id": "b1", "unit": "u1", "status": "assigned", "due_at": ms, "kind": "review"},
        {"_id": "c2", "batch_id": "b1", "unit": "u2", "status": "closed", "due_at": ms + 1000},
        {"_id": "c3", "batch_id": "b2", "unit": "u1", "status": "assigned", "due_at": ms},
    ])
    every = sorted(review_store.cases_of("b1", None), key=lambda d: d["unit"])
    assert every == [{"status": "assigned", "due_at": T0, "unit": "u1", "kind": "review"},
                     {"status": "closed", "due_at": T0 + timedelta(seconds=1), "unit": "u2", "kind": None}]
    assert [d["unit"] for d in review_store.cases_of("b1", ["u2", "u3"])] == ["u2"]
    assert review_store.cases_of("b1", []) == []
