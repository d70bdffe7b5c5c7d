"""Intake's relays, woken per write: clue-received for each new clue, and the follow-ups' outbox.

`IntakeOutbox.announce(event)` hands a just-stored clue's clue-received event to the clues' relay
thread, which publishes it at once, batching whatever was handed over meanwhile. No write marks
it sent: a clue is settled when a case event acknowledges it, and `handlers.reconcile` publishes
it again until then (the backstop). `wake(FollowUp, doc)` does the same for a just-saved
follow-up, whose outbox the relay clears once published (`shared.outbox.OutboxRelay`);
`publish_pending` is the polling round over the follow-ups (their backstop).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from services.intake.outbox_store import clue_collection, name_of, outbox_collections
from shared.kafka import Publisher
from shared.outbox import OutboxDocument, OutboxRelay, entry


class IntakeOutbox:
    """Publishes intake's events: each clue's clue-received, and the follow-ups' outbox."""

    def __init__(self, publisher: Publisher, batch_size: int = 500) -> None:
        self.clues = OutboxRelay(clue_collection(), publisher, batch_size, clears=False)
        self.relays = {name: OutboxRelay(collection, publisher, batch_size)
                       for name, collection in outbox_collections().items()}

    def announce(self, envelope: dict[str, Any]) -> None:
        """Publish a just-stored clue's clue-received event soon."""
        self.clues.wake({"_id": envelope["subject"], "outbox": [entry(envelope)]})

    def wake(self, document: type[OutboxDocument], stored: Mapping[str, Any]) -> None:
        """Publish the pending events of a just-saved `document` (as stored) soon, without
        reading it back."""
        self.relays[name_of(document)].wake(stored)

    def publish_pending(self) -> int:
        """One polling round over every outbox collection; returns the events published."""
        return sum(relay.publish_pending() for relay in self.relays.values())

    def _all(self) -> list[OutboxRelay]:
        return [self.clues, *self.relays.values()]

    def start_threads(self, stop: threading.Event, poll_interval_s: float = 1.0) -> list[threading.Thread]:
        return [relay.start_thread(stop, poll_interval_s) for relay in self._all()]

    def stop(self) -> None:
        for relay in self._all():
            relay.stop()
