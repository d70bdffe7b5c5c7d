"""Intake's use cases on the in-memory ClueStore: receipts, idempotency, case events, reconciler.

(The Mongo ClueStore has its own tests on the real database: tests/integration/intake/test_clue_store.py.)"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import backstops, case_news, model, receiving, reporters, status
from services.intake import keys as intake_keys
from services.intake.schemas import ClueSchema
from shared import events
from shared.kafka import DependencyDown
from shared.sealing import open_sealed
from tests.unit.intake.clues import IDENTITY, anonymous_clue, clue
from tests.unit.intake.conftest import MemoryProcessed

NOW = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC)


def post(store, keys, body=None, *, unit="foshan/chancheng/shiwan/contact", key=None, outbox=None, now=NOW):
    body = body or clue()
    return receiving.post_clue(ClueSchema().load(body), unit, keys,
                               request_hash=intake_keys.body_hash(body, keys.request_key) if key else None,
                               idempotency_key=key, outbox=outbox, now=now, store=store)


def case_event(topic, clue_id, **data):
    base = {"case_id": "case-1", "clue_id": clue_id}
    defaults = {
        events.CASE_ASSIGNED: {"unit": "u", "cadre_id": "c1", "due_at": NOW + timedelta(days=90),
                               "assigned_at": NOW + timedelta(minutes=1)},
        events.CASE_ESCALATED: {"from_unit": "u", "to_unit": "v", "mode": "direct_investigation",
                                "reasons": ["rank"], "escalated_at": NOW + timedelta(minutes=2)},
        events.CASE_CLOSED: {"disposition": "concluded", "outcomes": ["unfounded"],
                             "reporter_summary": "查无实据", "closed_at": NOW + timedelta(days=3)},
    }[topic]
    return events.decode(events.encode(events.make_event(topic, {**base, **defaults, **data}, source="/t")))


def lines_of(store, clue_id=None):
    return [ln for ln in store.timeline.values() if clue_id is None or ln["clue_id"] == clue_id]


def test_post_stores_one_clue_with_its_event_and_no_plain_identity(store, keys, outbox, notify_keys):
    body, replayed = post(store, keys, outbox=outbox)
    assert not replayed and body["status"] == "received"
    raw = store.clues[body["clue_id"]]
    text = json.dumps(raw, default=str, ensure_ascii=False)
    for secret in (*IDENTITY, body["receipt"]["secret"], body["receipt"]["code"]):
        assert secret not in text
    assert keys.vault.open(raw["reporter_sealed"])["name"] == "王小明"
    assert not raw["acknowledged"] and "outbox" not in raw  # the clue itself is pending
    [envelope] = outbox.announced
    assert envelope == model.received_event(raw)  # the event it holds, announced at once
    assert envelope["type"] == "campaign.clue.received.v1" and envelope["subject"] == body["clue_id"]
    assert envelope["id"] == raw["received_event_id"]
    contact = open_sealed(envelope["data"]["reporter_contact_sealed"], notify_keys[1])
    assert contact["webhook_url"] == "https://hooks.example.net/wang-secret-hook"
    assert envelope["data"]["reporter_ref"] == raw["reporter_ref"]
    assert json.loads(events.encode(envelope)) == envelope


def test_anonymous_reporter_has_no_sealed_contact(store, keys, outbox):
    post(store, keys, anonymous_clue(), outbox=outbox)
    [envelope] = outbox.announced
    assert envelope["data"]["reporter_contact_sealed"] is None
    assert envelope["data"]["reporter_ref"].startswith("r_")


@pytest.mark.parametrize("second_body, second_unit, outcome", [
    (clue(), "foshan/chancheng/shiwan/contact", "replay"),
    (clue(summary="Something else"), "foshan/chancheng/shiwan/contact", "conflict"),
    (clue(), "foshan/nanhai/guicheng/contact", "new"),
])
def test_idempotency_key(store, keys, second_body, second_unit, outcome):
    first, _ = post(store, keys, key="k-1")
    if outcome == "conflict":
        with pytest.raises(model.IdempotencyConflict):
            post(store, keys, second_body, unit=second_unit, key="k-1")
        return
    again, replayed = post(store, keys, second_body, unit=second_unit, key="k-1")
    assert replayed is (outcome == "replay")
    assert (again == first) is (outcome == "replay")
    assert len(store.clues) == (1 if outcome == "replay" else 2)


def test_key_order_does_not_change_the_body_hash(keys):
    key = keys.request_key
    digest = intake_keys.body_hash
    assert digest({"a": 1, "b": [1, 2]}, key) == digest({"b": [1, 2], "a": 1}, key)
    assert digest({"a": 1}, key) != digest({"a": 2}, key)


def _plain_digests(payload):
    """Every unkeyed digest a database thief could compute from a guessed body."""
    import hashlib
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return {getattr(hashlib, name)(canonical).hexdigest() for name in ("sha256", "sha1", "md5", "sha512")}


def test_the_stored_digests_cannot_be_recomputed_from_the_body_alone(store, keys):
    """A leaked database plus a guessed body (reporter's name, phone) confirms nothing: the stored
    digest is an HMAC under a server key, and the receipt key itself does not give it either."""
    import hashlib
    import hmac
    post(store, keys, key="k-1")
    [raw] = store.clues.values()
    assert raw["request_hash"] == intake_keys.body_hash(clue(), keys.request_key)
    assert raw["request_hash"] not in _plain_digests(clue())
    canonical = json.dumps(clue(), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert raw["request_hash"] != hmac.new(keys.receipt_key, canonical, hashlib.sha256).hexdigest()
    assert hashlib.sha256(b"k-1").hexdigest() not in raw["idempotency_key"]
    other = intake_keys.Keys(b"x" * 32, keys.vault, keys.notify_public_key)
    assert raw["request_hash"] != intake_keys.body_hash(clue(), other.request_key)


def test_replay_data_expires_after_24_hours(store, keys):
    first, _ = post(store, keys, key="k-1")
    assert post(store, keys, key="k-1", now=NOW + timedelta(hours=23))[1] is True
    assert backstops.expire_replays(NOW + timedelta(hours=23), store=store) == 0
    assert backstops.expire_replays(NOW + timedelta(hours=24, seconds=1), store=store) == 1
    raw = store.clues[first["clue_id"]]
    assert not {"request_hash", "replay_sealed", "replay_until_ms"} & set(raw)
    assert raw["receipt_code_digest"] and raw["idempotency_key"].startswith("hkey:")
    with pytest.raises(model.IdempotencyConflict, match="24 hours"):  # still never posted twice
        post(store, keys, key="k-1", now=NOW + timedelta(hours=25))
    assert len(store.clues) == 1


def test_a_replay_past_24_hours_is_refused_even_before_the_sweep(store, keys):
    post(store, keys, key="k-1")
    with pytest.raises(model.IdempotencyConflict, match="24 hours"):
        post(store, keys, key="k-1", now=NOW + timedelta(hours=24, seconds=1))


def test_the_body_hash_is_kept_with_an_idempotency_key_only(store, keys):
    keyed, _ = post(store, keys, key="k-1")
    plain, _ = post(store, keys)
    assert store.clues[keyed["clue_id"]]["request_hash"] == intake_keys.body_hash(clue(), keys.request_key)
    assert "request_hash" not in store.clues[plain["clue_id"]]
    with pytest.raises(ValueError, match="body_hash"):
        receiving.post_clue(ClueSchema().load(clue()), "foshan/chancheng/shiwan/contact", keys,
                            idempotency_key="k-2", store=store)


def test_a_colliding_receipt_code_draws_another(store, keys, monkeypatch):
    first, _ = post(store, keys)
    taken = next(iter(store.clues.values()))["receipt_code_digest"]
    real_insert, tries = store.insert, []

    def collide_once(clue_):
        if not tries:
            tries.append(clue_.doc["receipt_code_digest"])
            clue_.doc["receipt_code_digest"] = taken
        return real_insert(clue_)

    monkeypatch.setattr(store, "insert", collide_once)
    second, replayed = post(store, keys)
    assert not replayed and second["clue_id"] != first["clue_id"] and len(store.clues) == 2


def test_review_batch_is_made_once_and_refuses_another_deadline(store):
    deadline = datetime(2026, 6, 30, tzinfo=UTC)
    batch = receiving.review_batch("u", "回头看-2026", deadline, store=store)
    assert receiving.review_batch("u", "回头看-2026", deadline, store=store) == batch
    assert batch["deadline"] == "2026-06-30T00:00:00+00:00" and batch["id"].startswith("b_")
    with pytest.raises(model.BatchConflict):
        receiving.review_batch("u", "回头看-2026", deadline + timedelta(days=1), store=store)
    assert receiving.review_batch("v", "回头看-2026", deadline, store=store)["id"] != batch["id"]


def test_lookup_by_receipt_and_typing_slack(store, keys):
    body, _ = post(store, keys)
    code, secret = body["receipt"]["code"], body["receipt"]["secret"]
    answer = reporters.lookup(code.lower().replace("-", " "), secret, keys, now=NOW, store=store)
    assert answer["status"] == "received"
    assert [u["kind"] for u in answer["updates"]] == ["received"]
    assert answer["updates"][0]["message"] == status.RECEIVED_UPDATE.text


@pytest.mark.parametrize("which", ["code", "secret", "both", "malformed"])
def test_wrong_code_or_secret_is_the_same_not_found(store, keys, which):
    body, _ = post(store, keys)
    code, secret = body["receipt"]["code"], body["receipt"]["secret"]
    wrong = {"code": ("0000-0000-0000-0000", secret), "secret": (code, secret + "x"),
             "both": ("0000-0000-0000-0000", "nope"), "malformed": ("!!", secret)}[which]
    with pytest.raises(model.ReceiptNotFound) as caught:
        reporters.lookup(*wrong, keys, store=store)
    assert str(caught.value) == "no clue has this receipt"


def test_find_clue_never_shows_the_sealed_reporter_or_receipt(store, keys):
    body, _ = post(store, keys, key="k-1")
    found = reporters.find_clue(body["clue_id"], store=store)
    assert found.id == body["clue_id"] and found.status == "received"
    assert found.details == "Seen on three market days." and found.collusion is False
    for hidden in ("reporter_sealed", "contact_sealed", "receipt_code_digest", "receipt_secret_digest",
                   "replay_sealed"):
        assert getattr(found, hidden) is None
    assert reporters.find_clue("nope", store=store) is None


def test_case_events_move_status_acknowledge_and_tolerate_duplicates(store, keys):
    body, _ = post(store, keys)
    clue_id = body["clue_id"]
    assigned = case_event(events.CASE_ASSIGNED, clue_id)
    case_news.apply_case_event(assigned, store)
    case_news.apply_case_event(assigned, store)
    stored = store.clues[clue_id]
    assert stored["status"] == "accepted" and stored["acknowledged"]
    assert len(lines_of(store, clue_id)) == 1
    case_news.apply_case_event(case_event(events.CASE_CLOSED, clue_id), store)
    case_news.apply_case_event(case_event(events.CASE_ASSIGNED, clue_id), store)  # late: ignored
    answer = reporters.lookup(body["receipt"]["code"], body["receipt"]["secret"], keys, now=NOW, store=store)
    assert answer["status"] == "closed"
    assert [u["kind"] for u in answer["updates"]] == ["received", "case-assigned", "case-closed"]
    assert "查无实据" in answer["updates"][-1]["message"]
    assert "c1" not in json.dumps(answer)  # never the cadre
    assert store.clues[clue_id]["closed_ms"] == int((NOW + timedelta(days=3)).timestamp() * 1000)


def test_supervised_escalation_acknowledges_without_a_reporter_update(store, keys):
    body, _ = post(store, keys)
    case_news.apply_case_event(case_event(events.CASE_ESCALATED, body["clue_id"], mode="supervised"), store)
    stored = store.clues[body["clue_id"]]
    assert stored["acknowledged"] and stored["status"] == "received"
    assert lines_of(store) == []


def test_case_event_for_an_unknown_clue_changes_nothing(store, keys):
    case_news.apply_case_event(case_event(events.CASE_ASSIGNED, "not-ours"), store)
    assert store.clues == {} and store.timeline == {}


def test_a_conflict_escalation_notes_the_highest_level_it_reached(store, keys):
    clue_id = post(store, keys)[0]["clue_id"]
    for to in ("foshan/chancheng#commission", "foshan#commission", "foshan/nanhai#commission"):
        escalated = case_event(events.CASE_ESCALATED, clue_id, to_unit=to, reasons=["conflict"])
        case_news.apply_case_event(escalated, store)
    assert store.clues[clue_id]["conflict_moved_to"] == "foshan"


def test_follow_up_stages_event_and_objection_reopens_closed_clue(store, keys, outbox):
    body, _ = post(store, keys)
    receipt = body["receipt"]
    case_news.apply_case_event(case_event(events.CASE_CLOSED, body["clue_id"]), store)
    answer = reporters.follow_up(receipt["code"], receipt["secret"], "结果不对", True, keys, outbox=outbox,
                                 now=NOW + timedelta(days=5), store=store)
    assert answer["status"] == "accepted"
    [item] = store.follow_ups.values()
    envelope = item["outbox"][0]
    assert envelope["type"] == "campaign.clue.followed_up.v1"
    assert envelope["data"] == {"clue_id": body["clue_id"], "message": "结果不对", "objection": True,
                                "at": envelope["data"]["at"]}
    assert outbox.woken[-1][1]["_id"] == item["_id"] and item["applied"] is True
    later = NOW + timedelta(days=6)
    answer = reporters.lookup(receipt["code"], receipt["secret"], keys, later, store=store)
    kinds = [u["kind"] for u in answer["updates"]]
    assert kinds[-1] == "clue-followed-up"


def test_a_stored_follow_up_is_never_answered_with_a_failure(store, keys, outbox, monkeypatch):
    """One write: once the follow-up is stored, a failure noting it on the clue does not turn into
    a 503 (the reporter would send it twice); the relay's apply_follow_ups notes it later, once."""
    from pymongo.errors import AutoReconnect

    body, _ = post(store, keys)
    receipt = body["receipt"]
    case_news.apply_case_event(case_event(events.CASE_CLOSED, body["clue_id"]), store)

    def down(*args, **kwargs):
        raise AutoReconnect("the database went away after the insert")

    monkeypatch.setattr(store, "update", down)
    answer = reporters.follow_up(receipt["code"], receipt["secret"], "补充", True, keys, outbox=outbox,
                                 now=NOW + timedelta(days=5), store=store)
    assert answer["status"] == "accepted"  # what noting it will give
    [item] = store.follow_ups.values()
    assert item["applied"] is False and store.clues[body["clue_id"]]["status"] == "closed"
    monkeypatch.undo()
    assert reporters.apply_follow_ups(store=store) == 1 and reporters.apply_follow_ups(store=store) == 0
    assert store.clues[body["clue_id"]]["status"] == "accepted"
    assert [ln["kind"] for ln in lines_of(store)].count("clue-followed-up") == 1


def test_follow_up_with_wrong_secret_stores_nothing(store, keys):
    body, _ = post(store, keys)
    with pytest.raises(model.ReceiptNotFound):
        reporters.follow_up(body["receipt"]["code"], "wrong", "m", False, keys, store=store)
    assert store.follow_ups == {}


def test_reconcile_republishes_the_same_event_only_for_old_unacknowledged(store, keys, outbox, publisher):
    old, _ = post(store, keys, now=NOW, outbox=outbox)
    acked, _ = post(store, keys, now=NOW)
    recent, _ = post(store, keys, now=NOW + timedelta(seconds=50))
    case_news.apply_case_event(case_event(events.CASE_ASSIGNED, acked["clue_id"]), store)

    def reconcile(seconds, **kwargs):
        return backstops.reconcile(60, publisher, now=NOW + timedelta(seconds=seconds), store=store, **kwargs)

    assert reconcile(59) == []
    assert reconcile(61) == [old["clue_id"]]
    [record] = publisher.records(events.CLUE_RECEIVED)
    assert record.key == old["clue_id"] and sum(map(len, publisher.topics.values())) == 1
    assert json.loads(record.value) == json.loads(events.encode(outbox.announced[0]))  # the same event again
    # Not again until another 60 s have passed since it went out.
    assert reconcile(111) == [recent["clue_id"]]
    assert reconcile(122) == [old["clue_id"]]
    assert len(reconcile(3600, limit=1)) == 1


def test_reconcile_notes_nothing_when_the_publish_fails(store, keys, publisher):
    publisher.fail_next = 1
    body, _ = post(store, keys, now=NOW)
    with pytest.raises(DependencyDown):
        backstops.reconcile(60, publisher, now=NOW + timedelta(seconds=61), store=store)
    assert store.clues[body["clue_id"]]["last_staged_ms"] == int(NOW.timestamp() * 1000)


def test_still_handling_note_after_thirty_quiet_days(store, keys):
    body, _ = post(store, keys, now=NOW)
    receipt = body["receipt"]

    def lookup(days):
        at = NOW + timedelta(days=days)
        return reporters.lookup(receipt["code"], receipt["secret"], keys, now=at, store=store)

    later = lookup(31)
    assert later["updates"][-1]["kind"] == "still_handling"
    sooner = lookup(29)
    assert sooner["updates"][-1]["kind"] == "received"


# ---- a poll's case events at once ------------------------------------------------------------------


def story(ids):
    """Case events about four clues in an awkward order: a late assignment after the close, a
    supervision, a duplicate delivery, a direct investigation, and a clue intake does not hold."""
    a, b, c, d = ids
    closed_a = case_event(events.CASE_CLOSED, a)
    return [case_event(events.CASE_ASSIGNED, a), closed_a, case_event(events.CASE_ASSIGNED, a), closed_a,
            case_event(events.CASE_ESCALATED, b, mode="supervised"),
            case_event(events.CASE_ESCALATED, c), case_event(events.CASE_ASSIGNED, c),
            case_event(events.CASE_ASSIGNED, "not-ours"), case_event(events.CASE_ASSIGNED, d)]


def outcome(store, ids):
    clues = {i: (store.clues[i]["status"], store.clues[i]["acknowledged"]) for i in ids}
    lines = sorted((u["clue_id"], u["kind"], u["message_zh"], u["at"]) for u in store.timeline.values())
    return clues, lines


def test_a_batch_of_case_events_ends_as_one_by_one(store, keys):
    ids = [post(store, keys)[0]["clue_id"] for _ in range(4)]
    events_ = story(ids)
    seen = MemoryProcessed()
    for event in events_:  # what the consumer loop did before: check, handle, mark
        if not seen.seen(event.id):
            case_news.apply_case_event(event, store)
            seen.mark(event.id)
    expected = outcome(store, ids)
    store.timeline.clear()
    for doc in store.clues.values():
        doc.update(status="received", acknowledged=False)
    case_news.apply_case_events(events_, MemoryProcessed(), store)
    assert outcome(store, ids) == expected
    assert expected[0][ids[0]] == ("closed", True) and expected[0][ids[1]] == ("received", True)
    assert expected[0][ids[2]] == ("transferred", True) and len(expected[1]) == 4


def test_a_redelivered_batch_writes_nothing_twice(store, keys):
    ids = [post(store, keys)[0]["clue_id"] for _ in range(4)]
    processed = MemoryProcessed()
    delivered = story(ids)
    case_news.apply_case_events(delivered, processed, store)
    first = outcome(store, ids)
    # the same events again, plus a case-closed for the supervised clue: only that one counts
    again = [*delivered, case_event(events.CASE_CLOSED, ids[1])]
    case_news.apply_case_events(again, processed, store)
    clues, lines = outcome(store, ids)
    assert clues == {**first[0], ids[1]: ("closed", True)} and len(lines) == len(first[1]) + 1
    assert processed.ids == {e.id for e in again}


def test_a_clue_changed_meanwhile_takes_its_events_one_by_one(store, keys, monkeypatch):
    """A reporter's objection reopens the clue between the batch's read and its write: the guarded
    update misses, and that clue's events are applied again on what it is now."""
    body, _ = post(store, keys)
    clue_id = body["clue_id"]
    case_news.apply_case_event(case_event(events.CASE_CLOSED, clue_id), store)
    real_apply = status.apply

    def objection_meanwhile(current, event_type, data):
        store.clues[clue_id]["status"] = "accepted"  # as follow_up's reopening does
        return real_apply(current, event_type, data)

    monkeypatch.setattr(status, "apply", objection_meanwhile)
    later_close = case_event(events.CASE_CLOSED, clue_id, reporter_summary="复查后维持原结论")
    case_news.apply_case_events([later_close], MemoryProcessed(), store)
    monkeypatch.setattr(status, "apply", real_apply)
    stored = store.clues[clue_id]
    assert stored["status"] == "closed" and stored["acknowledged"]
    assert later_close.id in store.timeline
