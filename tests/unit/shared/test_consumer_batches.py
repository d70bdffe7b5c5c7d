"""The consumer loop's batch handlers: one call per topic and poll, the per-record path as the
fallback, and offsets committed only past what was handled (no broker: a fake consumer)."""

from __future__ import annotations

import threading

from kafka import TopicPartition
from pymongo.errors import AutoReconnect

from shared import events
from shared.consumer import ConsumerLoop
from shared.fakes import FakeBroker, Record

from .test_consumer_process import SETTINGS

RECEIVED, FOLLOWED = events.CLUE_RECEIVED, events.CLUE_FOLLOWED_UP


class FakeConsumer:
    def __init__(self) -> None:
        self.committed: dict[TopicPartition, int] = {}
        self.seeks: dict[TopicPartition, int] = {}

    def commit(self, offsets) -> None:
        self.committed.update({tp: meta.offset for tp, meta in offsets.items()})

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


def received(clue_id: str, partition: int, offset: int) -> Record:
    env = events.make_event(RECEIVED, {
        "clue_id": clue_id, "received_at": events.now(), "source": "observer", "category": "solicitation",
        "jurisdiction": "foshan", "subject": {"name": "许某", "rank": "staff"}, "reporter_ref": "r",
        "amount_cny": None, "collusion": False, "reporter_contact_sealed": None}, source="/t")
    return Record(RECEIVED, clue_id, events.encode(env), partition=partition, offset=offset)


def poll(*records: Record) -> dict[TopicPartition, list[Record]]:
    batch: dict[TopicPartition, list[Record]] = {}
    for r in records:
        batch.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
    return batch


def make_loop(one, many, broker=None) -> tuple[ConsumerLoop, FakeConsumer]:
    loop = ConsumerLoop(SETTINGS, "g", {RECEIVED: one}, broker or FakeBroker(), sleep=lambda s: None,
                        batch_handlers={RECEIVED: many})
    loop.consumer = FakeConsumer()
    return loop, loop.consumer


def test_one_call_for_the_poll_and_every_partition_committed():
    singles, batches = [], []
    loop, consumer = make_loop(lambda e: singles.append(e.subject),
                               lambda es: batches.append([e.subject for e in es]))
    loop.process_batch(poll(received("a", 0, 4), received("b", 0, 5), received("c", 1, 9)), threading.Event())
    assert batches == [["a", "b", "c"]] and singles == []
    assert consumer.committed == {TopicPartition(RECEIVED, 0): 6, TopicPartition(RECEIVED, 1): 10}


def test_a_failing_batch_is_handled_record_by_record():
    singles = []

    def many(_events):
        raise ValueError("a bug in the batch path")

    loop, consumer = make_loop(lambda e: singles.append(e.subject), many)
    loop.process_batch(poll(received("a", 0, 0), received("b", 0, 1)), threading.Event())
    assert singles == ["a", "b"] and consumer.committed == {TopicPartition(RECEIVED, 0): 2}


def test_a_record_that_does_not_decode_is_dead_lettered_and_the_rest_batched():
    broker = FakeBroker()
    batches = []
    loop, consumer = make_loop(lambda e: None, lambda es: batches.append([e.subject for e in es]), broker)
    bad = Record(RECEIVED, b"x", b"not json", offset=1)
    loop.process_batch(poll(received("a", 0, 0), bad, received("b", 0, 2)), threading.Event())
    assert batches == [["a", "b"]]
    assert len(broker.records(events.dlq_topic(RECEIVED))) == 1
    assert consumer.committed == {TopicPartition(RECEIVED, 0): 3}


def test_nothing_is_committed_past_a_record_that_must_wait():
    """The broker is away, so the bad record cannot be dead-lettered yet: the batch's records
    after it are not committed, and the loop seeks back to it."""
    broker = FakeBroker()
    broker.fail_next = 1
    loop, consumer = make_loop(lambda e: None, lambda es: None, broker)
    bad = Record(RECEIVED, b"x", b"not json", offset=1)
    loop.process_batch(poll(received("a", 0, 0), bad, received("b", 0, 2)), threading.Event())
    assert consumer.committed == {TopicPartition(RECEIVED, 0): 1}
    assert consumer.seeks == {TopicPartition(RECEIVED, 0): 1}


def test_a_database_away_in_the_batch_defers_through_the_per_record_path():
    def down(_events):
        raise AutoReconnect("database away")

    def also_down(_event):
        raise AutoReconnect("database away")

    loop, consumer = make_loop(also_down, down)
    loop.process_batch(poll(received("a", 0, 0), received("b", 0, 1)), threading.Event())
    assert consumer.committed == {} and consumer.seeks == {TopicPartition(RECEIVED, 0): 0}


def test_a_lone_record_and_other_topics_take_the_per_record_path():
    singles, batches = [], []
    loop, _ = make_loop(lambda e: singles.append(e.subject), lambda es: batches.append(es))
    loop.process_batch(poll(received("a", 0, 0)), threading.Event())
    assert singles == ["a"] and batches == []


def test_batch_handlers_need_a_per_record_handler_and_no_processed_marks():
    import pytest

    with pytest.raises(ValueError, match="per-record handler"):
        ConsumerLoop(SETTINGS, "g", {}, FakeBroker(), batch_handlers={RECEIVED: lambda es: None})
    with pytest.raises(ValueError, match="is_processed"):
        ConsumerLoop(SETTINGS, "g", {RECEIVED: lambda e: None}, FakeBroker(),
                     batch_handlers={RECEIVED: lambda es: None}, is_processed=lambda i: False)
