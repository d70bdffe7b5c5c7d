"""The event handlers on the in-memory store: what each event stores and which notifications it queues."""

from datetime import timedelta

import pytest

from services.notify import handlers
from services.notify.progress import CLOSED
from shared import events
from shared.consumer import PoisonRecord
from shared.sealing import generate_keypair, load_key, seal_for_notify

from .events_factory import T0, case_assigned, case_closed, case_escalated, clue_received, decoded

PUBLIC, _PRIVATE = generate_keypair()
CONTACT = {"name": "王某", "channel": "email", "email": "wang@example.org"}
SEALED = seal_for_notify(CONTACT, load_key(PUBLIC, "public"))
CLUE = "01HCLUEAAAAAAAAAAAAAAAAAAA"


def handle(envelope: dict) -> None:
    event = decoded(envelope)
    handlers.HANDLERS[event.topic](event)


def notes(store, clue_id: str = CLUE, kind: str | None = None) -> list[dict]:
    return [n for n in store.items.values() if n["clue_id"] == clue_id and kind in (None, n["kind"])]


def kinds(store, clue_id: str = CLUE) -> list[str]:
    return sorted(n["kind"] for n in notes(store, clue_id))


def test_clue_received_keeps_the_sealed_contact_and_queues_received(store):
    handle(clue_received(CLUE, SEALED, reporter_ref="ref-42"))
    contact = store.contact(CLUE)
    assert contact.contact_sealed == SEALED and contact.reporter_ref == "ref-42"
    assert contact.anonymous is False
    [note] = notes(store)
    assert (note["kind"], note["status"], note["lang"], note["attempts"]) == ("received", "pending", "zh", 0)
    assert "已于2024年3月1日 10:00收到" in note["text"]
    stored = str(contact) + str(note)
    assert "wang@example.org" not in stored and "王某" not in stored


def test_anonymous_reporter_gets_the_inbox_channel(store):
    handle(clue_received(CLUE, None))
    contact = store.contact(CLUE)
    assert contact.anonymous is True and contact.channel == "inbox"
    [note] = notes(store)
    assert note["channel"] == "inbox"


def test_full_life_of_a_clue_queues_each_feedback_once(store):
    for envelope in (clue_received(CLUE, SEALED), case_assigned(CLUE, status="queued", cadre_id=None),
                     case_assigned(CLUE), case_escalated(CLUE), case_escalated(CLUE, mode="supervised"),
                     case_closed(CLUE)):
        handle(envelope)
    assert kinds(store) == ["accepted", "closed", "received", "supervised", "transferred"]
    [closed] = notes(store, kind="closed")
    assert "处理结果：诫勉谈话；责令退还" in closed["text"] and "经核实" in closed["text"]
    assert store.contact(CLUE).closed is True


def test_duplicate_events_collapse(store):
    received, assigned, closed = clue_received(CLUE, SEALED), case_assigned(CLUE), case_closed(CLUE)
    for envelope in (received, received, assigned, assigned, closed, closed):
        handle(envelope)
    assert kinds(store) == ["accepted", "closed", "received"]


def test_close_before_assign_sends_no_accepted_afterwards(store):
    handle(clue_received(CLUE, SEALED))
    handle(case_closed(CLUE))
    handle(case_assigned(CLUE))  # happened before the close, arrived after it
    handle(case_escalated(CLUE))
    assert kinds(store) == ["closed", "received"]
    assert store.progress(CLUE)[0].stage == CLOSED


def test_reopened_case_is_new_work(store):
    handle(clue_received(CLUE, SEALED))
    handle(case_assigned(CLUE))
    handle(case_closed(CLUE))
    handle(case_assigned(CLUE, at=T0 + timedelta(days=20)))
    handle(case_closed(CLUE, at=T0 + timedelta(days=30)))
    assert kinds(store) == ["accepted", "accepted", "closed", "closed", "received"]
    assert store.contact(CLUE).closed is True


def test_an_objection_review_says_the_result_is_being_reviewed(store):
    """复查: a reopened case's case-assigned tells the reporter the result is being reviewed, and
    closing it again tells the new result."""
    handle(clue_received(CLUE, SEALED))
    handle(case_assigned(CLUE))
    handle(case_closed(CLUE))
    handle(case_assigned(CLUE, at=T0 + timedelta(hours=1, minutes=1), status="reopened"))
    handle(case_closed(CLUE, at=T0 + timedelta(days=30)))
    assert kinds(store) == ["accepted", "closed", "closed", "received", "reviewing"]
    [review] = notes(store, kind="reviewing")
    assert "复查" in review["subject"] + review["text"]


def test_a_clue_waiting_in_triage_is_not_told_it_was_accepted(store):
    handle(clue_received(CLUE, SEALED))
    triage = case_assigned(CLUE, status="queued", cadre_id=None)
    triage["data"]["reason"] = "unroutable"
    handle(triage)
    assert kinds(store) == ["received"]
    handle(case_assigned(CLUE, at=T0 + timedelta(days=1)))  # routed by a supervisor
    assert kinds(store) == ["accepted", "received"]


def test_case_event_before_clue_received_waits_for_the_contact(store):
    handle(case_assigned(CLUE))
    [note] = notes(store)
    assert (note["status"], note["channel"]) == ("pending", "")
    assert note["last_reason"] == handlers.WAITING_FOR_CONTACT
    handle(clue_received(CLUE, None))
    [note] = notes(store)
    assert note["channel"] == "inbox"
    assert kinds(store) == ["accepted"]  # "received" came after "accepted": not sent


def test_repeat_clues_of_one_case_get_their_own_notifications(store):
    other = "01HCLUEBBBBBBBBBBBBBBBBBBB"
    for clue in (CLUE, other):
        handle(clue_received(clue, SEALED))
        handle(case_assigned(clue))
    assert kinds(store, CLUE) == kinds(store, other) == ["accepted", "received"]


@pytest.mark.parametrize(
    "envelope",
    [
        case_closed(CLUE, outcomes=("no_such_outcome",)),
        case_assigned("x"),  # a clue id too short to make a reference from
    ],
)
def test_data_that_can_never_render_is_poison(store, envelope):
    with pytest.raises(PoisonRecord):
        handle(envelope)


def test_an_event_on_the_wrong_topic_is_poison(store):
    event = decoded(case_assigned(CLUE))
    with pytest.raises(PoisonRecord):
        handlers.HANDLERS[events.CASE_CLOSED](event)


def test_hostile_summary_is_stored_as_plain_text_and_capped(store):
    handle(clue_received(CLUE, SEALED))
    handle(case_closed(CLUE, summary="<script>alert(1)</script>{{7*7}}" + "长" * 5000))
    [note] = notes(store, kind="closed")
    assert "<script>alert(1)</script>{{7*7}}" in note["text"] and "49" not in note["text"]
    assert len(note["text"]) <= 4000
