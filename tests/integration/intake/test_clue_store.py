"""The clue store's contract, on the real database and on the in-memory twin the unit tests use:
the same calls give the same answers on both."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import mongoengine as me
import pytest

from services.intake import handlers, receipts
from services.intake.clue_store import ClueStore, MemoryClueStore
from services.intake.model import Clue, Step, received_clue, received_event
from shared import events
from shared.outbox import entry
from shared.sealing import ReporterVault
from shared.times import to_ms

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
    event = events.make_event(events.CLUE_FOLLOWED_UP, {"clue_id": clue_id, "message": "补充",
                                                        "objection": True, "at": T0}, source="/t", at=T0)
    kept = dict(store.add_follow_up("f1", clue_id, "补充", True, T0, event))
    assert (kept["_id"], kept["clue_id"], kept["message"], kept["objection"]) == ("f1", clue_id, "补充", True)
    assert kept["applied"] is False and kept["outbox_pending"] is True and kept["outbox_version"] == 0
    assert kept["outbox"] == [entry(event)] and kept["outbox_lease_until"] > to_ms(datetime.now(UTC))
    assert set(kept) == {"_id", "clue_id", "message", "objection", "at", "applied", "outbox",
                         "outbox_pending", "outbox_version", "outbox_lease_until"}
    with pytest.raises(me.NotUniqueError):  # its id is taken: nothing replaced
        store.add_follow_up("f1", clue_id, "again", False, T0, event)
    [(follow_up_id, for_clue, objection, at)] = store.pending_follow_ups(10)
    assert (follow_up_id, for_clue, objection) == ("f1", clue_id, True) and same_time(at, T0)
    store.follow_up_applied("f1")
    assert store.pending_follow_ups(10) == []



# ---- received clues as whole documents (receiving, the backstops, retention) ----------------------

UNIT = "foshan/chancheng/shiwan/contact"
AT = T0.replace(microsecond=123000)


@pytest.fixture(params=["database", "memory"])
def store(request):
    if request.param == "memory":
        return MemoryClueStore()
    request.getfixturevalue("mongo_db")
    return ClueStore()


def received(key=None, at=AT, receipt=None):
    from services.intake.schemas import ClueSchema

    return received_clue(ClueSchema().load(CLUE), UNIT, KEYS, receipt or receipts.new_receipt(), key,
                         "h" if key else None, at)


def test_insert_refuses_a_taken_receipt_or_idempotency_key(store):
    receipt = receipts.new_receipt()
    first = received("k-1", receipt=receipt)
    assert store.insert(first)
    assert not store.insert(received(receipt=receipt))  # the receipt code is taken
    assert not store.insert(received("k-1"))  # the Idempotency-Key is taken in this unit
    assert store.insert(received("k-2")) and store.insert(received())
    assert store.replay_of(UNIT, first["idempotency_key"])["request_hash"] == "h"
    assert store.replay_of(UNIT, "hkey:other") is None
    assert store.replay_of("other/unit", first["idempotency_key"]) is None
    found, secret = store.by_receipt(first["receipt_code_digest"])
    assert found.id == first["_id"] and secret == first["receipt_secret_digest"]


def stored_document(store, clue_id):
    """The clue's document as the store keeps it."""
    if isinstance(store, MemoryClueStore):
        return store.clues[clue_id]
    from services.intake.documents import Clue as ClueDocument

    return ClueDocument._get_collection().find_one({"_id": clue_id})


def test_changing_times_are_datetimes_in_the_model_and_milliseconds_in_the_documents(store):
    keyed, plain = received("k-1"), received()
    assert keyed["last_staged_at"] == AT and keyed["replay_until"] == AT + timedelta(hours=24)
    assert store.insert(keyed) and store.insert(plain)
    doc = stored_document(store, keyed["_id"])
    assert (doc["last_staged_ms"], doc["replay_until_ms"]) == (to_ms(AT), to_ms(AT + timedelta(hours=24)))
    assert not {"last_staged_at", "replay_until"} & set(doc)
    assert "replay_until_ms" not in stored_document(store, plain["_id"])  # no key, no replay
    replay = store.replay_of(UNIT, keyed["idempotency_key"])
    assert replay["replay_until"] == AT + timedelta(hours=24) and "replay_until_ms" not in replay
    due = {d["_id"]: d for d in store.unacknowledged(AT + timedelta(milliseconds=1), 10)}
    assert due[keyed["_id"]]["last_staged_at"] == AT and "last_staged_ms" not in due[keyed["_id"]]
    assert "replay_until" not in due[plain["_id"]]
    store.note_staged([keyed["_id"]], AT + timedelta(minutes=1))
    assert stored_document(store, keyed["_id"])["last_staged_ms"] == to_ms(AT + timedelta(minutes=1))


def test_a_clue_reads_back_to_the_same_event_and_its_view_hides_the_secrets(store):
    first = received("k-1")
    store.insert(first)
    [due] = store.unacknowledged(AT + timedelta(milliseconds=1), 10)  # what the reconciler republishes from
    assert received_event(due) == received_event(first) and "reporter_sealed" not in due
    view = store.view(first["_id"])
    assert view.id == first["_id"] and view.status == "received" and same_time(view.received_at, AT)
    for hidden in ("reporter_sealed", "contact_sealed", "receipt_code_digest", "receipt_secret_digest",
                   "replay_sealed"):
        assert getattr(view, hidden, None) is None
    assert store.view("no-such-clue") is None


def test_unacknowledged_clues_and_when_they_went_out(store):
    old, new, acked = received(), received(at=AT + timedelta(seconds=30)), received()
    for doc in (old, new, acked):
        store.insert(doc)
    store.save([Clue(acked["_id"], "received").take([step(events.CASE_ASSIGNED, "e1", AT, unit="u")],
                                                    acknowledge=True)])
    assert [d["_id"] for d in store.unacknowledged(AT + timedelta(milliseconds=1), 10)] == [old["_id"]]
    store.note_staged([old["_id"], acked["_id"]], AT + timedelta(milliseconds=60_000))
    assert store.unacknowledged(AT + timedelta(milliseconds=1), 10) == []
    later = store.unacknowledged(AT + timedelta(milliseconds=60_001), 10)
    assert {d["_id"] for d in later} == {old["_id"], new["_id"]}


def test_replay_data_and_sealed_identities_expire_in_batches(store):
    keyed = [received(f"k-{i}") for i in range(3)]
    for doc in keyed:
        store.insert(doc)
    assert store.expire_replays(AT + timedelta(hours=23), batch=2) == 0
    assert store.expire_replays(AT + timedelta(hours=25), batch=2) == 3
    assert store.replay_of(UNIT, keyed[0]["idempotency_key"]).get("replay_sealed") is None
    closing = [step(events.CASE_CLOSED, "e1", AT, reporter_summary="办结")]
    store.save([Clue(keyed[0]["_id"], "received").take(closing, acknowledge=True)])
    assert store.erase_sealed(AT + timedelta(milliseconds=1), AT + timedelta(milliseconds=2), batch=1) == 1
    assert store.erase_sealed(AT + timedelta(milliseconds=1), AT + timedelta(milliseconds=2), batch=1) == 0
    assert store.erase_sealed(AT, AT + timedelta(milliseconds=2), batch=1) == 0  # closed too recently


def test_a_review_batch_keeps_its_first_deadline(store):
    wanted = {"name": "n", "deadline": "2026-06-30T00:00:00+00:00", "frontline_unit": "u"}
    first = store.review_batch("b_1", wanted)
    again = store.review_batch("b_1", {**wanted, "deadline": "2026-07-31T00:00:00+00:00"})
    assert first["deadline"] == again["deadline"] == "2026-06-30T00:00:00+00:00"
