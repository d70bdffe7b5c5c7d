"""The counts of cases behind the statistics report and the gauges (report_store.py), on the real
database and on the in-memory case store (they read through the case store in use): queued cases
within units and by unit, open cases past due by unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import report_store, store
from services.assignment.documents import ensure_indexes
from services.assignment.memory_store import MemoryCaseStore

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


@pytest.fixture(params=["database", "memory"])
def cases(request, mongo_db):
    ensure_indexes()
    previous = store.use(store.CaseStore() if request.param == "database" else MemoryCaseStore())
    refused, error = store.case_store().insert([
        {"_id": "q1", "unit": "u1", "status": "queued", "due_at": T0 - MS},
        {"_id": "q2", "unit": "u1", "status": "queued", "due_at": T0 + MS},
        {"_id": "q3", "unit": "triage#commission", "status": "queued", "due_at": T0 - MS},
        {"_id": "a1", "unit": "u2", "status": "assigned", "due_at": T0 - MS},
        {"_id": "a2", "unit": "u2", "status": "supervised", "due_at": T0},  # due now: not past due
        {"_id": "c1", "unit": "u2", "status": "closed", "due_at": T0 - MS},
    ])
    assert (refused, error) == ([], None)
    yield
    store.use(previous)


def test_queued_cases_are_counted_within_units_and_by_unit(cases):
    assert report_store.queued_within(["u1", "u2"]) == 2
    assert report_store.queued_within(("u2",)) == 0 and report_store.queued_within([]) == 0
    assert report_store.queued_by_unit() == {"u1": 2, "triage#commission": 1}


def test_open_cases_due_before_now_are_counted_by_unit(cases):
    assert report_store.overdue_by_unit(T0) == {"u1": 1, "triage#commission": 1, "u2": 1}
    later = T0 + timedelta(seconds=1)
    assert report_store.overdue_by_unit(later) == {"u1": 2, "triage#commission": 1, "u2": 2}
    assert report_store.overdue_by_unit(T0 - timedelta(days=1)) == {}
