"""Kafka clients: topic creation (kafka-python's admin client) and an event producer (librdkafka)
that survives a broker that forgot it.

The record key is always the clue id, so every event of one clue stays in order on one partition.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka import KafkaException, Producer
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

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


def producer_config(settings: CommonSettings, **overrides: Any) -> dict[str, Any]:
    """The event producer's librdkafka settings (`overrides` in librdkafka's dotted names)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable.idempotence": settings.kafka_enable_idempotence,
        "linger.ms": 2,
        "retries": 5,
        "request.timeout.ms": 10_000,
        # A record the broker has not acked by then fails (librdkafka would try for 5 minutes).
        "message.timeout.ms": 10_000,
        "client.id": "campaign",
        # librdkafka's own lines go through this module's logger (served while it flushes), at
        # errors only: it reports every closed idle connection otherwise.
        "logger": log,
        "log_level": 3,
    }
    if not settings.kafka_enable_idempotence:
        # Retries must not reorder one clue's events: one request in flight per connection.
        config["max.in.flight.requests.per.connection"] = 1
    config.update(overrides)
    return config


class _Acks:
    """The delivery reports of one `send_many`, whichever thread serves them."""

    def __init__(self, expected: int) -> None:
        self._left = expected
        self._lock = threading.Lock()
        self.errors: list[ConfluentError] = []
        self.done = threading.Event()
        if expected == 0:
            self.done.set()

    def __call__(self, error: ConfluentError | None, _message: Any) -> None:
        with self._lock:
            if error is not None:
                self.errors.append(error)
            self._left -= 1
            if self._left == 0:
                self.done.set()


class EventProducer:
    """Publishes records with acks=all and waits for the broker's acks.

    It runs on librdkafka (confluent-kafka): batching, checksums and the network are C work in
    threads of its own, off the GIL the service's request threads need. A fatal producer error
    recreates the client and tries once more. Any other failure, or no ack within the timeout,
    raises `DependencyDown` after dropping what the client still holds: the caller keeps its outbox
    entry and retries. Topic names are logical (`clue-received`); the settings' prefix is added here.
    """

    def __init__(self, settings: CommonSettings, client_id: str | None = None, **overrides: Any) -> None:
        self.prefix = settings.topic_prefix
        if client_id:
            overrides["client.id"] = client_id
        self._config = producer_config(settings, **overrides)
        self._lock = threading.Lock()
        self._producer: Producer | None = None

    def _client(self) -> Producer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = Producer(self._config)
                except KafkaException as exc:
                    raise DependencyDown(f"Kafka client failed: {exc}") from None
            return self._producer

    def _drop(self, producer: Producer) -> None:
        """Forget `producer` (unless another thread did already) and purge what it still holds."""
        with self._lock:
            if self._producer is producer:
                self._producer = None
        producer.purge()
        producer.flush(0)

    def send_many(self, records: list[tuple[str, str, bytes]], timeout: float = 10.0,
                  headers: list[tuple[str, bytes]] | None = None) -> None:
        """Send (topic, key, value) records and return once the broker acked all of them."""
        for attempt in (1, 2):
            client = self._client()
            acks = _Acks(len(records))
            deadline = time.monotonic() + timeout
            try:
                for topic, key, value in records:
                    client.produce(self.prefix + topic, value=value, key=key.encode(), headers=headers,
                                   on_delivery=acks)
            except (BufferError, KafkaException) as exc:
                self._drop(client)
                raise DependencyDown(f"Kafka send failed: {exc}") from None
            client.flush(timeout)
            # Another thread's flush may be serving these reports: wait for all of them.
            if not acks.done.wait(max(0.0, deadline - time.monotonic())):
                self._drop(client)
                raise DependencyDown("Kafka did not ack in time")
            if not acks.errors:
                return
            self._drop(client)
            error = acks.errors[0]
            if not error.fatal() or attempt == 2:
                raise DependencyDown(f"Kafka send failed: {error.name()}")
            log.warning("fatal producer error; recreating the producer", extra={"error": error.name()})

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
            producer.flush(1)
