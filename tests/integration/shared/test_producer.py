"""The event producer (kafka-python) against the real local broker, and against no broker at all."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from deploy.localstack import free_port
from shared import events
from shared.kafka import DependencyDown, EventProducer, ensure_topics
from shared.settings import CommonSettings, Env
from tests.integration.shared.helpers import read_topic, unique

pytestmark = pytest.mark.stack


def test_records_sent_from_several_threads_are_all_acked_and_on_the_topic(settings):
    """Threads sharing one producer (as a service's relays do) each get their own records' acks,
    whichever thread's flush served the delivery reports, and every record lands once."""
    settings = dataclasses.replace(settings, topic_prefix=unique("p") + ".")
    ensure_topics(settings, (events.CLUE_FOLLOWED_UP,))
    producer = EventProducer(settings)
    errors: list[BaseException] = []

    def send(thread: int) -> None:
        try:
            for batch in range(5):
                producer.send_many([(events.CLUE_FOLLOWED_UP, f"{thread}-{batch}-{n}", b"{}")
                                    for n in range(10)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    producer.close()
    assert errors == []
    records = read_topic(settings.kafka_bootstrap_servers, settings.topic_prefix + events.CLUE_FOLLOWED_UP,
                         expect=200)
    assert sorted(r.key.decode() for r in records) == sorted(
        f"{t}-{b}-{n}" for t in range(4) for b in range(5) for n in range(10))


def test_no_broker_gives_dependency_down_and_no_client_is_kept():
    settings = CommonSettings.from_env(Env({"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
                                            "MONGODB_URI": "mongodb://127.0.0.1:1/unused"}))
    producer = EventProducer(settings)
    with pytest.raises(DependencyDown, match="Kafka unreachable"):
        producer.send_many([(events.CLUE_FOLLOWED_UP, "k", b"{}")], timeout=2)
    # No client was kept: the next send starts a new one.
    assert producer._producer is None
    producer.close()


def test_event_records_say_they_are_structured_cloudevents_and_dead_letters_do_not(settings):
    settings = dataclasses.replace(settings, topic_prefix=unique("ct") + ".")
    ensure_topics(settings, (events.CLUE_FOLLOWED_UP,))
    producer = EventProducer(settings)
    try:
        producer.send(events.CLUE_FOLLOWED_UP, "k1", b"{}")
        producer.send(events.dlq_topic(events.CLUE_FOLLOWED_UP), "k2", b"not json",
                      headers=[("error", b"not JSON")])
    finally:
        producer.close()
    [record] = read_topic(settings.kafka_bootstrap_servers, settings.topic_prefix + events.CLUE_FOLLOWED_UP,
                          expect=1)
    assert dict(record.headers)["content-type"] == b"application/cloudevents+json; charset=UTF-8"
    [dead] = read_topic(settings.kafka_bootstrap_servers,
                        settings.topic_prefix + events.dlq_topic(events.CLUE_FOLLOWED_UP), expect=1)
    assert dict(dead.headers) == {"error": b"not JSON"}
