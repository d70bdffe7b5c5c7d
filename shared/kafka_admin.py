"""Looking at the broker from outside a consumer group: reachability, end offsets, reading a
range of records, and a group's lag. Used by the operator's command line, the lag gauges and the
start-up checks; none of it joins a group or commits for one.

kafka-python's client is imported only where a function needs it, so a process that only wants
the TCP probe (`kafka_reachable`) loads no Kafka client.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

from shared.settings import CommonSettings


def kafka_reachable(bootstrap: str, timeout_s: float = 1.0) -> bool:
    """True when at least one bootstrap server accepts a TCP connection."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def consumer_group(settings: CommonSettings, name: str) -> str:
    """A service's consumer group behind the topic prefix, so stacks sharing a broker never share
    a group (a group subscribed to two prefixes' topics would rebalance without end)."""
    return settings.topic_prefix + name


def end_offsets(consumer: Any, tps: list, wait_s: float = 5.0) -> dict:
    """The end offset of each partition (the offset the next record will get); assigns `tps`.

    ListOffsets alone comes up short on the local stand-in broker (it answers the start of the
    last record batch plus one), so the high watermark of a fetch from there counts too; on
    Apache Kafka both agree.
    """
    end = consumer.end_offsets(tps)
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, end[tp])
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        consumer.poll(timeout_ms=200)
        marks = {tp: consumer.highwater(tp) for tp in tps}
        if all(mark is not None for mark in marks.values()):
            return {tp: max(end[tp], marks[tp]) for tp in tps}
    return end


def read_partitions(consumer: Any, tps: list, start: dict, end: dict, limit: int | None) -> Iterator:
    """Records of `tps` from `start` up to (excluding) the `end` offsets, at most `limit` of them."""
    for tp in tps:
        consumer.seek(tp, start[tp])
    remaining = {tp for tp in tps if start[tp] < end[tp]}
    count = 0
    while remaining and (limit is None or count < limit):
        batch = consumer.poll(timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                if tp not in remaining or record.offset >= end[tp]:
                    continue
                yield record
                count += 1
                if record.offset + 1 >= end[tp]:
                    remaining.discard(tp)
                if limit is not None and count >= limit:
                    return
        for tp in list(remaining):
            if consumer.position(tp) >= end[tp]:
                remaining.discard(tp)


def group_lag(consumer: Any, prefix: str, topics: tuple[str, ...], only_committed: bool) -> list[dict]:
    """Per topic: end offsets minus committed offsets (an uncommitted partition counts from its start)."""
    from kafka import TopicPartition

    rows = []
    for topic in topics:
        name = prefix + topic
        parts = consumer.partitions_for_topic(name)
        if not parts:
            continue
        tps = [TopicPartition(name, p) for p in sorted(parts)]
        end, begin = end_offsets(consumer, tps), consumer.beginning_offsets(tps)
        committed = {tp: consumer.committed(tp) for tp in tps}
        if only_committed and all(c is None for c in committed.values()):
            continue
        lag = sum(max(0, end[tp] - (committed[tp] if committed[tp] is not None else begin[tp])) for tp in tps)
        rows.append({"topic": topic, "partitions": len(tps), "end": sum(end.values()),
                     "committed": sum(c for c in committed.values() if c is not None), "lag": lag})
    return rows
