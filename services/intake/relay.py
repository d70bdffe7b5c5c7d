"""Intake's outbox: a relay per outbox collection (clues, follow-ups), woken per write.

`IntakeOutbox.wake(Clue, doc)` hands a just-saved clue or follow-up to its collection's relay thread,
which publishes it at once and batches whatever was woken meanwhile (`shared.outbox.OutboxRelay`);
`publish_pending` is the polling round over both collections (the backstop).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from services.intake.documents import Clue, FollowUp
from shared.kafka import Publisher
from shared.outbox import OutboxDocument, OutboxRelay

OUTBOX_DOCUMENTS: tuple[type[OutboxDocument], ...] = (Clue, FollowUp)


class IntakeOutbox:
    """Publishes the events of intake's outbox documents (clues and follow-ups)."""

    def __init__(self, publisher: Publisher, batch_size: int = 500) -> None:
        self.relays = {doc._get_collection_name(): OutboxRelay(doc._get_collection(), publisher, batch_size)
                       for doc in OUTBOX_DOCUMENTS}

    def wake(self, document: type[OutboxDocument], stored: Mapping[str, Any]) -> None:
        """Publish the pending events of a just-saved `document` (as stored) soon, without
        reading it back."""
        self.relays[document._get_collection_name()].wake(stored)

    def publish_pending(self) -> int:
        """One polling round over every outbox collection; returns the events published."""
        return sum(relay.publish_pending() for relay in self.relays.values())

    def start_threads(self, stop: threading.Event, poll_interval_s: float = 1.0) -> list[threading.Thread]:
        return [relay.start_thread(stop, poll_interval_s) for relay in self.relays.values()]

    def stop(self) -> None:
        for relay in self.relays.values():
            relay.stop()
