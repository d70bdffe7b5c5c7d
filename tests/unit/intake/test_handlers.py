"""Intake's look-up, follow-ups and case events on the in-memory clue store and processed-event
record (their contracts on the real database: tests/integration/intake/test_clue_store.py and
tests/integration/shared/test_processed_events.py). Receiving and the relay's backstops:
test_receiving.py."""

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from services.intake import case_events, clue_store, follow_ups, handlers, status, timeline
from services.intake.clue_store import MemoryClueStore
from services.intake.model import Move
from services.intake.schemas import ClueSchema
from shared import events
from shared.fakes import MemoryProcessedEvents
from tests.unit.intake.clues import clue

NOW = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(autouse=True)
def store():
    """A fresh in-memory clue store in place for the test; the one before is put back after it."""
    mine = MemoryClueStore()
    previous = clue_store.use(mine)
    yield mine
    clue_store.use(previous)


def held(store, clue_id):
    """(status, acknowledged) of a clue the store holds, read through the store."""
    found = store.view(clue_id)
    return found.status, found.acknowledged


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


def test_lookup_by_receipt_and_typing_slack(keys):
    body, _ = post(keys)
    code, secret = body["receipt"]["code"], body["receipt"]["secret"]
    answer = follow_ups.lookup(code.lower().replace("-", " "), secret, keys, now=NOW)
    assert answer["status"] == "received"
    assert [u["kind"] for u in answer["updates"]] == ["received"]
    assert answer["updates"][0]["message"] == status.RECEIVED_UPDATE.text


@pytest.mark.parametrize("which", ["code", "secret", "both", "malformed"])
def test_wrong_code_or_secret_is_the_same_not_found(keys, which):
    body, _ = post(keys)
    code, secret = body["receipt"]["code"], body["receipt"]["secret"]
    wrong = {"code": ("0000-0000-0000-0000", secret), "secret": (code, secret + "x"),
             "both": ("0000-0000-0000-0000", "nope"), "malformed": ("!!", secret)}[which]
    with pytest.raises(handlers.ReceiptNotFound) as caught:
        follow_ups.lookup(*wrong, keys)
    assert str(caught.value) == "no clue has this receipt"


def test_case_events_move_status_acknowledge_and_tolerate_duplicates(store, keys):
    body, _ = post(keys)
    clue_id = body["clue_id"]
    assigned = case_event(events.CASE_ASSIGNED, clue_id)
    case_events.apply_case_event(assigned)
    case_events.apply_case_event(assigned)
    assert held(store, clue_id) == ("accepted", True)
    assert len(store.lines(clue_id)) == 1
    case_events.apply_case_event(case_event(events.CASE_CLOSED, clue_id))
    case_events.apply_case_event(case_event(events.CASE_ASSIGNED, clue_id))  # late: ignored
    answer = follow_ups.lookup(body["receipt"]["code"], body["receipt"]["secret"], keys, now=NOW)
    assert answer["status"] == "closed"
    assert [u["kind"] for u in answer["updates"]] == ["received", "case-assigned", "case-closed"]
    assert "查无实据" in answer["updates"][-1]["message"]
    assert "c1" not in json.dumps(answer)  # never the cadre


def test_supervised_escalation_acknowledges_without_a_reporter_update(store, keys):
    body, _ = post(keys)
    case_events.apply_case_event(case_event(events.CASE_ESCALATED, body["clue_id"], mode="supervised"))
    assert held(store, body["clue_id"]) == ("received", True)
    assert store.lines(body["clue_id"]) == []


def test_case_event_for_an_unknown_clue_changes_nothing(store, keys):
    case_events.apply_case_event(case_event(events.CASE_ASSIGNED, "not-ours"))
    assert store.get("not-ours") is None and store.lines("not-ours") == []
    assert store.clues == {} and store.line_docs == {}


def test_follow_up_stages_event_and_objection_reopens_closed_clue(store, keys, outbox):
    body, _ = post(keys)
    receipt = body["receipt"]
    case_events.apply_case_event(case_event(events.CASE_CLOSED, body["clue_id"]))
    answer = follow_ups.follow_up(receipt["code"], receipt["secret"], "结果不对", True, keys, outbox=outbox,
                                now=NOW + timedelta(days=5))
    assert answer["status"] == "accepted"
    [(item_id, item)] = [(i, f) for i, f in store.follow_ups.items() if f["clue_id"] == body["clue_id"]]
    envelope = json.loads(item["outbox"][0]["value"])
    assert envelope["type"] == "campaign.clue.followed_up.v1"
    assert envelope["data"] == {"clue_id": body["clue_id"], "message": "结果不对", "objection": True,
                                "at": envelope["data"]["at"]}
    assert outbox.woken[-1][1]["_id"] == item_id and item["applied"] is True
    later = NOW + timedelta(days=6)
    kinds = [u["kind"] for u in follow_ups.lookup(receipt["code"], receipt["secret"], keys, later)["updates"]]
    assert kinds[-1] == "clue-followed-up"


def test_a_stored_follow_up_is_never_answered_with_a_failure(store, keys, outbox, monkeypatch):
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
    [item] = store.follow_ups.values()
    assert item["applied"] is False and len(store.pending_follow_ups(10)) == 1
    assert store.get(body["clue_id"]).status == "closed"
    monkeypatch.setattr(follow_ups, "move_clue", real_move)
    assert follow_ups.apply_follow_ups() == 1 and follow_ups.apply_follow_ups() == 0
    assert store.get(body["clue_id"]).status == "accepted"
    assert [line.kind for line in store.lines(body["clue_id"])].count("clue-followed-up") == 1


def test_follow_up_with_wrong_secret_stores_nothing(store, keys):
    body, _ = post(keys)
    with pytest.raises(handlers.ReceiptNotFound):
        follow_ups.follow_up(body["receipt"]["code"], "wrong", "m", False, keys)
    assert store.follow_ups == {}


def test_still_handling_note_after_thirty_quiet_days(keys):
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


def outcome(store, ids):
    """The clues' (status, acknowledged), and every timeline line the store holds."""
    clues = {i: held(store, i) for i in ids if store.get(i) is not None}
    lines = sorted((u.clue_id, u.kind, u.zh, u.at) for u in store.line_docs.values())
    return clues, lines


def test_a_batch_of_case_events_ends_as_one_by_one(store, keys):
    ids = [post(keys)[0]["clue_id"] for _ in range(4)]
    before = copy.deepcopy(store)  # the same four clues, as no case event has touched them yet
    events_ = story(ids)
    seen = MemoryProcessedEvents("one")
    for event in events_:  # what the consumer loop did before: check, handle, mark
        if not seen.seen(event.id):
            case_events.apply_case_event(event)
            seen.mark(event.id)
    expected = outcome(store, ids)
    clue_store.use(before)  # the autouse fixture puts the store before the test back afterwards
    case_events.apply_case_events(events_, MemoryProcessedEvents("batch"))
    assert outcome(before, ids) == expected
    assert expected[0][ids[0]] == ("closed", True) and expected[0][ids[1]] == ("received", True)
    assert expected[0][ids[2]] == ("transferred", True) and len(expected[1]) == 4


def test_a_redelivered_batch_writes_nothing_twice(store, keys):
    ids = [post(keys)[0]["clue_id"] for _ in range(4)]
    processed = MemoryProcessedEvents("intake")
    delivered = story(ids)
    case_events.apply_case_events(delivered, processed)
    first = outcome(store, ids)
    # the same events again, plus a case-closed for the supervised clue: only that one counts
    again = [*delivered, case_event(events.CASE_CLOSED, ids[1])]
    case_events.apply_case_events(again, processed)
    clues, lines = outcome(store, ids)
    assert clues == {**first[0], ids[1]: ("closed", True)} and len(lines) == len(first[1]) + 1
    assert processed.seen_many([e.id for e in again]) == processed.marked == {e.id for e in again}


def test_a_clue_changed_meanwhile_takes_its_events_one_by_one(store, keys, monkeypatch):
    """A reporter's objection reopens the clue between the batch's read and its write: the guarded
    update misses, and that clue's events are applied again on what it is now."""
    body, _ = post(keys)
    clue_id = body["clue_id"]
    case_events.apply_case_event(case_event(events.CASE_CLOSED, clue_id))
    real_apply = status.apply

    def objection_meanwhile(current, event_type, data):
        now = store.get(clue_id).status  # reopened, as follow_up's reopening does: through the store
        assert store.save([Move(clue_id, now, "accepted", (), acknowledge=False, closed_at=None)])
        return real_apply(current, event_type, data)

    monkeypatch.setattr(status, "apply", objection_meanwhile)
    later_close = case_event(events.CASE_CLOSED, clue_id, reporter_summary="复查后维持原结论")
    case_events.apply_case_events([later_close], MemoryProcessedEvents("intake"))
    monkeypatch.setattr(status, "apply", real_apply)
    assert held(store, clue_id) == ("closed", True)
    assert [line.id for line in store.lines(clue_id)].count(later_close.id) == 1
