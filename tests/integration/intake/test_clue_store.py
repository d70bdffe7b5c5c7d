"""The clue store's contract, on the real database and on the in-memory twin the unit tests use:
the same calls give the same answers on both."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import handlers, receipts
from services.intake.clue_store import ClueStore, MemoryClueStore
from services.intake.documents import FollowUp
from services.intake.model import Step
from shared import events
from shared.sealing import ReporterVault

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
KEYS = handlers.Keys(os.urandom(32), ReporterVault(os.urandom(32)), os.urandom(32))
CLUE = {"source": "public_report", "category": "solicitation", "summary": "收受红包",
        "jurisdiction": "foshan/chancheng/shiwan", "collusion": False,
        "subject": {"name": "某甲", "rank": "staff"}, "reporter": {"anonymous": True}}


@pytest.fixture(params=["database", "memory"])
def stored(request, mongo_db):
    """(the store, a clue it holds, its receipt code's digest, its secret's digest)."""
    if request.param == "database":
        from services.intake.schemas import ClueSchema

        body, _ = handlers.post_clue(ClueSchema().load(CLUE), "foshan/chancheng/shiwan/contact", KEYS,
                                     now=T0)
        code = receipts.code_digest(KEYS.receipt_key, body["receipt"]["code"])
        secret = receipts.secret_digest(KEYS.receipt_key, body["receipt"]["secret"])
        return ClueStore(), body["clue_id"], code, secret
    store = MemoryClueStore()
    store.add("c1", "received", T0, "code-digest", "secret-digest")
    return store, "c1", "code-digest", "secret-digest"


def step(topic: str, event_id: str, at: datetime, **data) -> Step:
    return Step(events.TYPES[topic], data, event_id, at)


def same_time(a: datetime, b: datetime) -> bool:
    return a.replace(tzinfo=a.tzinfo or UTC) == b.replace(tzinfo=b.tzinfo or UTC)


def test_a_clue_is_found_by_id_and_by_receipt(stored):
    store, clue_id, code, secret = stored
    clue = store.get(clue_id)
    assert (clue.id, clue.status) == (clue_id, "received") and same_time(clue.received_at, T0)
    found, secret_digest = store.by_receipt(code)
    assert found.id == clue_id and secret_digest == secret
    assert store.by_receipt("no-such-digest") is None and store.get("no-such-clue") is None
    assert set(store.many([clue_id, "no-such-clue"])) == {clue_id}


def test_a_move_is_written_once_and_refused_on_a_stale_status(stored):
    store, clue_id, _, _ = stored
    clue = store.get(clue_id)
    move = clue.take([step(events.CASE_ASSIGNED, "e1", T0 + timedelta(hours=1)),
                      step(events.CASE_CLOSED, "e2", T0 + timedelta(days=2), reporter_summary="办结")],
                     acknowledge=True)
    assert store.save([move]) is True
    assert store.save([move]) is False  # the clue is closed now, no longer "received"
    assert store.get(clue_id).status == "closed"
    lines = store.lines(clue_id)
    assert [(line.id, line.kind) for line in lines] == [("e1", "case-assigned"), ("e2", "case-closed")]
    assert same_time(lines[1].at, T0 + timedelta(days=2)) and "办结" in lines[1].zh
    assert store.save([]) is True


def test_conflicts_and_follow_ups(stored):
    store, clue_id, _, _ = stored
    assert store.conflict_moved_to(clue_id) == (True, None)
    store.note_conflict(clue_id, "foshan")
    assert store.conflict_moved_to(clue_id) == (True, "foshan")
    assert store.conflict_moved_to("no-such-clue") == (False, None)
    item = FollowUp(id="f1", clue_id=clue_id, message="补充", objection=True, at=T0, applied=False)
    store.add_follow_up(item)
    [(follow_up_id, for_clue, objection, at)] = store.pending_follow_ups(10)
    assert (follow_up_id, for_clue, objection) == ("f1", clue_id, True) and same_time(at, T0)
    store.follow_up_applied("f1")
    assert store.pending_follow_ups(10) == []

