"""A consumer's processed-event record's contract, on the real database (`shared.mongo.
ProcessedEvents`) and on the in-memory twin the unit tests use (`shared.fakes.MemoryProcessedEvents`):
the same calls give the same answers on both."""

from __future__ import annotations

import pytest

from shared.fakes import MemoryProcessedEvents
from shared.mongo import ProcessedEvents

pytestmark = pytest.mark.stack


@pytest.fixture(params=["database", "memory"])
def record(request, mongo_db):
    """A factory: the record of the named consumer, on the database or in memory."""
    return ProcessedEvents if request.param == "database" else MemoryProcessedEvents


def test_an_event_is_seen_only_after_its_mark(record):
    intake = record("intake")
    assert not intake.seen("e1") and intake.seen_many(["e1", "e2"]) == set()
    intake.mark("e1")
    intake.mark("e1")  # a second mark of the same event is a no-op
    assert intake.seen("e1") and not intake.seen("e2")
    assert intake.seen_many(["e2", "e1", "e3"]) == {"e1"}


def test_marks_in_one_write_skip_those_marked_before(record):
    intake = record("intake")
    intake.mark_many([])
    assert intake.seen_many([]) == set()
    intake.mark_many(["e1", "e2"])
    intake.mark_many(["e2", "e3", "e3"])  # a re-delivery: e2 marked before, e3 twice in one batch
    assert intake.seen_many(["e1", "e2", "e3", "e4"]) == {"e1", "e2", "e3"}
    assert all(intake.seen(e) for e in ("e1", "e2", "e3")) and not intake.seen("e4")


def test_one_consumers_marks_are_not_anothers(record):
    intake = record("intake")
    intake.mark_many(["e1", "e2"])
    notify = record("notify")
    assert not notify.seen("e1") and notify.seen_many(["e1", "e2"]) == set()
    notify.mark("e2")
    assert intake.seen_many(["e1", "e2"]) == {"e1", "e2"} and notify.seen_many(["e1", "e2"]) == {"e2"}
