"""Kill the local broker and start a fresh one: producer and consumer carry on."""


from __future__ import annotations

import threading
import time

import pytest

from shared import events
from shared.consumer import ConsumerLoop
from shared.kafka import DependencyDown, EventProducer, ensure_topics
from tests.integration.shared.helpers import read_topic, unique, wait_for


@pytest.fixture
def own_stack(tmp_path):
    """A broker of this test's own: restarting the session's broker would upset other tests."""
    from deploy.localstack import LocalStack
    from shared.settings import CommonSettings, Env

    local = LocalStack(tmp_path, memory_db=True).start()
    yield local, CommonSettings.from_env(Env(local.env()))
    local.stop()


def test_producer_and_consumer_carry_on_after_a_broker_restart(own_stack):
    local, settings = own_stack
    ensure_topics(settings)
    producer = EventProducer(settings)
    got: list[str] = []
    loop = ConsumerLoop(settings, "restart-group", {
        events.CLUE_FOLLOWED_UP: lambda e: got.append(e.subject)}, producer)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()

    def send(clue_id: str) -> None:
        env = events.make_event(events.CLUE_FOLLOWED_UP, {
            "clue_id": clue_id, "message": "m", "objection": False, "at": events.now()}, source="/t")
        producer.publish(env)

    try:
        send("before")
        wait_for(lambda: "before" in got, timeout=30, message="first record")
        local.restart_broker()
        ensure_topics(settings)

        def send_after() -> bool:
            try:
                send(unique("after"))
                return True
            except DependencyDown:
                return False

        wait_for(send_after, timeout=30, interval=0.5, message="producer recovery")
        # Records are sent on, as the outbox relay and the reconciler would: the consumer may
        # miss some sent while it rejoins the group of the empty broker, never all of them.
        wait_for(lambda: send_after() and any(c.startswith("after") for c in got), timeout=90,
                 interval=0.5, message="consumer recovery")
    finally:
        stop.set()
        thread.join(30)
        producer.close()
    assert not thread.is_alive()


def test_a_send_the_fresh_broker_acked_is_on_the_topic(own_stack):
    """A producer from before the restart must not have its records acked and dropped.

    A fresh Tansu hands out producer ids from the start again: with idempotence on, a producer
    from before the restart can share its id with a new one, and its records are then acked as
    duplicates without being written. The local stack runs with idempotence off for this.
    """
    local, settings = own_stack
    ensure_topics(settings)
    old = EventProducer(settings)
    for n in range(3):
        old.send(events.CLUE_FOLLOWED_UP, f"before-{n}", b"{}")
    local.restart_broker()
    ensure_topics(settings)
    new = EventProducer(settings)
    for n in range(20):
        wait_for(lambda n=n: _sent(new, f"new-{n}"), timeout=30, interval=0.5, message="new producer")
    acked = [key for key in (f"old-{n}" for n in range(5)) if _sent_eventually(old, key)]
    records = read_topic(local.kafka_bootstrap, settings.topic_prefix + events.CLUE_FOLLOWED_UP,
                         expect=20 + len(acked))
    on_topic = {r.key.decode() for r in records}
    assert acked and set(acked) <= on_topic
    old.close()
    new.close()


def _sent(producer: EventProducer, key: str) -> bool:
    try:
        producer.send(events.CLUE_FOLLOWED_UP, key, b"{}")
        return True
    except DependencyDown:
        return False


def _sent_eventually(producer: EventProducer, key: str) -> bool:
    """Send as the outbox relay does: again after a DependencyDown, until acked (or 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _sent(producer, key):
            return True
        time.sleep(0.5)
    return False
