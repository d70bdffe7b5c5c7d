"""End-to-end benchmark: clues/s from POST /v1/clues to the reporter's "accepted" notification.

Runs all three services as processes (as `make run` does) on a fresh stack (Apache Kafka where java
and mvn exist, else Tansu; BENCH_KAFKA=tansu chooses Tansu; the JSON lines name it) and measures
(1) the sustained rate: N clues posted as fast as 8 clients can, until the last "accepted"
notification is sent; (2) latency at half that rate: POST to "accepted" sent, p50/p99.
The baseline, in the same run on the same broker: a raw produce -> consume round trip through
three hops (A -> B -> C -> end, each hop a kafka-python consumer that re-produces), its
throughput and its per-record latency. Prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pymongo
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from bench.common import DATABASE, broker_name, emit, stack_env
from deploy.devstack import PROCESSES, start_pipeline
from deploy.localstack import free_port


def clue(i: int) -> dict:
    return {"source": "public_report", "category": "solicitation", "summary": f"收受红包 #{i}",
            "jurisdiction": "foshan/chancheng/shiwan",
            "subject": {"name": f"被反映人{uuid.uuid4().hex[:8]}", "rank": "staff",
                        "employer": "foshan/chancheng/urban-management"},
            "reporter": {"anonymous": False, "name": "某", "channel": "inbox"}}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


class Clock:
    """Posts clues and reads when each clue's "accepted" notification was sent."""

    def __init__(self, url: str, keys: list[str], mongo_uri: str, notify_db: str) -> None:
        self.url, self.keys = url, keys
        self.notifications = pymongo.MongoClient(mongo_uri)[notify_db]["notifications"]
        self.local = threading.local()

    def post(self, i: int) -> tuple[str, float]:
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        started = time.time()
        resp = session.post(self.url, json=clue(i), timeout=30,
                            headers={"Authorization": f"Bearer {self.keys[i % len(self.keys)]}"})
        resp.raise_for_status()
        return resp.json()["clue_id"], started

    def accepted_at(self, clue_ids: set[str], timeout: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        found: dict[str, float] = {}
        while time.monotonic() < deadline and len(found) < len(clue_ids):
            for n in self.notifications.find({"kind": "accepted", "status": "sent"},
                                             {"clue_id": 1, "sent_at_ms": 1}):
                if n["clue_id"] in clue_ids:
                    found[n["clue_id"]] = n["sent_at_ms"] / 1000
            time.sleep(0.5)
        return found


def sustained(clock: Clock, n: int, timeout: float) -> float:
    started = time.time()
    with ThreadPoolExecutor(max_workers=8) as pool:
        posted = list(pool.map(clock.post, range(n)))
    done = clock.accepted_at({c for c, _ in posted}, timeout)
    if len(done) < n:
        raise RuntimeError(f"only {len(done)} of {n} clues reached 'accepted' in {timeout} s")
    return n / (max(done.values()) - started)


def paced(clock: Clock, n: int, rate: float, timeout: float) -> list[float]:
    posted: list[tuple[str, float]] = []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = []
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(clock.post, 100_000 + i))
        posted = [f.result() for f in futures]
    done = clock.accepted_at({c for c, _ in posted}, timeout)
    return [(done[c] - t) * 1000 for c, t in posted if c in done]


def forward(bootstrap: str, src: str, dst: str, ready: threading.Barrier, stop: threading.Event) -> None:
    """One hop: consume `src`, produce each record to `dst`, commit; until `stop`."""
    consumer = KafkaConsumer(src, bootstrap_servers=bootstrap, group_id=f"g-{src}",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=6000, heartbeat_interval_ms=1000)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    ready.wait()
    while not stop.is_set():
        batch = consumer.poll(timeout_ms=200)
        for records in batch.values():
            for r in records:
                producer.send(dst, key=r.key, value=r.value)
        if batch:
            producer.flush()
            consumer.commit()
    consumer.close()
    producer.close()


def drain(sink: KafkaConsumer, expect: int) -> list[float]:
    """The latency (ms) of each record reaching the sink, until `expect` have (or 300 s)."""
    got: list[float] = []
    deadline = time.monotonic() + 300
    while len(got) < expect and time.monotonic() < deadline:
        for records in sink.poll(timeout_ms=100).values():
            now = time.time()
            got.extend((now - float(r.value)) * 1000 for r in records)
    return got


def paced_send(producer: KafkaProducer, topic: str, n: int, rate: float) -> None:
    begin = time.monotonic()
    for i in range(n):
        delay = begin + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.send(topic, key=str(i).encode(), value=str(time.time()).encode())
        producer.flush()


def three_hops(bootstrap: str, n: int, paced_rate: float) -> tuple[float, list[float]]:
    """The raw broker round trip through three hops: records/s for `n` records sent at once, and
    the per-record latency (ms) of `n // 3` records sent at `paced_rate` per second."""
    tag = uuid.uuid4().hex[:6]
    topics = [f"hop-{tag}-{i}" for i in range(4)]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(t, 6, 1) for t in topics])
    admin.close()
    stop, ready = threading.Event(), threading.Barrier(4)
    hops = [threading.Thread(target=forward, args=(bootstrap, topics[i], topics[i + 1], ready, stop))
            for i in range(3)]
    for hop in hops:
        hop.start()
    sink = KafkaConsumer(topics[3], bootstrap_servers=bootstrap, group_id=f"g-end-{tag}",
                         auto_offset_reset="earliest", session_timeout_ms=6000,
                         heartbeat_interval_ms=1000)
    ready.wait()
    sink.poll(timeout_ms=3000)  # join the group before the clock starts
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    time.sleep(5)  # let the hop consumers finish joining
    started = time.time()
    for i in range(n):
        producer.send(topics[0], key=str(i).encode(), value=str(time.time()).encode())
    producer.flush()
    rate = len(drain(sink, n)) / (time.time() - started)
    sender = threading.Thread(target=paced_send, args=(producer, topics[0], n // 3, paced_rate))
    sender.start()
    latencies = drain(sink, n // 3)
    sender.join()
    stop.set()
    for hop in hops:
        hop.join()
    sink.close()
    producer.close()
    return rate, latencies


@contextmanager
def running_pipeline(prefix: str, extra: dict[str, str] | None = None):
    """The three services as processes on a stack of their own (or the environment's), with a
    mail sink; yields (env, stack, pipeline, clock) and stops them all."""
    env, stack = stack_env()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    pipeline = None
    try:
        work = Path(tempfile.mkdtemp(prefix=prefix))
        pipeline = start_pipeline(env, work, {s: free_port() for s in PROCESSES},
                                  tag=f"bench_{uuid.uuid4().hex[:6]}", extra={
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "LOG_LEVEL": "WARNING", **(extra or {})})
        keys = list(pipeline.credentials["frontline"].values())
        clock = Clock(pipeline.urls["intake"] + "/v1/clues", keys, env["MONGODB_URI"],
                      pipeline.databases["notify"])
        yield env, stack, pipeline, clock
    finally:
        if pipeline:
            pipeline.stop()
        smtp.stop()
        if stack:
            stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clues", type=int, default=600)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    extra = {"KAFKA_SESSION_TIMEOUT_MS": "6000", "KAFKA_HEARTBEAT_INTERVAL_MS": "1000"}
    with running_pipeline("bench-e2e-", extra) as (env, stack, _pipeline, clock):
        clock.post(0)  # warm up every process before the clock starts
        time.sleep(5)
        rate = sustained(clock, args.clues, args.timeout)
        latencies = paced(clock, max(50, args.clues // 3), rate / 2, args.timeout)
        base_rate, base_latencies = three_hops(env["KAFKA_BOOTSTRAP_SERVERS"], args.clues, rate / 2)
        where = {"broker": broker_name(stack), "database": DATABASE}
        emit(bench="e2e_sustained", value=round(rate, 1), unit="clues/s", baseline=round(base_rate, 1),
             ratio=round(rate / base_rate, 3), clues=args.clues, **where)
        for p in (50, 99):
            value, base = percentile(latencies, p), percentile(base_latencies, p)
            emit(bench=f"e2e_latency_p{p}_at_half_rate", value=round(value, 1), unit="ms",
                 baseline=round(base, 1), ratio=round(value / base, 2) if base else None,
                 rate=round(rate / 2, 1), samples=len(latencies), **where)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
