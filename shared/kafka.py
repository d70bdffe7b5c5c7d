"""Kafka clients, all kafka-python: topic creation and an event producer that survives a broker
that forgot it.

The record key is always the clue id, so every event of one clue stays in order on one partition;
kafka-python's default partitioner (murmur2 of the key bytes, as Apache Kafka's Java clients)
places it, on every path that publishes (tests/integration/shared/test_partitioner.py).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import (
    InvalidProducerEpochError,
    InvalidProducerIdMappingError,
    KafkaError,
    OutOfOrderSequenceNumberError,
    ProducerFencedError,
    TopicAlreadyExistsError,
    UnknownProducerIdError,
)

from shared import events
from shared.dependencies import DependencyDown  # noqa: F401 - re-exported: callers import it from here
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """What the outbox relay and the consumer loop need of a producer (the fake broker has it too)."""

    def send(self, topic: str, key: str, value: bytes,
             headers: list[tuple[str, bytes]] | None = None) -> None: ...


def ensure_topics(settings: CommonSettings, topics: tuple[str, ...] = events.TOPICS,
                  partitions: int | None = None) -> None:
    """Create each topic and its dead-letter topic with the configured partition count.

    Safe to call again: existing topics are left as they are. Call it at start-up and after the
    broker comes back empty (a fresh local broker would otherwise auto-create 4 partitions).
    """
    prefix = settings.topic_prefix
    wanted = [prefix + t for topic in topics for t in (topic, events.dlq_topic(topic))]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers,
                             request_timeout_ms=10_000, client_id="campaign-admin")
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return
        new = [NewTopic(t, partitions or settings.kafka_partitions, settings.kafka_replication_factor)
               for t in missing]
        try:
            admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass
        log.info("created topics", extra={"topics": missing})
    finally:
        admin.close()


# The producer's state is gone or out of step with the broker's (a broker that lost it, as a
# restarted local stand-in always does): a new producer (a new producer id) sends again.
FATAL_PRODUCER_ERRORS = (UnknownProducerIdError, OutOfOrderSequenceNumberError,
                         InvalidProducerEpochError, InvalidProducerIdMappingError, ProducerFencedError)


def producer_config(settings: CommonSettings, **overrides: Any) -> dict[str, Any]:
    """The event producer's kafka-python settings (`overrides` in kafka-python's names).

    The CPU a record costs is mostly per request: records sent together share one batch, one
    checksum (crc32c, in C with the `crc32c` package) and one round trip. A short linger lets the
    records of concurrent senders meet in one batch.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable_idempotence": settings.kafka_enable_idempotence,
        "linger_ms": 2,
        "batch_size": 64 * 1024,
        "request_timeout_ms": 8_000,
        # Retriable errors (a leader that moved, a new topic's leader not yet known) are retried
        # until the broker acks or this runs out; then the record fails (the default would try
        # for 2 minutes) and the caller's outbox keeps it.
        "delivery_timeout_ms": 10_000,
        "max_block_ms": 10_000,
        # No broker: the first send's client gives up after this (the default waits 30 s).
        "bootstrap_timeout_ms": 5_000,
        # Topics are created with their partition count (ensure_topics), never by a send.
        "allow_auto_create_topics": False,
        "client_id": "campaign",
    }
    if not settings.kafka_enable_idempotence:
        # Retries must not reorder one clue's events: one request in flight per connection.
        config["max_in_flight_requests_per_connection"] = 1
    config.update(overrides)
    return config


def record_headers(topic: str, headers: list[tuple[str, bytes]] | None) -> list[tuple[str, bytes]] | None:
    """The headers a record goes out with: an event topic's records are structured-mode
    CloudEvents, so they say so (`content-type`), unless the caller set that header itself.
    Dead-letter records keep whatever bytes failed: they get no content type."""
    if topic.endswith(".dlq"):
        return headers
    if headers and any(name.lower() == "content-type" for name, _ in headers):
        return headers
    return [events.CONTENT_TYPE_HEADER, *(headers or [])]


class EventProducer:
    """Publishes records with acks=all and waits for the broker's acks.

    One kafka-python producer per instance, shared by the caller's threads (it is thread-safe). A
    send whose producer state the broker lost (`FATAL_PRODUCER_ERRORS`) recreates the client and
    tries once more. Any other failure, or no ack within the timeout, raises `DependencyDown`
    after dropping the client and what it still holds: the caller keeps its outbox entry and
    retries. Topic names are logical (`clue-received`); the settings' prefix is added here.
    """

    def __init__(self, settings: CommonSettings, client_id: str | None = None, **overrides: Any) -> None:
        self.prefix = settings.topic_prefix
        if client_id:
            overrides["client_id"] = client_id
        self._config = producer_config(settings, **overrides)
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None

    def _client(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(**self._config)
                except KafkaError as exc:
                    raise DependencyDown(f"Kafka unreachable: {type(exc).__name__}") from None
            return self._producer

    def _drop(self, producer: KafkaProducer) -> None:
        """Forget `producer` (unless another thread did already) and close it without waiting:
        what it still holds fails, and its senders retry from their outboxes."""
        with self._lock:
            if self._producer is not producer:
                return
            self._producer = None
        try:
            producer.close(timeout=0)
        except Exception:  # noqa: BLE001 - closing a broken client
            pass

    def send_many(self, records: list[tuple[str, str, bytes]], timeout: float = 10.0,
                  headers: list[tuple[str, bytes]] | None = None) -> None:
        """Send (topic, key, value) records and return once the broker acked all of them."""
        for attempt in (1, 2):
            client = self._client()
            deadline = time.monotonic() + timeout
            # Each topic's name and headers are built once per call, not once per record.
            per_topic = {topic: (self.prefix + topic, record_headers(topic, headers))
                         for topic in {topic for topic, _, _ in records}}
            try:
                futures = [client.send(per_topic[topic][0], key=key.encode(), value=value,
                                       headers=per_topic[topic][1])
                           for topic, key, value in records]
                for future in futures:
                    future.get(timeout=max(0.0, deadline - time.monotonic()))
                return
            except FATAL_PRODUCER_ERRORS as exc:
                self._drop(client)
                if attempt == 2:
                    raise DependencyDown(f"Kafka send failed: {type(exc).__name__}") from None
                log.warning("producer state lost; recreating the producer",
                            extra={"error": type(exc).__name__})
            except (KafkaError, AssertionError, ValueError) as exc:
                # AssertionError/ValueError: a send racing another thread's drop of the client.
                self._drop(client)
                raise DependencyDown(f"Kafka send failed: {type(exc).__name__}") from None

    def send(self, topic: str, key: str, value: bytes,
             headers: list[tuple[str, bytes]] | None = None) -> None:
        self.send_many([(topic, key, value)], headers=headers)

    def publish(self, envelope: dict[str, Any]) -> None:
        """Publish one event envelope on its topic, keyed by its clue id."""
        topic = events.TOPIC_OF_TYPE[envelope["type"]]
        self.send(topic, envelope["subject"], events.encode(envelope))

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=1)
            except Exception:  # noqa: BLE001 - closing at shutdown
                pass
