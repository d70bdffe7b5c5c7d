"""The clue-moving use cases (case events, look-up, follow-ups, the timeline) on the in-memory clue
store: no database, the rules of status.py and the store's guarded writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake import case_events, follow_ups, receipts
from services.intake.clue_store import MemoryClueStore, use
from services.intake.handlers import Keys, ReceiptNotFound
from services.intake.model import Clue, Step
from services.intake.timeline import move_clue, timeline
from shared import events
from shared.sealing import ReporterVault

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
KEYS = Keys(b"r" * 32, ReporterVault(b"v" * 32), b"n" * 32)
RECEIPT = receipts.new_receipt()


class Processed:
    """The processed-event marks, in memory."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def seen_many(self, ids):
        return self.ids & set(ids)

    def mark_many(self, ids):
        self.ids |= set(ids)


@pytest.fixture
def store():
    mine = MemoryClueStore()
    code, secret = receipts.digests(KEYS.receipt_key, RECEIPT)
    mine.add("c1", "received", T0, code, secret)
    previous = use(mine)
    yield mine
    use(previous)


def case_event(topic: str, at: datetime, clue_id: str = "c1", **data) -> events.Event:
    """A valid case event about `clue_id` that happened `at` (decoded as a consumer gets it)."""
    body = {"case_id": "k1", "clue_id": clue_id, **{
        events.CASE_ASSIGNED: {"unit": "u", "cadre_id": "cad", "due_at": at + timedelta(days=90),
                               "assigned_at": at},
        events.CASE_CLOSED: {"disposition": "concluded", "outcomes": ["unfounded"],
                             "reporter_summary": "查无实据", "closed_at": at},
    }[topic], **data}
    return events.decode(events.encode(events.make_event(topic, body, source="/test")))


def test_case_events_move_the_clue_once_however_often_they_come(store):
    assigned = case_event(events.CASE_ASSIGNED, T0 + timedelta(hours=1))
    closed = case_event(events.CASE_CLOSED, T0 + timedelta(days=3), reporter_summary="已提醒谈话")
    processed = Processed()
    case_events.apply_case_events([assigned, closed, assigned], processed)
    case_events.apply_case_events([closed], processed)  # a redelivery
    clue = store.clues["c1"]
    assert clue["status"] == "closed" and clue["acknowledged"] is True
    assert clue["closed_ms"] == int((T0 + timedelta(days=3)).timestamp() * 1000)
    assert [line.kind for line in store.lines("c1")] == ["case-assigned", "case-closed"]
    assert "已提醒谈话" in store.lines("c1")[-1].zh


def test_an_event_about_a_clue_intake_does_not_hold_changes_nothing(store):
    stray = case_event(events.CASE_ASSIGNED, T0, clue_id="elsewhere")
    case_events.apply_case_events([stray], Processed())
    assert store.line_docs == {} and store.clues["c1"]["status"] == "received"


def test_an_objection_reopens_a_closed_clue_and_a_message_does_not(store):
    case_events.apply_case_event(case_event(events.CASE_CLOSED, T0 + timedelta(days=3)))
    sent = follow_ups.follow_up(RECEIPT.code, RECEIPT.secret, "补充证据", False, KEYS,
                                now=T0 + timedelta(days=4))
    assert sent["status"] == "closed"
    objected = follow_ups.follow_up(RECEIPT.code, RECEIPT.secret, "我有异议", True, KEYS,
                                    now=T0 + timedelta(days=5))
    assert objected["status"] == "accepted" and store.clues["c1"]["status"] == "accepted"
    assert all(f["applied"] for f in store.follow_ups.values()) and len(store.follow_ups) == 2
    staged = [events.decode(f["outbox"][0]["value"].encode()) for f in store.follow_ups.values()]
    assert [(e.topic, e.data["objection"]) for e in staged] == [(events.CLUE_FOLLOWED_UP, False),
                                                               (events.CLUE_FOLLOWED_UP, True)]


def test_a_wrong_secret_or_code_is_not_found_alike(store):
    with pytest.raises(ReceiptNotFound):
        follow_ups.lookup(RECEIPT.code, "wrong-secret", KEYS)
    with pytest.raises(ReceiptNotFound):
        follow_ups.lookup("AAAA-BBBB-CCCC-DDDD", RECEIPT.secret, KEYS)
    assert follow_ups.lookup(RECEIPT.code, RECEIPT.secret, KEYS, now=T0)["status"] == "received"


def test_the_timeline_says_still_handling_after_a_quiet_month(store):
    quiet = timeline(store.get("c1"), now=T0 + timedelta(days=29))
    assert [item["kind"] for item in quiet] == ["received"]
    later = timeline(store.get("c1"), now=T0 + timedelta(days=31))
    assert [item["kind"] for item in later] == ["received", "still_handling"]


def test_a_move_on_a_clue_changed_meanwhile_is_taken_again_on_what_it_is_now(store):
    stale = Clue("c1", "received", T0)
    store.clues["c1"]["status"] = "closed"  # closed since `stale` was read
    objection = Step(events.TYPES[events.CLUE_FOLLOWED_UP], {"objection": True}, "f1", T0)
    assert move_clue(stale, [objection], acknowledge=False) == "accepted"
    assert [line.id for line in store.lines("c1")] == ["f1"]


def test_the_backstop_notes_the_follow_ups_whose_noting_failed(store, monkeypatch):
    def down(*_args, **_kwargs):
        raise ConnectionError("the database went away after the insert")

    monkeypatch.setattr(follow_ups, "move_clue", down)
    follow_ups.follow_up(RECEIPT.code, RECEIPT.secret, "补充", False, KEYS, now=T0)
    monkeypatch.undo()
    assert [f["applied"] for f in store.follow_ups.values()] == [False]
    assert follow_ups.apply_follow_ups() == 1 and follow_ups.apply_follow_ups() == 0
    assert [line.kind for line in store.lines("c1")] == ["clue-followed-up"]
