"""OutboxRelay for documents settled elsewhere (`clears=False`, intake's clues): nothing pending
in the database marks them, so a batch the broker refused is held in memory and tried again."""

import threading
import time
from types import SimpleNamespace

from shared.fakes import FakeBroker
from shared.outbox import OutboxRelay


def woken(clue_id: str) -> dict:
    return {"_id": clue_id, "outbox": [{"topic": "clue-received", "key": clue_id, "value": "{}"}]}


def flaky(failures: int) -> FakeBroker:
    """A broker that refuses the first `failures` sends, as one that is away, then takes all."""
    broker = FakeBroker()
    broker.fail_next = failures
    return broker


def test_a_refused_batch_is_published_once_the_broker_answers():
    publisher = flaky(2)
    relay = OutboxRelay(SimpleNamespace(name="clues"), publisher, linger_s=0.05, clears=False)
    for n in range(3):
        relay.wake(woken(f"c{n}"))
    stop = threading.Event()
    thread = relay.start_thread(stop, poll_interval_s=0.05)
    try:
        deadline = time.monotonic() + 10
        while len(publisher.records("clue-received")) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        relay.stop()
        thread.join(5)
    assert publisher.fail_next == 0
    assert sorted(r.key for r in publisher.records("clue-received")) == ["c0", "c1", "c2"]  # each once


def test_the_hold_is_bounded_and_a_relay_that_clears_holds_nothing():
    held = OutboxRelay(SimpleNamespace(name="clues"), flaky(0), clears=False, hold_max=2)
    held._hold([woken(f"c{n}") for n in range(5)])
    assert held._woken.qsize() == 2  # the rest waits for the reconciler
    clears = OutboxRelay(SimpleNamespace(name="notes"), flaky(1), linger_s=0)
    clears.wake(woken("n0"))
    stop = threading.Event()
    clears.publish_pending = lambda: 0  # no database here: the polling round finds nothing
    thread = clears.start_thread(stop, poll_interval_s=0.05)
    time.sleep(0.3)
    stop.set()
    clears.stop()
    thread.join(5)
    assert clears.publisher.records("clue-received") == []  # it stays pending in the database instead


def test_the_in_memory_queue_is_bounded_while_the_relay_cannot_keep_up():
    """An import during a broker outage wakes far more documents than the relay can publish:
    past `hold_max` the wakes are dropped (the backstop publishes them), memory stays bounded."""
    relay = OutboxRelay(SimpleNamespace(name="clues"), FakeBroker(), clears=False, hold_max=50)
    for n in range(5_000):
        relay.wake(woken(f"c{n}"))
    assert relay._woken.qsize() == 50
    relay.stop()  # a stop still gets through
    assert relay._woken.qsize() == 51
