"""Notify benchmark: notifications/s delivered by one deliverer, against a plain-consumer baseline.

Run: `.venv/bin/python -m bench.notify [--events N] [--emails M]`. Uses KAFKA_BOOTSTRAP_SERVERS
and MONGODB_URI when both are set, otherwise starts the local stand-ins (Tansu + nx-27017).

In one run, on the same broker and database:
- baseline: the shared ConsumerLoop consumes N clue-received events and writes one document per
  event (insert_one), measured from its first to its last handled event;
- notify_consume: notify's own consumer turns the same N events into pending notifications;
- notify_inbox_delivery: one Deliverer delivers those N (anonymous reporters: the inbox);
- notify_email_delivery: one Deliverer delivers M real-name notifications to a local aiosmtpd sink
  (sealed contacts opened at send time, default 4 SMTP sender threads).
Each prints one JSON line {"bench","value","unit","baseline","ratio","broker","database"}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import threading
import time
import uuid

import pymongo
from aiosmtpd.controller import Controller

from services.notify.consumer import build_consumer
from services.notify.delivery import Deliverer
from services.notify.documents import Notification
from services.notify.settings import NotifySettings
from shared import events, mongo
from shared.consumer import ConsumerLoop
from shared.kafka import EventProducer, ensure_topics
from shared.mongo import count_exact
from shared.sealing import generate_keypair, load_key, seal_for_notify
from shared.settings import CommonSettings, Env


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


class _PortController(Controller):
    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _stack():
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("MONGODB_URI"):
        return None, dict(os.environ), "from KAFKA_BOOTSTRAP_SERVERS", "from MONGODB_URI"
    from bench.common import broker_name, start_stack

    local = start_stack("bench-notify-")
    return local, local.env(), broker_name(local), "nx-27017 0.8.1 (local stand-in)"


def _clue_id(n: int) -> str:
    return f"01HBENCH{n:018d}"


def _received(n: int, sealed: str | None) -> dict:
    return events.make_event(events.CLUE_RECEIVED, {
        "clue_id": _clue_id(n), "received_at": events.now(), "source": "observer",
        "category": "solicitation", "jurisdiction": "foshan/chancheng/shiwan",
        "subject": {"name": "许某", "rank": "staff"}, "amount_cny": 100, "collusion": False,
        "reporter_ref": uuid.uuid4().hex, "reporter_contact_sealed": sealed}, source="/bench")


def _consume(common: CommonSettings, group: str, handlers: dict, done) -> tuple[float, float]:
    """Run a consumer loop until done(); returns (first, last) handled times (perf_counter)."""
    marks: list[float] = []

    def timed(handler):
        def run(event):
            handler(event)
            marks.append(time.perf_counter())
        return run

    loop = ConsumerLoop(common, group, {t: timed(h) for t, h in handlers.items()},
                        dead_letters=EventProducer(common))
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 600
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=30)
    return marks[0], marks[-1]


def _deliver(settings: NotifySettings, expected: int, kind_filter: dict) -> float:
    """Seconds one Deliverer (its own run loop) takes to get `expected` notifications to sent."""
    deliverer = Deliverer(settings)
    stop = threading.Event()
    started = time.perf_counter()
    thread = threading.Thread(target=deliverer.run, args=(stop,), daemon=True)
    thread.start()
    # Poll rarely, reading ids through an index: a count is an aggregation over the collection on
    # the database server the deliverer is using.
    sent = Notification._get_collection()
    while count_exact(sent, status="sent", **kind_filter) < expected:
        time.sleep(0.25)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(timeout=30)
    return elapsed


def _baseline_rate(common: CommonSettings, docs, n: int) -> float:
    """Events/s of a bare consumer that writes one document per event."""
    def write_one(event):
        docs.insert_one({"_id": event.id, "clue_id": event.subject, "at": event.time})

    first, last = _consume(common, "bench-baseline", {events.CLUE_RECEIVED: write_one},
                           lambda: docs.estimated_document_count() >= n)
    return (n - 1) / (last - first)


def _email_rate(common: CommonSettings, settings: NotifySettings, producer: EventProducer, handlers,
                public_key: bytes, before: int, n: int) -> float:
    """E-mails/s delivered for `n` clues of real-name reporters, after `before` anonymous ones."""
    contact = seal_for_notify({"channel": "email", "email": "bench@example.org"}, public_key)
    real = [_received(before + i, contact) for i in range(n)]
    producer.send_many([(events.CLUE_RECEIVED, e["subject"], events.encode(e)) for e in real])
    notifications = Notification._get_collection()
    _consume(common, "bench-notify", handlers,
             lambda: notifications.estimated_document_count() >= before + n)
    return n / _deliver(settings, n, {"channel": "email"})


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.notify")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--emails", type=int, default=300)
    args = parser.parse_args()
    local, env, broker, database = _stack()
    sink = Controller  # placeholder for the finally block
    try:
        common = dataclasses.replace(CommonSettings.from_env(Env(env)),
                                     topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.",
                                     kafka_enable_idempotence=False)
        ensure_topics(common, partitions=2)
        public, private = generate_keypair()
        sink_handler = _Sink()
        sink = _PortController(sink_handler, hostname="127.0.0.1", port=0)
        sink.start()
        db = f"bench_notify_{uuid.uuid4().hex[:6]}"
        settings = NotifySettings(common=common, private_key=load_key(private, "private"),
                                  webhook_secret=b"bench", db=db, smtp_port=sink.port,
                                  smtp_sender="bench@campaign.local", poll_interval_s=0.01)
        mongo.connect(common.mongodb_uri, db)

        producer = EventProducer(common)
        anonymous = [_received(i, None) for i in range(args.events)]
        producer.send_many([(events.CLUE_RECEIVED, e["subject"], events.encode(e)) for e in anonymous])

        client = pymongo.MongoClient(common.mongodb_uri)
        baseline = _baseline_rate(common, client[db + "_baseline"].docs, args.events)

        handlers = build_consumer(common, producer).handlers
        notifications = Notification._get_collection()
        first, last = _consume(common, "bench-notify", handlers,
                               lambda: notifications.estimated_document_count() >= args.events)
        consume_rate = (args.events - 1) / (last - first)

        inbox_rate = args.events / _deliver(settings, args.events, {})

        email_rate = _email_rate(common, settings, producer, handlers, load_key(public, "public"),
                                 args.events, args.emails)
        assert sink_handler.count >= args.emails, "the SMTP sink did not get every email"
        producer.close()
        client.drop_database(db + "_baseline")
        client.drop_database(db)

        for name, value in (("notify_consume", consume_rate), ("notify_inbox_delivery", inbox_rate),
                            ("notify_email_delivery", email_rate)):
            print(json.dumps({"bench": name, "value": round(value, 1), "unit": "notifications/s",
                              "baseline": round(baseline, 1), "ratio": round(value / baseline, 3),
                              "broker": broker, "database": database}))
        return 0
    finally:
        if isinstance(sink, Controller):
            sink.stop()
        if local is not None:
            local.stop()


if __name__ == "__main__":
    raise SystemExit(main())
