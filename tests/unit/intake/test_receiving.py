"""Receiving a clue, replaying an Idempotency-Key, the review batches and the relay's backstops,
on the in-memory clue store (the Mongo store's contract: tests/integration/intake/test_clue_store.py)."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import backstops, receiving
from services.intake.clue_store import MemoryClueStore, use
from services.intake.keys import Keys, body_hash
from services.intake.model import BatchConflict, IdempotencyConflict, received_event
from services.intake.schemas import ClueSchema
from shared import events
from shared.kafka import DependencyDown
from shared.sealing import open_sealed
from tests.unit.intake.clues import IDENTITY, anonymous_clue, clue

NOW = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC)
UNIT = "foshan/chancheng/shiwan/contact"


@pytest.fixture
def store():
    mine = MemoryClueStore()
    previous = use(mine)
    yield mine
    use(previous)


def post(keys, body=None, *, unit=UNIT, key=None, outbox=None, now=NOW):
    body = body or clue()
    return receiving.post_clue(ClueSchema().load(body), unit, keys,
                               request_hash=body_hash(body, keys.request_key) if key else None,
                               idempotency_key=key, outbox=outbox, now=now)


def test_post_stores_one_clue_with_its_event_and_no_plain_identity(store, keys, outbox, notify_keys):
    body, replayed = post(keys, outbox=outbox)
    assert not replayed and body["status"] == "received"
    raw = store.clues[body["clue_id"]]
    text = json.dumps(raw, default=str, ensure_ascii=False)
    for secret in (*IDENTITY, body["receipt"]["secret"], body["receipt"]["code"]):
        assert secret not in text
    assert keys.vault.open(raw["reporter_sealed"])["name"] == "王小明"
    assert not raw["acknowledged"] and "outbox" not in raw  # the clue itself is pending
    [envelope] = outbox.announced
    assert envelope == received_event({"_id": body["clue_id"], **raw})  # its event, announced at once
    assert envelope["type"] == "campaign.clue.received.v1" and envelope["subject"] == body["clue_id"]
    assert envelope["id"] == raw["received_event_id"]
    assert envelope["data"]["reporter_ref"] == raw["reporter_ref"]
    contact = open_sealed(envelope["data"]["reporter_contact_sealed"], notify_keys[1])
    assert contact["webhook_url"] == "https://hooks.example.net/wang-secret-hook"
    assert json.loads(events.encode(envelope)) == envelope


def test_anonymous_reporter_has_no_sealed_contact(store, keys, outbox):
    post(keys, anonymous_clue(), outbox=outbox)
    [envelope] = outbox.announced
    assert envelope["data"]["reporter_contact_sealed"] is None
    assert envelope["data"]["reporter_ref"].startswith("r_")


@pytest.mark.parametrize("second_body, second_unit, outcome", [
    (clue(), UNIT, "replay"),
    (clue(summary="Something else"), UNIT, "conflict"),
    (clue(), "foshan/nanhai/guicheng/contact", "new"),
])
def test_idempotency_key(store, keys, second_body, second_unit, outcome):
    first, _ = post(keys, key="k-1")
    if outcome == "conflict":
        with pytest.raises(IdempotencyConflict):
            post(keys, second_body, unit=second_unit, key="k-1")
        return
    again, replayed = post(keys, second_body, unit=second_unit, key="k-1")
    assert replayed is (outcome == "replay")
    assert (again == first) is (outcome == "replay")
    assert len(store.clues) == (1 if outcome == "replay" else 2)


def test_a_colliding_receipt_code_draws_another(store, keys, monkeypatch):
    first, _ = post(keys)
    taken = store.clues[first["clue_id"]]["receipt_code_digest"]
    real_insert, collided = store.insert, []

    def collide_once(doc):
        if not collided:
            collided.append(doc["_id"])
            doc = {**doc, "receipt_code_digest": taken}
        return real_insert(doc)

    monkeypatch.setattr(store, "insert", collide_once)
    second, replayed = post(keys)
    assert not replayed and second["clue_id"] not in (first["clue_id"], collided[0]) and len(store.clues) == 2


def test_key_order_does_not_change_the_body_hash(keys):
    key = keys.request_key
    assert body_hash({"a": 1, "b": [1, 2]}, key) == body_hash({"b": [1, 2], "a": 1}, key)
    assert body_hash({"a": 1}, key) != body_hash({"a": 2}, key)


def test_the_stored_digests_cannot_be_recomputed_from_the_body_alone(store, keys):
    """A leaked database plus a guessed body (reporter's name, phone) confirms nothing: the stored
    digest is an HMAC under a server key, and the receipt key itself does not give it either."""
    post(keys, key="k-1")
    [raw] = store.clues.values()
    canonical = json.dumps(clue(), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    plain = {getattr(hashlib, name)(canonical).hexdigest() for name in ("sha256", "sha1", "md5", "sha512")}
    assert raw["request_hash"] == body_hash(clue(), keys.request_key) and raw["request_hash"] not in plain
    assert raw["request_hash"] != hmac.new(keys.receipt_key, canonical, hashlib.sha256).hexdigest()
    assert hashlib.sha256(b"k-1").hexdigest() not in raw["idempotency_key"]
    other = Keys(b"x" * 32, keys.vault, keys.notify_public_key)
    assert raw["request_hash"] != body_hash(clue(), other.request_key)


def test_replay_data_expires_after_24_hours(store, keys):
    first, _ = post(keys, key="k-1")
    assert post(keys, key="k-1", now=NOW + timedelta(hours=23))[1] is True
    assert backstops.expire_replays(NOW + timedelta(hours=23)) == 0
    assert backstops.expire_replays(NOW + timedelta(hours=24, seconds=1)) == 1
    raw = store.clues[first["clue_id"]]
    assert not {"request_hash", "replay_sealed", "replay_until_ms"} & set(raw)
    assert raw["receipt_code_digest"] and raw["idempotency_key"].startswith("hkey:")
    with pytest.raises(IdempotencyConflict, match="24 hours"):  # still never posted twice
        post(keys, key="k-1", now=NOW + timedelta(hours=25))
    assert len(store.clues) == 1


def test_a_replay_past_24_hours_is_refused_even_before_the_sweep(store, keys):
    post(keys, key="k-1")
    with pytest.raises(IdempotencyConflict, match="24 hours"):
        post(keys, key="k-1", now=NOW + timedelta(hours=24, seconds=1))


def test_the_body_hash_is_kept_with_an_idempotency_key_only(store, keys):
    keyed, _ = post(keys, key="k-1")
    plain, _ = post(keys)
    assert store.clues[keyed["clue_id"]]["request_hash"] == body_hash(clue(), keys.request_key)
    assert "request_hash" not in store.clues[plain["clue_id"]]
    with pytest.raises(ValueError, match="body_hash"):
        receiving.post_clue(ClueSchema().load(clue()), UNIT, keys, idempotency_key="k-2")


def test_find_clue_never_shows_the_sealed_reporter_or_receipt(store, keys):
    body, _ = post(keys, key="k-1")
    found = receiving.find_clue(body["clue_id"])
    assert found.id == body["clue_id"] and found.status == "received" and found.summary == clue()["summary"]
    for hidden in ("reporter_sealed", "contact_sealed", "receipt_code_digest", "receipt_secret_digest",
                   "replay_sealed", "code", "secret"):
        assert not hasattr(found, hidden)
    assert receiving.find_clue("nope") is None


def test_a_review_batch_is_made_once_and_refuses_another_deadline(store):
    deadline = datetime(2026, 6, 30, tzinfo=UTC)
    batch = receiving.review_batch("u", "回头看-2026", deadline)
    assert receiving.review_batch("u", "回头看-2026", deadline) == batch
    assert batch["deadline"] == "2026-06-30T00:00:00+00:00" and batch["id"].startswith("b_")
    with pytest.raises(BatchConflict):
        receiving.review_batch("u", "回头看-2026", deadline + timedelta(days=1))
    assert receiving.review_batch("v", "回头看-2026", deadline)["id"] != batch["id"]


def test_reconcile_republishes_the_same_event_only_for_old_unacknowledged(store, keys, outbox, publisher):
    old, _ = post(keys, now=NOW, outbox=outbox)
    acked, _ = post(keys, now=NOW)
    recent, _ = post(keys, now=NOW + timedelta(seconds=50))
    store.clues[acked["clue_id"]]["acknowledged"] = True  # as a case event does

    def reconcile(seconds, **kwargs):
        return backstops.reconcile(60, publisher, now=NOW + timedelta(seconds=seconds), **kwargs)

    assert reconcile(59) == []
    assert reconcile(61) == [old["clue_id"]]
    [record] = publisher.records(events.CLUE_RECEIVED)
    assert record.key == old["clue_id"] and sum(map(len, publisher.topics.values())) == 1
    assert json.loads(record.value) == json.loads(events.encode(outbox.announced[0]))  # the same event again
    assert reconcile(111) == [recent["clue_id"]]  # not the old one: 60 s have not passed since it went out
    assert reconcile(122) == [old["clue_id"]]
    assert len(reconcile(3600, limit=1)) == 1


def test_reconcile_notes_nothing_when_the_publish_fails(store, keys, publisher):
    publisher.fail_next = 1
    body, _ = post(keys, now=NOW)
    with pytest.raises(DependencyDown):
        backstops.reconcile(60, publisher, now=NOW + timedelta(seconds=61))
    assert store.clues[body["clue_id"]]["last_staged_ms"] == int(NOW.timestamp() * 1000)
