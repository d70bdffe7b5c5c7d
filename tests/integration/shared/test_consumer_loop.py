"""The consumer loop against the real local broker: retry, dead-letter, commit after handlers."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from kafka import KafkaConsumer, TopicPartition

from shared import events
from shared.consumer import ConsumerLoop, PoisonRecord, TooManyFailures
from shared.kafka import EventProducer, ensure_topics
from tests.integration.shared.helpers import raw_producer, read_topic, unique, wait_for

pytestmark = pytest.mark.stack


def followed_up(clue_id: str, message: str = "more") -> dict:
    return events.make_event(events.CLUE_FOLLOWED_UP, {
        "clue_id": clue_id, "message": message, "objection": False, "at": events.now()},
        source="/tests")


def committed_total(settings, group: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                             enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in parts)
    finally:
        consumer.close()


def run_until(loop: ConsumerLoop, done, timeout: float = 40.0):
    stop = threading.Event()
    errors: list[BaseException] = []

    def target():
        try:
            loop.run(stop)
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    try:
        wait_for(lambda: done() or errors, timeout=timeout, message="consumer progress")
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    return errors


def test_handles_retries_dead_letters_and_commits_after_handlers(settings):
    topic = unique("t-loop")
    ensure_topics(settings, (topic,), partitions=2)
    producer = EventProducer(settings)
    good = [followed_up(f"clue-{i}") for i in range(10)]
    for env in good[:5]:
        producer.send(topic, env["subject"], events.encode(env))
    producer.send(topic, "bad-json", b"{not json")
    producer.send(topic, "bad-schema", b'{"specversion": "1.0"}')
    flaky = followed_up("clue-flaky")
    poison = followed_up("clue-poison")
    broken = followed_up("clue-broken")
    for env in (flaky, poison, broken, *good[5:]):
        producer.send(topic, env["subject"], events.encode(env))

    handled: list[str] = []
    calls: dict[str, int] = {}

    def handler(event: events.Event) -> None:
        calls[event.subject] = calls.get(event.subject, 0) + 1
        if event.subject == "clue-flaky" and calls[event.subject] < 3:
            raise RuntimeError("transient")
        if event.subject == "clue-poison":
            raise PoisonRecord("cannot ever handle this")
        if event.subject == "clue-broken":
            raise KeyError("bug")
        handled.append(event.subject)

    group = unique("g")
    loop = ConsumerLoop(settings, group, {topic: handler}, producer)
    errors = run_until(loop, lambda: committed_total(settings, group, topic) >= 15)
    assert not errors
    assert sorted(handled) == sorted([e["subject"] for e in good] + ["clue-flaky"])
    assert calls["clue-flaky"] == 3
    assert calls["clue-poison"] == 1
    assert calls["clue-broken"] == settings.consumer_max_retries + 1

    dead = read_topic(settings.kafka_bootstrap_servers, events.dlq_topic(topic), expect=4)
    assert len(dead) == 4
    by_key = {r.key.decode(): r for r in dead}
    assert by_key["bad-json"].value == b"{not json"
    headers = dict(by_key["clue-poison"].headers)
    assert headers["error"].startswith(b"poison: cannot ever handle this")
    assert headers["original_topic"] == topic.encode()
    assert b"KeyError" in dict(by_key["clue-broken"].headers)["error"]
    producer.close()


def test_offsets_are_committed_only_after_the_handler(settings):
    topic = unique("t-commit")
    ensure_topics(settings, (topic,), partitions=1)
    producer = EventProducer(settings)
    for i in range(3):
        env = followed_up(f"c{i}")
        producer.send(topic, env["subject"], events.encode(env))
    group = unique("g")
    seen: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    def slow(event):
        seen.append(event.subject)
        entered.set()
        release.wait(20)

    loop = ConsumerLoop(settings, group, {topic: slow}, producer)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    assert entered.wait(30)
    # The handler of the first record is still running: nothing is committed yet.
    assert committed_total(settings, group, topic) == 0
    stop.set()
    release.set()
    thread.join(20)
    # Stopping finished the record in hand and committed it, and no more.
    assert seen == ["c0"]
    assert committed_total(settings, group, topic) == 1

    rest: list[str] = []
    loop2 = ConsumerLoop(settings, group, {topic: lambda e: rest.append(e.subject)}, producer)
    run_until(loop2, lambda: len(rest) == 2)
    assert rest == ["c1", "c2"]
    producer.close()


def test_too_many_failures_in_a_row_stop_the_consumer(settings):
    topic = unique("t-stop")
    ensure_topics(settings, (topic,), partitions=1)
    prod = raw_producer(settings.kafka_bootstrap_servers)
    for _ in range(10):
        prod.send(topic, key=b"k", value=b"garbage")
    prod.flush()
    prod.close()
    strict = dataclasses.replace(settings, consumer_max_consecutive_failures=3)
    producer = EventProducer(settings)
    group = unique("g")
    loop = ConsumerLoop(strict, group, {topic: lambda e: None}, producer)
    with pytest.raises(TooManyFailures, match="3 records in a row"):
        loop.run(threading.Event())
    dead = read_topic(settings.kafka_bootstrap_servers, events.dlq_topic(topic), expect=3)
    assert len(dead) == 3
    # It stopped cleanly: the dead-lettered records are committed, so a restart goes on from the
    # next one instead of dead-lettering the same three again and again (a crash loop).
    assert committed_total(settings, group, topic) == 3
    again = ConsumerLoop(strict, group, {topic: lambda e: None}, producer)
    with pytest.raises(TooManyFailures):
        again.run(threading.Event())
    assert committed_total(settings, group, topic) == 6
    dead = read_topic(settings.kafka_bootstrap_servers, events.dlq_topic(topic), expect=6)
    offsets = [dict(r.headers)["original_offset"] for r in dead]
    assert sorted(offsets, key=int) == [str(n).encode() for n in range(6)]
    producer.close()


def test_topic_prefix_isolates_topics_and_their_dead_letters(settings):
    prefix = unique("p") + "."
    prefixed = dataclasses.replace(settings, topic_prefix=prefix)
    ensure_topics(prefixed, (events.CLUE_FOLLOWED_UP,), partitions=1)
    producer = EventProducer(prefixed)
    env = followed_up("clue-prefixed")
    producer.publish(env)
    producer.send(events.CLUE_FOLLOWED_UP, "bad", b"garbage")
    got: list[str] = []
    loop = ConsumerLoop(prefixed, unique("g"), {events.CLUE_FOLLOWED_UP: lambda e: got.append(e.subject)},
                        producer)
    bootstrap = settings.kafka_bootstrap_servers
    run_until(loop, lambda: got and read_topic(bootstrap, f"{prefix}clue-followed-up.dlq", expect=1,
                                               timeout=1))
    assert got == ["clue-prefixed"]
    dead = read_topic(bootstrap, f"{prefix}clue-followed-up.dlq", expect=1)
    assert dict(dead[0].headers)["original_topic"] == b"clue-followed-up"
    producer.close()
