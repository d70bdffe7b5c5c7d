"""Prompt delivery: the consumer process delivers to the inbox what a batch queued without a
polling round, gives the other channels back to the deliverer, and beside a polling deliverer
each notification is still sent once."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from services.notify.consumer import build_consumer
from services.notify.delivery import Deliverer
from services.notify.documents import DeliveryAttempt, Notification
from services.notify.prompt import PromptDelivery
from shared.kafka import EventProducer
from shared.sealing import seal_for_notify
from tests.integration.shared.helpers import wait_for
from tests.unit.notify.events_factory import case_assigned, clue_received

from .conftest import PUBLIC, make_settings

pytestmark = pytest.mark.stack

EMAIL = "li@example.org"


class Consumer:
    """notify's consumer process as processes.consumer wires it: the loop wakes prompt delivery;
    with `deliverer_poll_s`, a polling deliverer runs beside it (the deliverer process)."""

    def __init__(self, settings, deliverer_poll_s: float | None = None) -> None:
        self.stop = threading.Event()
        self.producer = EventProducer(settings.common)
        self.prompt = PromptDelivery(settings)
        self.woken = 0
        loop = build_consumer(settings.common, self.producer, on_handled=self._wake)
        self.threads = [self.prompt.start(self.stop), self._run(loop.run)]
        if deliverer_poll_s is not None:
            polling = Deliverer(dataclasses.replace(settings, poll_interval_s=deliverer_poll_s))
            self.threads.append(self._run(polling.run))

    def _wake(self) -> None:
        self.woken += 1
        self.prompt.wake()

    def _run(self, target) -> threading.Thread:
        thread = threading.Thread(target=target, args=(self.stop,), daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.stop.set()
        self.prompt.stop()
        for thread in self.threads:
            thread.join(timeout=30)
        self.producer.close()


@pytest.fixture
def consumer(common, mongo_db):
    started: list[Consumer] = []

    def start(deliverer_poll_s: float | None = None, **overrides) -> Consumer:
        # The polling round is an hour away: only prompt delivery can send in this test's time.
        settings = make_settings(common, mongo_db, poll_interval_s=3600.0, **overrides)
        started.append(Consumer(settings, deliverer_poll_s))
        return started[-1]

    yield start
    for running in started:
        running.close()


def sent(clue_id: str) -> dict[str, str]:
    return {n.kind: n.status for n in Notification.objects(clue_id=clue_id)}


def test_the_consumer_delivers_to_the_inbox_and_gives_email_back(consumer, smtp_recorder):
    port, handler = smtp_recorder
    running = consumer(smtp_port=port)
    anonymous, named = "01HPROMPT00000000000000001", "01HPROMPT00000000000000002"
    inbox = "01HPROMPT00000000000000003"
    running.producer.publish(clue_received(anonymous, None))
    to_email = seal_for_notify({"channel": "email", "email": EMAIL}, PUBLIC)
    to_inbox = seal_for_notify({"name": "王某", "channel": "inbox"}, PUBLIC)
    running.producer.publish(clue_received(named, to_email))
    running.producer.publish(clue_received(inbox, to_inbox))
    running.producer.publish(case_assigned(anonymous))
    wait_for(lambda: sent(anonymous) == {"received": "sent", "accepted": "sent"}, timeout=20,
             message="anonymous inbox notifications sent by the consumer process")
    wait_for(lambda: sent(inbox) == {"received": "sent"}, timeout=20,
             message="a named reporter's inbox notification sent by the consumer process")
    # E-mail is the deliverer process's (the only one with a route out): given back, due now.
    wait_for(lambda: Notification.objects(clue_id=named, channel="email").first(), timeout=20,
             message="the e-mail notification given back in its lane")
    note = Notification.objects.get(clue_id=named)
    assert (note.status, note.lease_owner, note.attempts) == ("pending", "", 0)
    assert handler.messages == [] and DeliveryAttempt.objects(clue_id=named).count() == 0
    assert running.woken >= 1


def test_beside_a_polling_deliverer_each_notification_is_sent_once(consumer, smtp_recorder):
    port, handler = smtp_recorder
    running = consumer(deliverer_poll_s=0.01, smtp_port=port)
    clues = [f"01HPROMPTTWICE{n:012d}" for n in range(12)]
    emailed = clues[::2]
    contact = seal_for_notify({"channel": "email", "email": EMAIL}, PUBLIC)
    for clue_id in clues:
        received = clue_received(clue_id, contact if clue_id in emailed else None)
        running.producer.publish(received)
        running.producer.publish(received)  # a duplicate: still one notification, one email
    wait_for(lambda: Notification.objects(clue_id__in=clues, status="sent").count() == len(clues),
             timeout=30, message="every notification sent")
    wait_for(lambda: len(handler.messages) >= len(emailed), timeout=10, message="the emails")
    assert len(handler.messages) == len(emailed)
    assert DeliveryAttempt.objects(clue_id__in=clues).count() == len(clues)
