"""Intake's handlers on mongomock: storage, receipts, idempotency, case events, reconciler."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import case_events, follow_ups, handlers, status, timeline
from services.intake.documents import Clue, ClueUpdate, FollowUp
from services.intake.schemas import ClueSchema
from shared import events
from shared.kafka import DependencyDown
from shared.mongo import ProcessedEvent, ProcessedEvents
from shared.sealing import open_sealed
from tests.unit.intake.clues import IDENTITY, anonymous_clue, clue

NOW = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC)


def post(keys, body=None, *, unit="foshan/chancheng/shiwan/contact", key=None, outbox=None, now=NOW):
    body = body or clue()
    return handlers.post_clue(ClueSchema().load(body), unit, keys,
                              request_hash=handlers.body_hash(body, keys.request_key) if key else None,
                              idempotency_key=key, outbox=outbox, now=now)


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


def test_post_stores_one_clue_with_its_event_and_no_plain_identity(db, keys, outbox, notify_keys):
    body, replayed = post(keys, outbox=outbox)
    assert not replayed and body["status"] == "received"
    raw = Clue._get_collection().find_one({"_id": body["clue_id"]})
    text = json.dumps(raw, default=str, ensure_ascii=False)
    for secret in (*IDENTITY, body["receipt"]["secret"], body["receipt"]["code"]):
        assert secret not in text
    assert keys.vault.open(raw["reporter_sealed"])["name"] == "王小明"
    assert not raw["acknowledged"] and "outbox" not in raw  # the clue itself is pending
    [envelope] = outbox.announced
    assert envelope == handlers.received_event(raw)  # the event it holds, announced at once
    assert envelope["type"] == "campaign.clue.received.v1" and envelope["subject"] == body["clue_id"]
    assert envelope["id"] == raw["received_event_id"]
    contact = open_sealed(envelope["data"]["reporter_contact_sealed"], notify_keys[1])
    assert contact["webhook_url"] == "https://hooks.example.net/wang-secret-hook"
    assert envelope["data"]["reporter_ref"] == raw["reporter_ref"]
    assert json.loads(events.encode(envelope)) == envelope


def test_anonymous_reporter_has_no_sealed_contact(db, keys, outbox):
    body, _ = post(keys, anonymous_clue(), outbox=outbox)
    [envelope] = outbox.announced
    assert envelope["data"]["reporter_contact_sealed"] is None
    assert envelope["data"]["reporter_ref"].startswith("r_")


def test_received_event_rebuilt_from_storage_is_the_same_event(db, keys, outbox):
    post(keys, outbox=outbox)
    stored = Clue.objects.get(id=outbox.announced[0]["subject"])
    assert handlers.received_event(stored.to_mongo()) == outbox.announced[0]


@pytest.mark.parametrize("second_body, second_unit, outcome", [
    (clue(), "foshan/chancheng/shiwan/contact", "replay"),
    (clue(summary="Something else"), "foshan/chancheng/shiwan/contact", "conflict"),
    (clue(), "foshan/nanhai/guicheng/contact", "new"),
])
def test_idempotency_key(db, keys, second_body, second_unit, outcome):
    first, _ = post(keys, key="k-1")
    if outcome == "conflict":
        with pytest.raises(handlers.IdempotencyConflict):
            post(keys, second_body, unit=second_unit, key="k-1")
        return
    again, replayed = post(keys, second_body, unit=second_unit, key="k-1")
    assert replayed is (outcome == "replay")
    assert (again == first) is (outcome == "replay")
    assert Clue.objects.count() == (1 if outcome == "replay" else 2)


def test_key_order_does_not_change_the_body_hash(keys):
    key = keys.request_key
    assert handlers.body_hash({"a": 1, "b": [1, 2]}, key) == handlers.body_hash({"b": [1, 2], "a": 1}, key)
    assert handlers.body_hash({"a": 1}, key) != handlers.body_hash({"a": 2}, key)


def _plain_digests(payload):
    """Every unkeyed digest a database thief could compute from a guessed body."""
    import hashlib
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return {getattr(hashlib, name)(canonical).hexdigest() for name in ("sha256", "sha1", "md5", "sha512")}


def test_the_stored_digests_cannot_be_recomputed_from_the_body_alone(db, keys):
    """A leaked database plus a guessed body (reporter's name, phone) confirms nothing: the stored
    digest is an HMAC under a server key, and the receipt key itself does not give it either."""
    import hashlib
    import hmac
    post(keys, key="k-1")
    raw = Clue._get_collection().find_one()
    assert raw["request_hash"] == handlers.body_hash(clue(), keys.request_key)
    assert raw["request_hash"] not in _plain_digests(clue())
    canonical = json.dumps(clue(), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert raw["request_hash"] != hmac.new(keys.receipt_key, canonical, hashlib.sha256).hexdigest()
    assert hashlib.sha256(b"k-1").hexdigest() not in raw["idempotency_key"]
    other = handlers.Keys(b"x" * 32, keys.vault, keys.notify_public_key)
    assert raw["request_hash"] != handlers.body_hash(clue(), other.request_key)


def test_replay_data_expires_after_24_hours(db, keys):
    first, _ = post(keys, key="k-1")
    assert post(keys, key="k-1", now=NOW + timedelta(hours=23))[1] is True
    assert handlers.expire_replays(NOW + timedelta(hours=23)) == 0
    assert handlers.expire_replays(NOW + timedelta(hours=24, seconds=1)) == 1
    raw = Clue._get_collection().find_one({"_id": first["clue_id"]})
    assert not {"request_hash", "replay_sealed", "replay_until_ms"} & set(raw)
    assert raw["receipt_code_digest"] and raw["idempotency_key"].startswith("hkey:")
    with pytest.raises(handlers.IdempotencyConflict, match="24 hours"):  # still never posted twice
        post(keys, key="k-1", now=NOW + timedelta(hours=25))
    assert Clue.objects.count() == 1


def test_a_replay_past_24_hours_is_refused_even_before_the_sweep(db, keys):
    post(keys, key="k-1")
    with pytest.raises(handlers.IdempotencyConflict, match="24 hours"):
        post(keys, key="k-1", now=NOW + timedelta(hours=24, seconds=1))


def test_the_body_hash_is_kept_with_an_idempotency_key_only(db, keys):
    keyed, _ = post(keys, key="k-1")
    plain, _ = post(keys)
    stored = {d["_id"]: d for d in Clue._get_collection().find()}
    assert stored[keyed["clue_id"]]["request_hash"] == handlers.body_hash(clue(), keys.request_key)
    assert "request_hash" not in stored[plain["clue_id"]]
    with pytest.raises(ValueError, match="body_hash"):
        handlers.post_clue(ClueSchema().load(clue()), "foshan/chancheng/shiwan/contact", keys,
                           idempotency_key="k-2")


def test_lookup_by_receipt_and_typing_slack(db, keys):
    body, _ = post(keys)
    code, secret = body["receipt"]["code"], body["receipt"]["secret"]
    answer = follow_ups.lookup(code.lower().replace("-", " "), secret, keys, now=NOW)
    assert answer["status"] == "received"
    assert [u["kind"] for u in answer["updates"]] == ["received"]
    assert answer["updates"][0]["message"] == status.RECEIVED_UPDATE.text


@pytest.mark.parametrize("which", ["code", "secret", "both", "malformed"])
def test_wrong_code_or_secret_is_the_same_not_found(db, keys, which):
    body, _ = post(keys)
    code, secret = body["receipt"]["code"], body["receipt"]["secret"]
    wrong = {"code": ("0000-0000-0000-0000", secret), "secret": (code, secret + "x"),
             "both": ("0000-0000-0000-0000", "nope"), "malformed": ("!!", secret)}[which]
    with pytest.raises(handlers.ReceiptNotFound) as caught:
        follow_ups.lookup(*wrong, keys)
    assert str(caught.value) == "no clue has this receipt"


def test_case_events_move_status_acknowledge_and_tolerate_duplicates(db, keys):
    body, _ = post(keys)
    clue_id = body["clue_id"]
    assigned = case_event(events.CASE_ASSIGNED, clue_id)
    case_events.apply_case_event(assigned)
    case_events.apply_case_event(assigned)
    stored = Clue.objects.get(id=clue_id)
    assert stored.status == "accepted" and stored.acknowledged
    assert ClueUpdate.objects(clue_id=clue_id).count() == 1
    case_events.apply_case_event(case_event(events.CASE_CLOSED, clue_id))
    case_events.apply_case_event(case_event(events.CASE_ASSIGNED, clue_id))  # late: ignored
    answer = follow_ups.lookup(body["receipt"]["code"], body["receipt"]["secret"], keys, now=NOW)
    assert answer["status"] == "closed"
    assert [u["kind"] for u in answer["updates"]] == ["received", "case-assigned", "case-closed"]
    assert "查无实据" in answer["updates"][-1]["message"]
    assert "c1" not in json.dumps(answer)  # never the cadre


def test_supervised_escalation_acknowledges_without_a_reporter_update(db, keys):
    body, _ = post(keys)
    case_events.apply_case_event(case_event(events.CASE_ESCALATED, body["clue_id"], mode="supervised"))
    stored = Clue.objects.get(id=body["clue_id"])
    assert stored.acknowledged and stored.status == "received"
    assert ClueUpdate.objects(clue_id=body["clue_id"]).count() == 0


def test_case_event_for_an_unknown_clue_changes_nothing(db, keys):
    case_events.apply_case_event(case_event(events.CASE_ASSIGNED, "not-ours"))
    assert Clue.objects.count() == 0 and ClueUpdate.objects.count() == 0


def test_follow_up_stages_event_and_objection_reopens_closed_clue(db, keys, outbox):
    body, _ = post(keys)
    receipt = body["receipt"]
    case_events.apply_case_event(case_event(events.CASE_CLOSED, body["clue_id"]))
    answer = follow_ups.follow_up(receipt["code"], receipt["secret"], "结果不对", True, keys, outbox=outbox,
                                now=NOW + timedelta(days=5))
    assert answer["status"] == "accepted"
    item = FollowUp.objects.get(clue_id=body["clue_id"])
    envelope = json.loads(item.outbox[0]["value"])
    assert envelope["type"] == "campaign.clue.followed_up.v1"
    assert envelope["data"] == {"clue_id": body["clue_id"], "message": "结果不对", "objection": True,
                                "at": envelope["data"]["at"]}
    assert outbox.woken[-1][1]["_id"] == item.id
    later = NOW + timedelta(days=6)
    kinds = [u["kind"] for u in follow_ups.lookup(receipt["code"], receipt["secret"], keys, later)["updates"]]
    assert kinds[-1] == "clue-followed-up"


def test_a_stored_follow_up_is_never_answered_with_a_failure(db, keys, outbox, monkeypatch):
    """One write: once the follow-up is stored, a failure noting it on the clue does not turn into
    a 503 (the reporter would send it twice); the relay's apply_follow_ups notes it later, once."""
    from pymongo.errors import AutoReconnect

    body, _ = post(keys)
    receipt = body["receipt"]
    case_events.apply_case_event(case_event(events.CASE_CLOSED, body["clue_id"]))
    real_move = timeline.move_clue

    def down(*args, **kwargs):
        raise AutoReconnect("the database went away after the insert")

    monkeypatch.setattr(follow_ups, "move_clue", down)
    answer = follow_ups.follow_up(receipt["code"], receipt["secret"], "补充", True, keys, outbox=outbox,
                                now=NOW + timedelta(days=5))
    assert answer["status"] == "accepted"  # what noting it will give
    assert FollowUp.objects.count() == 1 and FollowUp.objects.get().applied is False
    assert Clue.objects.get(id=body["clue_id"]).status == "closed"
    monkeypatch.setattr(follow_ups, "move_clue", real_move)
    assert follow_ups.apply_follow_ups() == 1 and follow_ups.apply_follow_ups() == 0
    assert Clue.objects.get(id=body["clue_id"]).status == "accepted"
    assert ClueUpdate.objects(kind="clue-followed-up").count() == 1


def test_follow_up_with_wrong_secret_stores_nothing(db, keys):
    body, _ = post(keys)
    with pytest.raises(handlers.ReceiptNotFound):
        follow_ups.follow_up(body["receipt"]["code"], "wrong", "m", False, keys)
    assert FollowUp.objects.count() == 0


def test_reconcile_republishes_the_same_event_only_for_old_unacknowledged_clues(db, keys, outbox, publisher):
    old, _ = post(keys, now=NOW, outbox=outbox)
    acked, _ = post(keys, now=NOW)
    recent, _ = post(keys, now=NOW + timedelta(seconds=50))
    case_events.apply_case_event(case_event(events.CASE_ASSIGNED, acked["clue_id"]))
    assert handlers.reconcile(60, publisher, now=NOW + timedelta(seconds=59)) == []
    assert handlers.reconcile(60, publisher, now=NOW + timedelta(seconds=61)) == [old["clue_id"]]
    [record] = publisher.records(events.CLUE_RECEIVED)
    assert record.key == old["clue_id"] and sum(map(len, publisher.topics.values())) == 1
    assert json.loads(record.value) == json.loads(events.encode(outbox.announced[0]))  # the same event again
    # Not again until another 60 s have passed since it went out.
    assert handlers.reconcile(60, publisher, now=NOW + timedelta(seconds=111)) == [recent["clue_id"]]
    assert handlers.reconcile(60, publisher, now=NOW + timedelta(seconds=122)) == [old["clue_id"]]
    assert len(handlers.reconcile(60, publisher, now=NOW + timedelta(hours=1), limit=1)) == 1


def test_reconcile_notes_nothing_when_the_publish_fails(db, keys, publisher):
    publisher.fail_next = 1
    body, _ = post(keys, now=NOW)
    with pytest.raises(DependencyDown):
        handlers.reconcile(60, publisher, now=NOW + timedelta(seconds=61))
    assert Clue.objects.get(id=body["clue_id"]).last_staged_ms == int(NOW.timestamp() * 1000)


def test_still_handling_note_after_thirty_quiet_days(db, keys):
    body, _ = post(keys, now=NOW)
    receipt = body["receipt"]
    later = follow_ups.lookup(receipt["code"], receipt["secret"], keys, now=NOW + timedelta(days=31))
    assert later["updates"][-1]["kind"] == "still_handling"
    sooner = follow_ups.lookup(receipt["code"], receipt["secret"], keys, now=NOW + timedelta(days=29))
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


def outcome(ids):
    clues = {c.id: (c.status, c.acknowledged) for c in Clue.objects(id__in=ids)}
    lines = sorted((u.clue_id, u.kind, u.message_zh, u.at) for u in ClueUpdate.objects)
    return clues, lines


def test_a_batch_of_case_events_ends_as_one_by_one(db, keys):
    ids = [post(keys)[0]["clue_id"] for _ in range(4)]
    events_ = story(ids)
    seen = ProcessedEvents("one")
    for event in events_:  # what the consumer loop did before: check, handle, mark
        if not seen.seen(event.id):
            case_events.apply_case_event(event)
            seen.mark(event.id)
    expected = outcome(ids)
    ClueUpdate.objects.delete()
    Clue.objects.update(set__status="received", set__acknowledged=False)
    case_events.apply_case_events(events_, ProcessedEvents("batch"))
    assert outcome(ids) == expected
    assert expected[0][ids[0]] == ("closed", True) and expected[0][ids[1]] == ("received", True)
    assert expected[0][ids[2]] == ("transferred", True) and len(expected[1]) == 4


def test_a_redelivered_batch_writes_nothing_twice(db, keys):
    ids = [post(keys)[0]["clue_id"] for _ in range(4)]
    processed = ProcessedEvents("intake")
    delivered = story(ids)
    case_events.apply_case_events(delivered, processed)
    first = outcome(ids)
    # the same events again, plus a case-closed for the supervised clue: only that one counts
    again = [*delivered, case_event(events.CASE_CLOSED, ids[1])]
    case_events.apply_case_events(again, processed)
    clues, lines = outcome(ids)
    assert clues == {**first[0], ids[1]: ("closed", True)} and len(lines) == len(first[1]) + 1
    assert ProcessedEvent.objects.count() == len({e.id for e in again})


def test_a_clue_changed_meanwhile_takes_its_events_one_by_one(db, keys, monkeypatch):
    """A reporter's objection reopens the clue between the batch's read and its write: the guarded
    update misses, and that clue's events are applied again on what it is now."""
    body, _ = post(keys)
    clue_id = body["clue_id"]
    case_events.apply_case_event(case_event(events.CASE_CLOSED, clue_id))
    real_apply = status.apply

    def objection_meanwhile(current, event_type, data):
        Clue.objects(id=clue_id).update(set__status="accepted")  # as follow_up's reopening does
        return real_apply(current, event_type, data)

    monkeypatch.setattr(status, "apply", objection_meanwhile)
    later_close = case_event(events.CASE_CLOSED, clue_id, reporter_summary="复查后维持原结论")
    case_events.apply_case_events([later_close], ProcessedEvents("intake"))
    monkeypatch.setattr(status, "apply", real_apply)
    stored = Clue.objects.get(id=clue_id)
    assert stored.status == "closed" and stored.acknowledged
    assert ClueUpdate.objects(id=later_close.id).count() == 1
