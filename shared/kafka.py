"""Kafka clients: topic creation and an event producer that survives a broker that forgot it.

The record key is always the clue id, so every event of one clue stays in order on one partition.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError, UnknownProducerIdError

from shared import events
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


class DependencyDown(RuntimeError):
    """The broker or the database cannot be reached: retry later, never dead-letter."""


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
    config = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable_idempotence": settings.kafka_enable_idempotence,
        "linger_ms": 2,
        "retries": 5,
        "request_timeout_ms": 10_000,
        "max_block_ms": 10_000,
        "client_id": "campaign",
    }
    if not settings.kafka_enable_idempotence:
        # Retries must not reorder one clue's events: one request in flight per connection.
        config["max_in_flight_requests_per_connection"] = 1
    config.update(overrides)
    return config


class EventProducer:
    """Publishes records with acks=all and waits for the broker's ack.

    On `UnknownProducerIdError` (the broker lost the idempotent producer's state, as a restarted
    local broker always does) the underlying client is recreated and the send tried once more.
    Any other failure raises `DependencyDown`: the caller keeps its outbox entry and retries.
    Topic names are logical (`clue-received`); the settings' topic prefix is added here.
    """

    def __init__(self, settings: CommonSettings, **overrides: Any) -> None:
        self.prefix = settings.topic_prefix
        self._config = producer_config(settings, **overrides)
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None

    def _client(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(**self._config)
                except KafkaError as exc:
                    raise DependencyDown(f"Kafka unreachable: {exc}") from None
            return self._producer

    def _reset(self) -> None:
        with self._lock:
            if self._producer is not None:
                try:
                    self._producer.close(timeout=1)
                except Exception:  # noqa: BLE001 - closing a broken client
                    pass
                self._producer = None

    def send_many(self, records: list[tuple[str, str, bytes]], timeout: float = 10.0,
                  headers: list[tuple[str, bytes]] | None = None) -> None:
        """Send (topic, key, value) records and return once the broker acked all of them."""
        for attempt in (1, 2):
            try:
                client = self._client()
                futures = [client.send(self.prefix + topic, key=key.encode(), value=value,
                                       headers=headers)
                           for topic, key, value in records]
                client.flush(timeout=timeout)
                for future in futures:
                    future.get(timeout=timeout)
                return
            except UnknownProducerIdError:
                log.warning("broker forgot the producer id; recreating the producer")
                self._reset()
                if attempt == 2:
                    raise DependencyDown("Kafka rejected the producer id twice") from None
            except KafkaError as exc:
                self._reset()
                raise DependencyDown(f"Kafka send failed: {type(exc).__name__}") from None

    def send(self, topic: str, key: str, value: bytes,
             headers: list[tuple[str, bytes]] | None = None) -> None:
        self.send_many([(topic, key, value)], headers=headers)

    def publish(self, envelope: dict[str, Any]) -> None:
        """Publish one event envelope on its topic, keyed by its clue id."""
        topic = events.TOPIC_OF_TYPE[envelope["type"]]
        self.send(topic, envelope["subject"], events.encode(envelope))

    def close(self) -> None:
        self._reset()
