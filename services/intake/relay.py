"""Intake's outbox relays: one per outbox collection, and a woken publisher that batches.

`IntakeOutbox.wake(doc)` hands a just-written document to a thread that publishes it at once;
the documents woken meanwhile go out together (one broker flush, one bulk write of the clears),
so a busy web process does not pay a database read and a write per clue on top of its insert.
Each clear is guarded by `outbox_version`, as in `shared.outbox.OutboxRelay`, which does the
polling rounds (the backstop for anything a wake did not publish).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from pymongo.errors import ConnectionFailure

from services.intake.documents import Clue, FollowUp
from shared.kafka import DependencyDown, Publisher
from shared.metrics import EVENTS_PRODUCED
from shared.outbox import OutboxDocument, OutboxRelay

log = logging.getLogger(__name__)

OUTBOX_DOCUMENTS: tuple[type[OutboxDocument], ...] = (Clue, FollowUp)


class IntakeOutbox:
    """Publishes the events of intake's outbox documents (clues and follow-ups)."""

    def __init__(self, publisher: Publisher, batch_size: int = 500) -> None:
        self.publisher = publisher
        self.batch_size = batch_size
        self.relays = {doc._get_collection_name(): OutboxRelay(doc._get_collection(), publisher)
                       for doc in OUTBOX_DOCUMENTS}
        self._woken: queue.SimpleQueue[tuple[str, dict[str, Any]] | None] = queue.SimpleQueue()

    def wake(self, doc: OutboxDocument) -> None:
        """Publish this just-saved document's pending events soon, without reading it back."""
        self._woken.put((doc._get_collection_name(), {
            "_id": doc.pk, "outbox": list(doc.outbox), "outbox_version": doc.outbox_version}))

    def publish_pending(self) -> int:
        """One polling round over every outbox collection; returns the events published."""
        return sum(relay.publish_pending() for relay in self.relays.values())

    def publish_woken(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """Publish the events of woken documents in one send, then clear their outboxes."""
        records = [(e["topic"], e["key"], e["value"].encode())
                   for _, doc in items for e in doc["outbox"]]
        if records:
            send_many = getattr(self.publisher, "send_many", None)
            if send_many:
                send_many(records)
            else:
                for record in records:
                    self.publisher.send(*record)
            for topic, _, _ in records:
                EVENTS_PRODUCED.labels(topic).inc()
        # Fresh documents share outbox_version 0: one update_many per (collection, version) clears
        # them all, each still guarded by the version it was published at.
        clears: dict[tuple[str, int], list[str]] = {}
        for name, doc in items:
            clears.setdefault((name, doc["outbox_version"]), []).append(doc["_id"])
        for (name, version), ids in clears.items():
            self.relays[name].collection.update_many(
                {"_id": {"$in": ids}, "outbox_version": version},
                {"$set": {"outbox": [], "outbox_pending": False}})
        return len(records)

    def _drain(self, first: tuple[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        items = [first]
        while len(items) < self.batch_size:
            try:
                item = self._woken.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                items.append(item)
        return items

    def run(self, stop: threading.Event, poll_interval_s: float = 1.0) -> None:
        """Publish woken documents at once, and poll every collection each `poll_interval_s`."""
        while not stop.is_set():
            try:
                first = self._woken.get(timeout=poll_interval_s)
            except queue.Empty:
                first = None
            if stop.is_set():
                break
            try:
                if first is None:
                    self.publish_pending()
                else:
                    self.publish_woken(self._drain(first))
            except (DependencyDown, ConnectionFailure) as exc:
                # What was not cleared stays pending: the next polling round publishes it.
                log.warning("outbox relay waiting for a dependency", extra={"error": type(exc).__name__})
                stop.wait(min(poll_interval_s, 1.0))
            except Exception:  # noqa: BLE001 - the relay thread must outlive a bad round
                log.exception("outbox relay round failed")
                stop.wait(min(poll_interval_s, 1.0))

    def start_thread(self, stop: threading.Event, poll_interval_s: float = 1.0) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop, poll_interval_s),
                                  name="intake-outbox", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._woken.put(None)
