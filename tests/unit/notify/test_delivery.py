"""The deliverer, the clue-notified outcomes, the still-handling note and retention, on the in-memory
store (the real database and broker: tests/integration/notify/)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify import delivery, handlers, retention
from services.notify.channels import SENT, DeliveryResult
from services.notify.delivery import Deliverer
from services.notify.outcomes import publish_outcomes
from services.notify.settings import NotifySettings
from services.notify.still_handling import send_still_handling
from shared import events
from shared.fakes import FakeBroker
from shared.sealing import generate_keypair, load_key, seal_for_notify
from shared.settings import CommonSettings, Env

from .events_factory import T0, case_assigned, case_closed, clue_received, decoded

PUBLIC, PRIVATE = generate_keypair()
COMMON = CommonSettings.from_env(Env({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                                      "MONGODB_URI": "mongodb://127.0.0.1:1/"}))
SETTINGS = NotifySettings(common=COMMON, private_key=load_key(PRIVATE, "private"), webhook_secret=b"s" * 32,
                          channel_workers=1, max_attempts=2, retry_base_s=10.0, retry_cap_s=60.0)
CLUE = "01HCLUEAAAAAAAAAAAAAAAAAAA"
NOW = T0 + timedelta(minutes=1)


class Recorder:
    """A channel that records what it was given and answers `result`."""

    def __init__(self, result: DeliveryResult = SENT) -> None:
        self.result = result
        self.sent: list[tuple[dict, str]] = []

    def send(self, contact, message, *, delivery_id):
        self.sent.append((dict(contact), delivery_id))
        return self.result


def sealed(contact: dict) -> str:
    return seal_for_notify(contact, load_key(PUBLIC, "public"))


def deliverer(channels: dict, at=NOW) -> Deliverer:
    return Deliverer(SETTINGS, channels, clock=lambda: at, rng=lambda: 0.5)


def only(store, kind: str = "received") -> dict:
    [note] = [n for n in store.items.values() if n["kind"] == kind]
    return note


@pytest.fixture
def inbox() -> Recorder:
    return Recorder()


def test_an_inbox_notice_is_sent_in_the_round_and_its_outcome_published_once(store, inbox):
    handlers.on_clue_received(decoded(clue_received(CLUE, None)), now=T0)
    running = deliverer({"inbox": inbox})
    assert running.run_once() == 1 and running.run_once() == 0
    note = only(store)
    assert (note["status"], note["attempts"], note["sent_at"], note["lease_owner"]) == ("sent", 1, NOW, "")
    assert [(a["status"], a["channel"]) for a in store.attempts] == [("sent", "inbox")]
    broker = FakeBroker()
    assert publish_outcomes(broker, NOW) == 1 and publish_outcomes(broker, NOW) == 0
    [told] = broker.events(events.CLUE_NOTIFIED)
    assert (told.data["outcome"], told.data["channel"], told.data["notification_id"]) == (
        "delivered", "inbox", note["_id"])


def test_the_sealed_contact_is_opened_only_to_send_and_its_channel_is_learnt(store, inbox):
    handlers.on_clue_received(decoded(clue_received(CLUE, sealed({"channel": "email", "email": "w@x.cn"}))),
                              now=T0)
    email = Recorder()
    running = deliverer({"inbox": inbox, "email": email})
    try:
        assert running.run_once() == 1 and running.wait_idle(10)
    finally:
        running.close()
    assert email.sent == [({"channel": "email", "email": "w@x.cn"}, only(store)["_id"])]
    assert store.contact(CLUE).channel == "email" and only(store)["status"] == "sent"
    assert "w@x.cn" not in str(store.items) + str(store.attempts)


def test_a_failing_channel_is_retried_later_then_fails_for_good(store, inbox):
    handlers.on_clue_received(decoded(clue_received(CLUE, sealed({"channel": "email", "email": "w@x.cn"}))),
                              now=T0)
    email = Recorder(DeliveryResult("retry", "smtp unavailable"))
    first, later = deliverer({"inbox": inbox, "email": email}), deliverer({"inbox": inbox, "email": email},
                                                                          NOW + timedelta(hours=1))
    try:
        assert first.run_once() == 1 and first.wait_idle(10)
        note = only(store)
        assert (note["status"], note["attempts"], note["last_reason"]) == ("pending", 1, "smtp unavailable")
        assert NOW < note["due_at"] <= NOW + timedelta(seconds=60)
        assert first.run_once() == 0  # not due yet
        assert later.run_once() == 1 and later.wait_idle(10)
    finally:
        first.close(), later.close()
    note = only(store)
    assert (note["status"], note["attempts"], note["outcome_pending"]) == ("failed", 2, True)


def test_a_notice_waits_for_its_contact_then_fails_when_it_never_comes(store, inbox):
    handlers.on_case_assigned(decoded(case_assigned(CLUE)), now=T0)
    assert deliverer({"inbox": inbox}).run_once() == 1  # claimed in the lane of unknown channels
    note = only(store, "accepted")
    assert (note["status"], note["last_reason"]) == ("pending", handlers.WAITING_FOR_CONTACT)
    assert note["due_at"] == NOW + timedelta(seconds=SETTINGS.contact_recheck_s)
    week_on = note["due_at"] + timedelta(days=8)
    assert deliverer({"inbox": inbox}, week_on).run_once() == 1
    assert (only(store, "accepted")["status"], only(store, "accepted")["last_reason"]) == (
        "failed", delivery.NO_CONTACT)


def test_a_channel_not_configured_fails_at_once_and_the_prompt_deliverer_gives_it_back(store, inbox):
    contact = sealed({"channel": "sms", "phone": "+8613800000000"})
    handlers.on_clue_received(decoded(clue_received(CLUE, contact)), now=T0)
    prompt = deliverer({"inbox": inbox})
    prompt.takes_expired, prompt.hands_back = False, True
    assert prompt.run_once() == 1
    note = only(store)
    assert (note["status"], note["channel"], note["attempts"]) == ("pending", "sms", 0)
    assert deliverer({"inbox": inbox}).run_once() == 1
    note = only(store)
    assert (note["status"], note["last_reason"], note["attempts"]) == ("failed", delivery.NO_CHANNEL, 1)
    broker = FakeBroker()
    publish_outcomes(broker, NOW)
    [told] = broker.events(events.CLUE_NOTIFIED)
    assert (told.data["outcome"], told.data["reason"]) == ("failed", delivery.NO_CHANNEL)
    assert "+8613800000000" not in str(told.data)


def test_the_still_handling_note_goes_once_per_quiet_period_to_real_name_reporters(store):
    handlers.on_clue_received(decoded(clue_received(CLUE, sealed({"channel": "inbox"}))), now=T0)
    other = "01HCLUEBBBBBBBBBBBBBBBBBBB"
    handlers.on_clue_received(decoded(clue_received(other, None)), now=T0)
    now = T0 + timedelta(days=40)
    assert send_still_handling(30, now) == 1 and send_still_handling(30, now) == 0
    note = only(store, "still_handling")
    assert note["clue_id"] == CLUE and note["status"] == "pending"
    assert send_still_handling(30, now + timedelta(days=31)) == 1


def test_retention_erases_a_closed_clues_contact_after_the_window(store, inbox):
    handlers.on_clue_received(decoded(clue_received(CLUE, sealed({"channel": "inbox"}))), now=T0)
    handlers.on_case_closed(decoded(case_closed(CLUE)), now=T0)
    now = T0 + timedelta(days=181)
    assert retention.erase_expired(180, now) == 0  # its notices have not gone out yet
    deliverer({"inbox": inbox}).run_once()
    assert retention.erase_expired(180, T0 + timedelta(days=179)) == 0
    assert retention.erase_expired(180, now) == 1 and store.contact(CLUE).contact_sealed is None
    assert store.contact(CLUE).anonymous is False  # kept for the statistics
