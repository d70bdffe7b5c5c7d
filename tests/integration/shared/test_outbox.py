"""The outbox relay against the real local database and broker."""

from __future__ import annotations

import threading
import time

import mongoengine as me
import pytest

from shared import events
from shared.consumer import ConsumerLoop
from shared.kafka import EventProducer, ensure_topics
from shared.mongo import ProcessedEvents, new_id
from shared.outbox import LEASE_S, OutboxDocument, OutboxRelay, staged_update
from tests.integration.shared.helpers import read_topic, wait_for

pytestmark = pytest.mark.stack


class Note(OutboxDocument):
    id = me.StringField(primary_key=True)
    text = me.StringField()
    meta = {"collection": "notes"}


def followed_up(clue_id: str) -> dict:
    return events.make_event(events.CLUE_FOLLOWED_UP, {
        "clue_id": clue_id, "message": "m", "objection": False, "at": events.now()}, source="/t")


class CrashAfterPublish(Exception):
    pass


def after_leases(rounds: int = 1) -> float:
    """A time when the leases taken until now have run out (for a polling round)."""
    return time.time() + rounds * (LEASE_S + 1)


def test_crash_between_publish_and_mark_republishes_and_consumer_deduplicates(settings, mongo_db):
    ensure_topics(settings)
    producer = EventProducer(settings)
    clue_id = new_id()
    note = Note(id=clue_id, text="t")
    note.stage(followed_up(clue_id))
    note.save(force_insert=True)
    stored = Note._get_collection().find_one({"_id": clue_id})
    assert stored["outbox_pending"] in (True, 1) and len(stored["outbox"]) == 1

    relay = OutboxRelay(Note._get_collection(), producer)
    # Crash after the broker acked, before the outbox was cleared.
    original = relay.collection.update_one
    relay.collection = type("Crashing", (), {
        "update_one": lambda *a, **k: (_ for _ in ()).throw(CrashAfterPublish()),
        "find": relay.collection.find, "find_one": relay.collection.find_one,
        "find_one_and_update": relay.collection.find_one_and_update,
        "name": relay.collection.name})()
    # The writer's relay never ran: once the lease runs out, a polling round takes it.
    assert relay.publish_pending() == 0
    with pytest.raises(CrashAfterPublish):
        relay.publish_pending(at=after_leases())
    assert Note._get_collection().find_one({"_id": clue_id})["outbox_pending"] in (True, 1)
    # A fresh relay (the restarted process) publishes it again, once the crashed one's claim ran
    # out, and clears it.
    relay = OutboxRelay(Note._get_collection(), producer)
    assert relay.publish_pending(at=after_leases()) == 0
    assert relay.publish_pending(at=after_leases(2)) == 1
    assert Note._get_collection().find_one({"_id": clue_id})["outbox_pending"] in (False, 0)
    assert relay.publish_pending(at=after_leases(3)) == 0
    assert original is not None

    records = [r for r in read_topic(settings.kafka_bootstrap_servers, events.CLUE_FOLLOWED_UP,
                                     expect=2) if r.key.decode() == clue_id]
    assert len(records) == 2
    assert records[0].value == records[1].value

    # The consumer side handles the event once.
    handled: list[str] = []
    seen = ProcessedEvents("test-consumer")
    loop = ConsumerLoop(settings, f"g-{clue_id}", {
        events.CLUE_FOLLOWED_UP: lambda e: handled.append(e.subject) if e.subject == clue_id else None},
        producer, is_processed=seen.seen, mark_processed=seen.mark)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: handled, timeout=30, message="event handled")
        wait_for(lambda: seen.seen(records[0].value and events.decode(records[0].value).id), 10)
    finally:
        stop.set()
        thread.join(20)
    assert handled == [clue_id]
    producer.close()


def test_an_event_added_while_publishing_is_not_lost(settings, mongo_db):
    ensure_topics(settings)
    producer = EventProducer(settings)
    clue_id = new_id()
    note = Note(id=clue_id)
    note.stage(followed_up(clue_id))
    note.save(force_insert=True)
    doc = Note._get_collection().find_one({"_id": clue_id})
    # Another writer appends an event after the relay read the document.
    notes = Note._get_collection()
    fresh = notes.find_one({"_id": clue_id})
    assert notes.update_one({"_id": clue_id, "outbox_version": fresh["outbox_version"]},
                            staged_update(fresh, followed_up(clue_id))).modified_count == 1
    relay = OutboxRelay(Note._get_collection(), producer)
    relay.publish_docs([doc])
    after = Note._get_collection().find_one({"_id": clue_id})
    assert after["outbox_pending"] in (True, 1) and len(after["outbox"]) == 2
    assert relay.publish_pending(at=after_leases()) == 2
    assert Note._get_collection().find_one({"_id": clue_id})["outbox"] == []
    producer.close()


def test_relay_thread_publishes_woken_documents_at_once(settings, mongo_db):
    ensure_topics(settings)
    producer = EventProducer(settings)
    relay = OutboxRelay(Note._get_collection(), producer)
    stop = threading.Event()
    thread = relay.start_thread(stop, poll_interval_s=60)  # the poller would not run in time
    try:
        clue_id = new_id()
        note = Note(id=clue_id)
        note.stage(followed_up(clue_id))
        note.save(force_insert=True)
        relay.wake(Note._get_collection().find_one({"_id": clue_id}))
        wait_for(lambda: not Note._get_collection().find_one({"_id": clue_id})["outbox_pending"],
                 timeout=10, message="woken publish")
    finally:
        stop.set()
        relay.stop()
        thread.join(10)
    producer.close()


def test_a_woken_batch_goes_out_in_one_send_and_clears_only_unchanged_documents(settings, mongo_db):
    ensure_topics(settings)
    producer = EventProducer(settings)
    sends: list[int] = []
    original_send_many = producer.send_many
    producer.send_many = lambda records: (sends.append(len(records)), original_send_many(records))[1]
    ids = [new_id() for _ in range(5)]
    for clue_id in ids:
        note = Note(id=clue_id)
        note.stage(followed_up(clue_id))
        note.save(force_insert=True)
    woken = [Note._get_collection().find_one({"_id": i}) for i in ids]
    # A later write to the last two (version 1) after they were woken at version 0.
    notes = Note._get_collection()
    for clue_id in ids[3:]:
        stored = notes.find_one({"_id": clue_id})
        notes.update_one({"_id": clue_id}, staged_update(stored, followed_up(clue_id)))
    relay = OutboxRelay(Note._get_collection(), producer)
    for doc in woken:  # all woken before the thread starts: it takes them as one batch
        relay.wake(doc)
    stop = threading.Event()
    thread = relay.start_thread(stop, poll_interval_s=60)  # no polling round in the test's time

    def cleared() -> set[str]:
        pending = Note._get_collection().find({"outbox_pending": True}, {"_id": 1})
        return set(ids) - {d["_id"] for d in pending}

    try:
        wait_for(lambda: cleared() == set(ids[:3]), timeout=10, message="the unchanged three cleared")
    finally:
        stop.set()
        relay.stop()
        thread.join(10)
    assert sends == [5]
    # each changed note: its first event again and the new one
    assert relay.publish_pending(at=after_leases()) == 4
    assert cleared() == set(ids)
    producer.close()


def test_two_pollers_take_an_expired_entry_once_and_leave_a_leased_one(settings, mongo_db):
    """An entry leased to the relay its writer woke is left to it; one whose lease ran out is
    claimed by one polling round only, however many processes poll."""
    ensure_topics(settings)
    producer = EventProducer(settings)
    ids = [new_id() for _ in range(2)]
    for clue_id in ids:
        note = Note(id=clue_id)
        note.stage(followed_up(clue_id))
        note.save(force_insert=True)
    first, second = (OutboxRelay(Note._get_collection(), producer) for _ in range(2))
    assert first.publish_pending() == 0 and second.publish_pending() == 0
    # Both read the expired entries before either claims them.
    at = after_leases()
    docs = list(Note._get_collection().find({}, {"outbox": 1, "outbox_version": 1, "outbox_lease_until": 1}))
    claims = [relay._claim(doc, at) for doc in docs for relay in (first, second)]
    assert sum(c is not None for c in claims) == 2
    producer.close()


def test_a_woken_relay_and_a_busy_poller_publish_each_event_once(settings, mongo_db):
    """The happy path on the real broker: each write wakes its relay while another process's
    poller goes round every 10 ms over the same collection; every event id is on the topic once
    (without the writer's lease, about a third went out twice)."""
    import dataclasses
    import json
    from collections import Counter

    from tests.integration.shared.helpers import unique

    mine = dataclasses.replace(settings, topic_prefix=unique("once") + ".")
    ensure_topics(mine, (events.CLUE_FOLLOWED_UP,))
    producer = EventProducer(mine)
    woken, poller = (OutboxRelay(Note._get_collection(), producer) for _ in range(2))
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            poller.publish_pending()
            stop.wait(0.01)

    threads = [woken.start_thread(stop, poll_interval_s=60), threading.Thread(target=poll)]
    threads[1].start()
    try:
        for _ in range(100):
            clue_id = new_id()
            note = Note(id=clue_id)
            note.stage(followed_up(clue_id))
            note.save(force_insert=True)
            woken.wake(Note._get_collection().find_one({"_id": clue_id}))
        wait_for(lambda: Note._get_collection().find_one({"outbox_pending": True}) is None, timeout=60,
                 message="every outbox published")
    finally:
        stop.set()
        woken.stop()
        for thread in threads:
            thread.join(10)
        producer.close()
    records = read_topic(mine.kafka_bootstrap_servers, mine.topic_prefix + events.CLUE_FOLLOWED_UP,
                         expect=100, timeout=5)
    published = Counter(json.loads(r.value)["id"] for r in records)
    assert len(published) == 100 and set(published.values()) == {1}
