"""Benchmark: CPU per published record of the event producer (shared.kafka.EventProducer, kafka-python).

Sends the same small JSON events (a) in batches of 20 through `send_many`, as a woken outbox relay
does, and (b) one at a time from 8 threads, as a request thread would; the baseline, in the same
run on the same broker: a bare kafka-python KafkaProducer with its defaults (no linger, 16 KB
batches), the same batches, then a flush. CPU is this process's (the client's threads included),
per record acked. The notes carry the previous producer's figures (docs/reliability.md, measured
on Tansu): librdkafka 0.04 ms per record, kafka-python as it was configured then 0.15.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid

import psutil
from kafka import KafkaProducer

from bench.common import DATABASE, broker_name, emit, stack_env
from shared import events
from shared.kafka import EventProducer, ensure_topics
from shared.settings import CommonSettings, Env

PREVIOUS = {"librdkafka_ms_per_record": 0.04, "kafka_python_before_ms_per_record": 0.15}


def value(n: int) -> bytes:
    return events.encode(events.make_event(events.CLUE_FOLLOWED_UP, {
        "clue_id": f"clue-{n:08d}", "message": "处理结果与事实不符" * 4, "objection": False,
        "at": events.now()}, source="/bench"))


def cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def measure(send) -> tuple[float, float]:
    """(CPU ms per record, records/s) of `send()`, which returns how many records it had acked."""
    before, started = cpu(), time.perf_counter()
    sent = send()
    return (cpu() - before) * 1000 / sent, sent / (time.perf_counter() - started)


def senders(producer: EventProducer, bare: KafkaProducer, prefix: str, records: list, batches: list):
    """The three ways of sending `records` that are timed: the event producer in batches of 20,
    the event producer one record at a time from 8 threads, a bare producer in the same batches.
    Each returns how many records it sent."""

    def batched() -> int:
        for batch in batches:
            producer.send_many(batch)
        return len(records)

    def threaded() -> int:
        share = len(records) // 8 // 4

        def one(t: int) -> None:
            for topic_, key, val in records[t * share:(t + 1) * share]:
                producer.send(topic_, key, val)

        threads = [threading.Thread(target=one, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return share * 8

    def bare_batched() -> int:
        for batch in batches:
            futures = [bare.send(prefix + t, key=k.encode(), value=v) for t, k, v in batch]
            bare.flush()
            for f in futures:
                f.get(timeout=10)
        return len(records)

    return batched, threaded, bare_batched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    env, stack = stack_env()
    try:
        settings = CommonSettings.from_env(Env({**env, "KAFKA_TOPIC_PREFIX": f"prod{uuid.uuid4().hex[:6]}."}))
        ensure_topics(settings, (events.CLUE_FOLLOWED_UP,))
        topic = events.CLUE_FOLLOWED_UP
        records = [(topic, f"clue-{n:08d}", value(n)) for n in range(args.records)]
        batches = [records[i:i + 20] for i in range(0, len(records), 20)]
        producer = EventProducer(settings)
        producer.send_many(records[:100])  # connect and warm up

        bare = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
        bare.send(settings.topic_prefix + topic, key=b"warm", value=b"{}").get(timeout=10)
        batched, threaded, bare_batched = senders(producer, bare, settings.topic_prefix, records, batches)
        base_ms, base_rate = measure(bare_batched)
        batch_ms, batch_rate = measure(batched)
        single_ms, single_rate = measure(threaded)
        producer.close()
        bare.close()
        from kafka.record import util

        where = {"broker": broker_name(stack), "database": DATABASE, "records": args.records,
                 "crc32c_extension": util.crc32c_c is not None, "previous": PREVIOUS,
                 "cpus": os.cpu_count()}
        emit(bench="producer_cpu_per_record_batches_of_20", value=round(batch_ms, 4), unit="ms CPU/record",
             baseline=round(base_ms, 4), ratio=round(batch_ms / base_ms, 3), records_per_s=round(batch_rate),
             baseline_records_per_s=round(base_rate), **where)
        emit(bench="producer_cpu_per_record_one_by_one_8_threads", value=round(single_ms, 4),
             unit="ms CPU/record", baseline=round(base_ms, 4), ratio=round(single_ms / base_ms, 3),
             records_per_s=round(single_rate), **where)
    finally:
        if stack:
            stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
