"""The counts of cases behind the statistics report and the gauges (report_store.py), on the real
database: queued cases within units and by unit, open cases past due by unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import report_store
from services.assignment.documents import Case, ensure_indexes

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


@pytest.fixture
def cases(mongo_db):
    ensure_indexes()
    Case._get_collection().insert_many([
        {"_id": "q1", "unit": "u1", "status": "queued", "due_at": MS - 1},
        {"_id": "q2", "unit": "u1", "status": "queued", "due_at": MS + 1},
        {"_id": "q3", "unit": "triage#commission", "status": "queued", "due_at": MS - 1},
        {"_id": "a1", "unit": "u2", "status": "assigned", "due_at": MS - 1},
        {"_id": "a2", "unit": "u2", "status": "supervised", "due_at": MS},  # due now: not past due
        {"_id": "c1", "unit": "u2", "status": "closed", "due_at": MS - 1},
    ])


def test_queued_cases_are_counted_within_units_and_by_unit(cases):
    assert report_store.queued_within(["u1", "u2"]) == 2
    assert report_store.queued_within(("u2",)) == 0 and report_store.queued_within([]) == 0
    assert report_store.queued_by_unit() == {"u1": 2, "triage#commission": 1}


def test_open_cases_due_before_now_are_counted_by_unit(cases):
    assert report_store.overdue_by_unit(T0) == {"u1": 1, "triage#commission": 1, "u2": 1}
    later = T0 + timedelta(seconds=1)
    assert report_store.overdue_by_unit(later) == {"u1": 2, "triage#commission": 1, "u2": 2}
    assert report_store.overdue_by_unit(T0 - timedelta(days=1)) == {}
