"""The Clue aggregate alone: transitions, the events and lines they cause, the errors they raise."""

from datetime import UTC, datetime, timedelta

import pytest

from services.intake import model, receipts, status
from services.intake.schemas import ClueSchema
from shared import events
from shared.times import to_ms
from tests.unit.intake.clues import IDENTITY, anonymous_clue, clue
from tests.unit.intake.test_handlers import case_event

AT = model.millis(datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=UTC))
CLOSED = events.TYPES[events.CASE_CLOSED]
FOLLOWED_UP = events.TYPES[events.CLUE_FOLLOWED_UP]


def received(keys, body=None, key=None):
    return model.Clue.receive(ClueSchema().load(body or clue()), "u", keys, receipts.new_receipt(),
                              key, "hash" if key else None, AT)


def test_a_received_clue_holds_its_event_and_only_sealed_identity(keys):
    new = received(keys)
    assert new.status == status.INITIAL_STATUS and not new.acknowledged and new.last_staged_ms == to_ms(AT)
    assert not any(secret in str(new.doc) for secret in IDENTITY)
    event = new.received_event()
    assert event["id"] == new.received_event_id and event["data"]["reporter_ref"] == new.reporter_ref
    assert "request_hash" not in new.doc and new.idempotency_key == f"none:{new.id}"
    assert received(keys, anonymous_clue()).anonymous is True


def test_a_replay_answers_the_first_body_only_within_24_hours(keys):
    first = received(keys, key="k")
    first.doc["replay_sealed"] = keys.vault.seal({"clue_id": first.id})
    assert first.replayed_answer("hash", AT + timedelta(hours=23), keys.vault) == {"clue_id": first.id}
    with pytest.raises(model.IdempotencyConflict, match="different body"):
        first.replayed_answer("other", AT, keys.vault)
    with pytest.raises(model.IdempotencyConflict, match="24 hours"):
        first.replayed_answer("hash", AT + timedelta(hours=24), keys.vault)


def test_closing_starts_the_objection_window_and_adds_a_line(keys):
    new = received(keys)
    closing = case_event(events.CASE_CLOSED, new.id)
    move = new.take(CLOSED, closing.data, "e1", AT, acknowledge=True)
    assert move.status == status.CLOSED
    assert move.changes == {"status": "closed", "closed_ms": to_ms(AT), "acknowledged": True}
    assert move.line["_id"] == "e1" and move.line["kind"] == events.CASE_CLOSED
    assert "查无实据" in move.line["message_zh"]
    new.doc["status"] = status.CLOSED
    objection = new.take(FOLLOWED_UP, {"objection": True}, "f1", AT, acknowledge=False)
    assert objection.changes == {"status": status.ACCEPTED}
    assert objection.line["kind"] == events.CLUE_FOLLOWED_UP


def test_a_follow_up_is_stored_with_its_event(keys):
    item, event = received(keys).follow_up("补充", True, AT)
    assert item["applied"] is False and item["objection"] is True
    assert event["type"] == FOLLOWED_UP and event["data"]["message"] == "补充"


def test_conflict_escalations_keep_the_highest_level():
    to = "foshan/chancheng#commission"
    escalated = case_event(events.CASE_ESCALATED, "c", to_unit=to, reasons=["conflict"])
    assert model.conflict_destination(escalated) == "foshan/chancheng"
    assert model.conflict_destination(case_event(events.CASE_ESCALATED, "c")) is None
    assert model.unit_jurisdiction("foshan/chancheng/urban-management#embedded") == "foshan/chancheng"
    clue_ = model.Clue({"_id": "c", "conflict_moved_to": "foshan"})
    assert not clue_.takes_conflict_move("foshan/chancheng") and clue_.takes_conflict_move("")


def test_fold_moves_each_clue_forward_and_leaves_out_unknown_clues():
    batch = [case_event(events.CASE_ASSIGNED, "a"), case_event(events.CASE_CLOSED, "a"),
             case_event(events.CASE_ASSIGNED, "a"), case_event(events.CASE_ASSIGNED, "nope")]
    after, lines, by_clue = model.fold({"a": "received"}, batch)
    assert after == {"a": "closed"} and list(by_clue) == ["a"] and len(by_clue["a"]) == 3
    assert [ln["kind"] for ln in lines] == [events.CASE_ASSIGNED, events.CASE_CLOSED]
    changes = model.moved("received", "closed", by_clue["a"], AT)
    assert changes["acknowledged"] and changes["closed_ms"] == to_ms(batch[1].data["closed_at"])
    assert "closed_ms" not in model.moved("closed", "closed", by_clue["a"], AT)
