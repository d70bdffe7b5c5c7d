"""The transactional outbox: events stored in the document whose write they follow.

A document that emits events inherits `OutboxDocument`: its pending events live in its own
`outbox` list and are written in the same single-document write as the state they announce
(no multi-document transactions, see DESIGN.md). `OutboxRelay` publishes pending events with
acks=all and only then clears them, guarded by `outbox_version`, so a crash between publish and
clear publishes again (at-least-once) and an event added meanwhile is never lost.

One sender per entry: the write that stages events also leases them to the writer's relay
(`outbox_lease_until`, LEASE_S ahead), which publishes them at once when woken. Every relay's
polling round (the backstop, in each process) takes only documents whose lease ran out, and
claims each with a conditional write first, so a document is published by the relay woken for it,
or, if that one died or failed, by exactly one poller.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

import mongoengine as me
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import ConnectionFailure

from shared import events
from shared.kafka import DependencyDown, Publisher
from shared.metrics import EVENTS_PRODUCED, OUTBOX_BACKLOG, WAKES_DROPPED
from shared.mongo import exact

log = logging.getLogger(__name__)

# How long the sender woken by a write owns the events that write staged, before pollers may.
LEASE_S = 5.0


def lease_until(at: float | None = None) -> int:
    """A lease's end, in epoch milliseconds (an integer compares the same on every database)."""
    return int(((time.time() if at is None else at) + LEASE_S) * 1000)


def entry(envelope: dict[str, Any]) -> dict[str, str]:
    """How one event sits in an outbox: topic, key (the clue id) and the record's JSON text."""
    return {"topic": events.TOPIC_OF_TYPE[envelope["type"]], "key": envelope["subject"],
            "value": events.encode(envelope).decode()}


def staged_update(stored: Mapping[str, Any], *envelopes: dict[str, Any]) -> dict[str, Any]:
    """A pymongo update that appends events to the outbox of a document as it was read; use it
    with a filter on that `outbox_version`, so a concurrent change makes it match nothing."""
    outbox = [*(stored.get("outbox") or []), *(entry(e) for e in envelopes)]
    return {"$set": {"outbox": outbox, "outbox_pending": bool(outbox), "outbox_lease_until": lease_until()},
            "$inc": {"outbox_version": 1}}


def pending(*envelopes: dict[str, Any]) -> dict[str, Any]:
    """The outbox fields of a new document (a dict inserted as it is) staging `envelopes`, leased
    to the relay its writer wakes."""
    return {"outbox": [entry(e) for e in envelopes], "outbox_pending": True,
            "outbox_lease_until": lease_until()}


def publish_entries(publisher: Publisher, entries: list[dict[str, str]]) -> int:
    """Publish outbox entries in one round of broker acks (one by one for a publisher without
    `send_many`); returns how many. Raises what the publisher raises: nothing counts as sent."""
    if not entries:
        return 0
    records = [(e["topic"], e["key"], e["value"].encode()) for e in entries]
    send_many = getattr(publisher, "send_many", None)
    if send_many:
        send_many(records)
    else:
        for record in records:
            publisher.send(*record)
    for e in entries:
        EVENTS_PRODUCED.labels(e["topic"]).inc()
    return len(entries)


class OutboxDocument(me.Document):
    """Abstract base for documents that carry their own pending events."""

    outbox = me.ListField(me.DictField(), default=list)
    outbox_pending = me.BooleanField(default=False)
    outbox_version = me.IntField(default=0)
    outbox_lease_until = me.IntField()
    meta = {"abstract": True, "indexes": ["outbox_pending"]}

    def stage(self, *envelopes: dict[str, Any]) -> None:
        """Add events to this (not yet saved) document's outbox; `save()` writes them with it."""
        self.outbox = [*self.outbox, *(entry(e) for e in envelopes)]
        self.outbox_pending = True
        self.outbox_lease_until = lease_until()


class OutboxRelay:
    """Publishes the pending events of one collection.

    `publish_pending` is the poller's round. `wake(doc)` hands a just-written document (its `_id`,
    `outbox` and `outbox_version`) to the relay thread, which publishes it at once without
    reading it back, together with whatever else was woken by then: one round of broker acks and
    one write of the clears per batch. Batches form by themselves under load (group commit):
    what is woken while one batch waits for its acks goes out together in the next. So the outbox
    adds no polling delay, no waiting (`linger_s`, 0 by default, would add one) and no round
    trip per document.

    `clears=False` is for documents that something else settles, with no `outbox` field of their
    own (intake's clues, settled when assignment acknowledges them, with a reconciler as the
    backstop): what they are woken with is published at once, and nothing is cleared or polled.
    A batch of those the broker refused is held in memory and tried again (up to `hold_max`
    documents waiting; beyond that, their backstop publishes them).
    """

    def __init__(self, collection: Collection, publisher: Publisher, batch_size: int = 200,
                 linger_s: float = 0.0, *, clears: bool = True, hold_max: int = 10_000) -> None:
        self.collection = collection
        self.clears = clears
        self.hold_max = hold_max
        self.publisher = publisher
        self.batch_size = batch_size
        self.linger_s = linger_s
        self._woken: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()

    def _send(self, docs: list[dict[str, Any]]) -> int:
        """Publish the pending events of `docs` and wait for the broker's acks."""
        return publish_entries(self.publisher, [e for doc in docs for e in doc.get("outbox") or []])

    def _clear(self, docs: list[dict[str, Any]]) -> None:
        """Clear the published outboxes, each only if its document did not change meanwhile."""
        if len(docs) == 1:
            doc = docs[0]
            self.collection.update_one(
                {"_id": doc["_id"], "outbox_version": doc.get("outbox_version", 0)},
                {"$set": {"outbox": [], "outbox_pending": False}})
            return
        # One update_many per version (new documents share version 0), each still guarded by it.
        by_version: dict[int, list[str]] = {}
        for doc in docs:
            by_version.setdefault(doc.get("outbox_version", 0), []).append(doc["_id"])
        for version, ids in by_version.items():
            self.collection.update_many({"_id": {"$in": ids}, "outbox_version": version},
                                        {"$set": {"outbox": [], "outbox_pending": False}})

    def publish_docs(self, docs: list[dict[str, Any]]) -> int:
        """Publish these documents' pending events in one send, then clear those that did not
        change meanwhile; returns the events sent."""
        sent = self._send(docs)  # one round of acks for the whole batch
        if self.clears:
            self._clear(docs)
        return sent

    def publish_pending(self, at: float | None = None) -> int:
        """One poller round: publish the pending documents (up to `batch_size`) whose lease ran
        out by `at` (epoch seconds, default now), each claimed first; returns events sent."""
        if not self.clears:
            return 0  # settled elsewhere: nothing is pending here
        now_ms = int((time.time() if at is None else at) * 1000)
        docs = list(self.collection.find(exact(outbox_pending=True), {
            "outbox": 1, "outbox_version": 1, "outbox_lease_until": 1}).limit(self.batch_size))
        OUTBOX_BACKLOG.labels(self.collection.name).set(len(docs))
        due = [doc for doc in docs if (doc.get("outbox_lease_until") or 0) <= now_ms]
        claimed = [c for c in (self._claim(doc, now_ms / 1000) for doc in due) if c is not None]
        return self.publish_docs(claimed)

    def _claim(self, doc: dict[str, Any], at: float) -> dict[str, Any] | None:
        """Lease `doc` to this relay if nobody changed or claimed it since it was read; the
        document as claimed, or None."""
        return self.collection.find_one_and_update(
            {"_id": doc["_id"], "outbox_version": doc.get("outbox_version", 0),
             "outbox_lease_until": doc.get("outbox_lease_until")},
            {"$set": {"outbox_lease_until": lease_until(at)}},
            projection={"outbox": 1, "outbox_version": 1}, return_document=ReturnDocument.AFTER)

    def wake(self, doc: Mapping[str, Any]) -> None:
        """Publish this just-written document's pending events soon (it is not read back).

        At most `hold_max` documents wait in memory: past that (a broker outage while writes go
        on) a wake is dropped and the document's backstop publishes it (the polling round, or
        for documents settled elsewhere their reconciler), so a web worker's memory stays bounded.
        """
        if self._woken.qsize() >= self.hold_max:
            WAKES_DROPPED.labels(self.collection.name).inc()
            return
        self._woken.put({"_id": doc["_id"], "outbox": list(doc.get("outbox") or []),
                         "outbox_version": doc.get("outbox_version", 0)})

    def _drain(self, first: dict[str, Any]) -> list[dict[str, Any]]:
        """`first` and what else is woken by then (or within `linger_s` of it), up to `batch_size`."""
        docs = [first]
        deadline = time.monotonic() + self.linger_s
        while len(docs) < self.batch_size:
            wait = deadline - time.monotonic()
            try:
                doc = self._woken.get(timeout=wait) if wait > 0 else self._woken.get_nowait()
            except queue.Empty:
                break
            if doc is None:  # stop(): publish what is in hand, then the loop ends
                break
            docs.append(doc)
        return docs

    def run(self, stop: threading.Event, poll_interval_s: float = 1.0) -> None:
        """Publish woken documents at once and everything pending every `poll_interval_s`."""
        while not stop.is_set():
            try:
                first = self._woken.get(timeout=poll_interval_s)
            except queue.Empty:
                first = None
            if stop.is_set():
                break
            docs = [] if first is None else self._drain(first)
            try:
                if docs:
                    self.publish_docs(docs)
                else:
                    self.publish_pending()
            except (DependencyDown, ConnectionFailure) as exc:
                # What was not cleared stays pending: the next polling round publishes it (what
                # is settled elsewhere has no pending mark: it is held).
                log.warning("outbox relay waiting for a dependency", extra={"error": type(exc).__name__})
                if not self.clears:
                    self._hold(docs)
                stop.wait(min(poll_interval_s, 1.0))
            except Exception:  # noqa: BLE001 - the relay thread must outlive a bad round
                log.exception("outbox relay round failed")
                stop.wait(min(poll_interval_s, 1.0))

    def _hold(self, docs: list[dict[str, Any]]) -> None:
        """Queue a refused batch again, as far as `hold_max` allows (documents settled elsewhere
        have no pending mark for a polling round to find)."""
        for doc in docs[:max(0, self.hold_max - self._woken.qsize())]:
            self._woken.put(doc)

    def stop(self) -> None:
        self._woken.put(None)

    def start_thread(self, stop: threading.Event, poll_interval_s: float = 1.0) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(stop, poll_interval_s),
                                  name=f"outbox-{self.collection.name}", daemon=True)
        thread.start()
        return thread
