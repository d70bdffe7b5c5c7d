"""Kill the local broker and start a fresh one: producer and consumer carry on."""


from __future__ import annotations

import threading

import pytest

from shared import events
from shared.consumer import ConsumerLoop
from shared.kafka import DependencyDown, EventProducer, ensure_topics
from tests.integration.shared.helpers import unique, wait_for


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
    producer = EventProducer(settings)  # idempotent: the fresh broker will not know its id
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
