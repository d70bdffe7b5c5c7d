"""In-memory stand-ins for fast handler tests: a broker behind the same interface as the real
producer, and a consumer's processed-event record behind `shared.mongo.ProcessedEvents`'s
(tests/integration/shared/test_processed_events.py runs their one contract on both)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from shared import events
from shared.dependencies import DependencyDown


@dataclass
class Record:
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int = 0
    offset: int = 0


class FakeBroker:
    """Keeps every sent record per topic; `events(topic)` decodes them."""

    def __init__(self) -> None:
        self.topics: dict[str, list[Record]] = defaultdict(list)
        self.fail_next = 0

    def send(self, topic: str, key: str, value: bytes,
             headers: list[tuple[str, bytes]] | None = None) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise DependencyDown("fake broker told to fail")
        records = self.topics[topic]
        records.append(Record(topic, key, value, list(headers or []), 0, len(records)))

    def send_many(self, records: list[tuple[str, str, bytes]]) -> None:
        for record in records:
            self.send(*record)

    def publish(self, envelope: dict) -> None:
        self.send(events.TOPIC_OF_TYPE[envelope["type"]], envelope["subject"],
                  events.encode(envelope))

    def records(self, topic: str) -> list[Record]:
        return list(self.topics[topic])

    def events(self, topic: str) -> list[events.Event]:
        return [events.decode(r.value) for r in self.topics[topic]]


class MemoryProcessedEvents:
    """`shared.mongo.ProcessedEvents` in a set: the events one consumer has handled.

    The real record keeps every consumer's marks in one collection, apart by name; here each
    instance holds its own consumer's marks (`marked`)."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.marked: set[str] = set()

    def seen(self, event_id: str) -> bool:
        return event_id in self.marked

    def mark(self, event_id: str) -> None:
        self.mark_many([event_id])

    def seen_many(self, event_ids: list[str]) -> set[str]:
        """Those of `event_ids` seen before."""
        return self.marked.intersection(event_ids)

    def mark_many(self, event_ids: list[str]) -> None:
        """`mark` for each of `event_ids` (marked before: no change)."""
        self.marked.update(event_ids)
