"""ClueStore on the real local database, and the in-memory twin the use cases' unit tests run
on held to the same contract (so a unit test never passes on a store that behaves otherwise)."""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest

from services.intake import receipts
from services.intake.clue_store import ClueStore
from services.intake.keys import Keys
from services.intake.memory_store import MemoryClueStore
from services.intake.model import Clue, millis, received_event
from services.intake.schemas import ClueSchema
from shared.sealing import ReporterVault
from shared.times import to_ms
from tests.unit.intake.clues import IDENTITY, clue
from tests.unit.intake.test_handlers import NOW

pytestmark = pytest.mark.stack
UNIT = "foshan/chancheng/shiwan/contact"
AT = millis(NOW)


@pytest.fixture(params=["mongo", "memory"])
def store(request):
    if request.param == "memory":
        return MemoryClueStore()
    request.getfixturevalue("mongo_db")
    return ClueStore()


@pytest.fixture
def keys(notify_keypair):
    return Keys(os.urandom(32), ReporterVault(os.urandom(32)), base64.b64decode(notify_keypair[0]))


def new_clue(keys, key=None, at=AT, receipt=None):
    return Clue.receive(ClueSchema().load(clue()), UNIT, keys, receipt or receipts.new_receipt(),
                        key, "h" if key else None, at)


def test_insert_refuses_a_taken_receipt_or_idempotency_key(store, keys):
    receipt = receipts.new_receipt()
    first = new_clue(keys, "k-1", receipt=receipt)
    assert store.insert(first)
    assert not store.insert(new_clue(keys, receipt=receipt))  # the receipt code is taken
    assert not store.insert(new_clue(keys, "k-1"))  # the Idempotency-Key in this unit is taken
    assert store.insert(new_clue(keys, "k-2"))
    assert store.by_idempotency_key(UNIT, first.idempotency_key).request_hash == "h"
    assert store.by_idempotency_key(UNIT, "hkey:other") is None
    found = store.by_receipt(receipts.code_digest(keys.receipt_key, receipt.code))
    assert found.id == first.id and found.receipt_secret_digest == first.receipt_secret_digest


def test_a_stored_clue_reads_back_to_the_same_event_without_its_secrets(store, keys):
    stored = new_clue(keys, "k-1")
    store.insert(stored)
    found = store.get(stored.id)
    assert found.received_at == AT and found.received_at.tzinfo is not None
    for hidden in ("reporter_sealed", "contact_sealed", "receipt_code_digest", "receipt_secret_digest",
                   "replay_sealed"):
        assert getattr(found, hidden) is None
    [due] = store.unacknowledged(to_ms(AT) + 1, 10)  # what the reconciler republishes from
    assert due.received_event() == received_event(stored.doc) and due.reporter_sealed is None
    assert not any(secret in str(found.doc) for secret in IDENTITY)
    assert store.get("nope") is None


def test_updates_are_guarded_by_status(store, keys):
    a, b = new_clue(keys), new_clue(keys)
    store.insert(a)
    store.insert(b)
    assert store.update(a.id, {"status": "accepted"}, expected_status="received")
    assert not store.update(a.id, {"status": "closed"}, expected_status="received")
    assert store.update_many([(a.id, "accepted", {"status": "closed", "closed_ms": 5}),
                              (b.id, "closed", {"status": "closed"})]) == 1
    assert store.statuses([a.id, b.id, "nope"]) == {a.id: "closed", b.id: "received"}
    assert store.update(b.id, {"conflict_moved_to": "foshan"})
    assert store.get(b.id).conflict_moved_to == "foshan"


def test_timeline_lines_are_written_once_and_read_oldest_first(store):
    line = {"_id": "e2", "clue_id": "c", "at": AT + timedelta(days=2), "kind": "case-closed",
            "message_zh": "办结", "message_en": "closed"}
    store.add_lines([line, {**line, "_id": "e1", "at": AT + timedelta(days=1), "kind": "case-assigned"}])
    store.add_lines([{**line, "message_zh": "again"}, {**line, "_id": "x", "clue_id": "other"}])
    lines = store.lines("c")
    assert [ln["_id"] for ln in lines] == ["e1", "e2"] and lines[1]["message_zh"] == "办结"
    assert lines[0]["at"] == AT + timedelta(days=1)


def test_follow_ups_wait_until_applied(store):
    item = {"_id": "f1", "clue_id": "c", "message": "补充", "objection": True, "at": AT, "applied": False}
    stored = store.add_follow_up(item, {"id": "ev-1", "type": "campaign.clue.followed_up.v1", "subject": "c"})
    assert stored["_id"] == "f1" and stored["outbox"]
    [pending] = store.unapplied_follow_ups(10)
    assert (pending["_id"], pending["clue_id"], pending["objection"]) == ("f1", "c", True)
    store.follow_up_applied("f1")
    assert store.unapplied_follow_ups(10) == []


def test_unacknowledged_clues_and_when_they_went_out(store, keys):
    old, new, acked = new_clue(keys), new_clue(keys, at=AT + timedelta(seconds=30)), new_clue(keys)
    for one in (old, new, acked):
        store.insert(one)
    store.update(acked.id, {"acknowledged": True})
    assert store.count_unacknowledged() == 2
    assert [c.id for c in store.unacknowledged(to_ms(AT) + 1, 10)] == [old.id]
    store.note_staged([old.id, acked.id], to_ms(AT) + 60_000)
    assert store.unacknowledged(to_ms(AT) + 1, 10) == []
    assert store.get(old.id).last_staged_ms == to_ms(AT) + 60_000
    assert store.get(acked.id).last_staged_ms == to_ms(AT)


def test_replay_data_and_sealed_identity_expire_in_batches(store, keys):
    keyed = [new_clue(keys, f"k-{i}") for i in range(3)]
    for one in keyed:
        store.insert(one)
    assert store.expire_replays(to_ms(AT + timedelta(hours=23)), batch=2) == 0
    assert store.expire_replays(to_ms(AT + timedelta(hours=25)), batch=2) == 3
    assert store.by_idempotency_key(UNIT, keyed[0].idempotency_key).replay_sealed is None
    store.update(keyed[0].id, {"status": "closed", "closed_ms": to_ms(AT)})
    store.update(keyed[1].id, {"status": "accepted", "closed_ms": to_ms(AT)})  # reopened: kept
    assert store.erase_sealed(to_ms(AT) + 1, to_ms(AT) + 2, batch=1) == 1
    assert store.erase_sealed(to_ms(AT) + 1, to_ms(AT) + 2, batch=1) == 0
    assert store.get(keyed[0].id).erased_ms == to_ms(AT) + 2


def test_a_review_batch_keeps_its_first_deadline(store):
    wanted = {"name": "n", "deadline": "2026-06-30T00:00:00+00:00", "frontline_unit": "u"}
    first = store.review_batch("b_1", wanted)
    again = store.review_batch("b_1", {**wanted, "deadline": "2026-07-31T00:00:00+00:00"})
    assert first["deadline"] == again["deadline"] == "2026-06-30T00:00:00+00:00"
