"""An in-memory broker behind the same interface as the real producer, for fast handler tests."""

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
