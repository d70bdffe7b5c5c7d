"""OutboxRelay for documents settled elsewhere (`clears=False`, intake's clues): nothing pending
in the database marks them, so a batch the broker refused is held in memory and tried again."""

import threading
import time
from types import SimpleNamespace

from shared.kafka import DependencyDown
from shared.outbox import OutboxRelay


class FlakyPublisher:
    """Refuses the first `failures` sends, as a broker that is away, then takes everything."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[tuple[str, str, bytes]] = []

    def send_many(self, records):
        if self.failures:
            self.failures -= 1
            raise DependencyDown("broker away")
        self.sent.extend(records)


def woken(clue_id: str) -> dict:
    return {"_id": clue_id, "outbox": [{"topic": "clue-received", "key": clue_id, "value": "{}"}]}


def test_a_refused_batch_is_published_once_the_broker_answers():
    publisher = FlakyPublisher(failures=2)
    relay = OutboxRelay(SimpleNamespace(name="clues"), publisher, linger_s=0.05, clears=False)
    for n in range(3):
        relay.wake(woken(f"c{n}"))
    stop = threading.Event()
    thread = relay.start_thread(stop, poll_interval_s=0.05)
    try:
        deadline = time.monotonic() + 10
        while len(publisher.sent) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        relay.stop()
        thread.join(5)
    assert publisher.failures == 0
    assert sorted(key for _topic, key, _value in publisher.sent) == ["c0", "c1", "c2"]  # each once


def test_the_hold_is_bounded_and_a_relay_that_clears_holds_nothing():
    held = OutboxRelay(SimpleNamespace(name="clues"), FlakyPublisher(0), clears=False, hold_max=2)
    held._hold([woken(f"c{n}") for n in range(5)])
    assert held._woken.qsize() == 2  # the rest waits for the reconciler
    clears = OutboxRelay(SimpleNamespace(name="notes"), FlakyPublisher(1), linger_s=0)
    clears.wake(woken("n0"))
    stop = threading.Event()
    clears.publish_pending = lambda: 0  # no database here: the polling round finds nothing
    thread = clears.start_thread(stop, poll_interval_s=0.05)
    time.sleep(0.3)
    stop.set()
    clears.stop()
    thread.join(5)
    assert clears.publisher.sent == []  # its document stays pending in the database instead
