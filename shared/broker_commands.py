"""The command line's broker commands: the dead-letter topics (show, replay) and consumer lag.

Part of `campaign` (and `python -m shared.cli`); see shared/cli.py for settings and exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from shared import events
from shared.entry import Unreachable, load_common_settings
from shared.kafka_admin import end_offsets, group_lag, kafka_reachable, read_partitions
from shared.settings import CommonSettings

# The services' consumer groups and the topics each reads (services/*/consumer.py; a unit test
# holds this table to them).
CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    "intake": (events.CASE_ASSIGNED, events.CASE_ESCALATED, events.CASE_CLOSED),
    "assignment": (events.CLUE_RECEIVED, events.CLUE_FOLLOWED_UP),
    "notify": (events.CLUE_RECEIVED, events.CASE_ASSIGNED, events.CASE_ESCALATED, events.CASE_CLOSED),
}
REPLAY_GROUP = "campaign-dlq-replay"


# --- dead letters ----------------------------------------------------------------------------

@contextmanager
def broker_errors(settings: CommonSettings) -> Iterator[None]:
    """Turn any broker failure inside the block into one line and exit 3."""
    from kafka.errors import KafkaError

    try:
        yield
    except KafkaError as exc:
        raise Unreachable(f"KAFKA_BOOTSTRAP_SERVERS: the broker at {settings.kafka_bootstrap_servers} "
                          f"failed ({type(exc).__name__})") from None


def _kafka(settings: CommonSettings, **config: Any):
    from kafka import KafkaConsumer

    if not kafka_reachable(settings.kafka_bootstrap_servers, timeout_s=3.0):
        raise Unreachable(f"KAFKA_BOOTSTRAP_SERVERS: no broker answers at {settings.kafka_bootstrap_servers}")
    return KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                         request_timeout_ms=30_000, fetch_max_wait_ms=100, **config)


def _partitions(consumer: Any, topic: str) -> list:
    from kafka import TopicPartition

    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise click.ClickException(f"topic {topic!r} does not exist")
    return [TopicPartition(topic, p) for p in sorted(parts)]


def _logical_topic(topic: str) -> str:
    base = topic.removesuffix(".dlq")
    if base not in events.TOPICS:
        raise click.BadParameter(f"{topic!r} is not one of {', '.join(events.TOPICS)}", param_hint="'TOPIC'")
    return base


def _headers(record: Any) -> dict[str, str]:
    return {k: (v or b"").decode("utf-8", errors="replace") for k, v in (record.headers or [])}


@click.group()
def dlq() -> None:
    """Look at and replay the dead-letter topics (`<topic>.dlq`)."""


@dlq.command("show")
@click.argument("topic")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many records.")
def dlq_show(topic: str, limit: int | None) -> None:
    """Print each dead-lettered record of TOPIC: where it was, its key and its error header."""
    settings = load_common_settings()
    name = settings.topic_prefix + events.dlq_topic(_logical_topic(topic))
    with broker_errors(settings):
        _show(settings, name, limit)


def _show(settings: CommonSettings, name: str, limit: int | None) -> None:
    consumer = _kafka(settings, group_id=None)
    try:
        tps = _partitions(consumer, name)
        start, end = consumer.beginning_offsets(tps), end_offsets(consumer, tps)
        shown = 0
        for record in read_partitions(consumer, tps, start, end, limit):
            h = _headers(record)
            key = record.key.decode(errors="replace") if record.key else ""
            click.echo(f"{record.partition}:{record.offset} key={key} group={h.get('consumer_group', '?')} "
                       f"from={h.get('original_topic', '?')}/{h.get('original_partition', '?')}:"
                       f"{h.get('original_offset', '?')} error={h.get('error', '')}")
            shown += 1
        click.echo(f"{shown} dead-lettered record(s) on {name}", err=True)
    finally:
        consumer.close()


@dlq.command("replay")
@click.argument("topic")
@click.option("--limit", type=click.IntRange(min=1), help="Replay at most this many records.")
@click.option("--dry-run", is_flag=True, help="List what would be replayed; publish and commit nothing.")
def dlq_replay(topic: str, limit: int | None, dry_run: bool) -> None:
    """Re-publish TOPIC's dead-lettered records (original bytes and key) to TOPIC, after a fix.

    Reads `<TOPIC>.dlq` from where consumer group `campaign-dlq-replay` stopped (the start, the
    first time) up to its end when the command started, and commits after each re-published
    record: running it again replays only what is new.
    """
    settings = load_common_settings()
    logical = _logical_topic(topic)
    with broker_errors(settings):
        replayed = _replay(settings, logical, limit, dry_run)
    verb = "would replay" if dry_run else "replayed"
    click.echo(f"{verb} {replayed} record(s) from {settings.topic_prefix + events.dlq_topic(logical)} "
               f"to {settings.topic_prefix + logical}")


def _replay(settings: CommonSettings, logical: str, limit: int | None, dry_run: bool) -> int:
    from kafka import OffsetAndMetadata

    from shared.kafka import DependencyDown, EventProducer

    name = settings.topic_prefix + events.dlq_topic(logical)
    consumer = _kafka(settings, group_id=REPLAY_GROUP)
    producer = None if dry_run else EventProducer(settings, client_id="campaign-dlq-replay")
    replayed = 0
    try:
        tps = _partitions(consumer, name)
        end = end_offsets(consumer, tps)
        begin = consumer.beginning_offsets(tps)
        start = {tp: max(begin[tp], consumer.committed(tp) or 0) for tp in tps}
        for record in read_partitions(consumer, tps, start, end, limit):
            key = record.key.decode(errors="replace") if record.key else ""
            where = f"{name}:{record.partition}:{record.offset}"
            if dry_run:
                click.echo(f"would replay {where} key={key} error={_headers(record).get('error', '')}")
                replayed += 1
                continue
            try:
                producer.send(logical, key, record.value or b"",
                              headers=[("replayed_from", where.encode())])
            except DependencyDown as exc:
                raise Unreachable(f"KAFKA_BOOTSTRAP_SERVERS: {exc}") from None
            tp = next(t for t in tps if t.partition == record.partition)
            consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
            replayed += 1
    finally:
        consumer.close()
        if producer is not None:
            producer.close()
    return replayed


# --- lag -------------------------------------------------------------------------------------

@click.command("lag")
@click.option("--group", "groups", multiple=True,
              help="A consumer group (repeatable). Default: the services' groups "
                   f"({', '.join(CONSUMER_GROUPS)}).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def lag(groups: tuple[str, ...], as_json: bool) -> None:
    """Show consumer lag per group and topic: records on the topic not yet committed by the group.

    A known group is shown on each topic it reads; any other group on each topic where it has
    committed an offset.
    """
    settings = load_common_settings()
    rows = []
    for group in groups or tuple(CONSUMER_GROUPS):
        known = CONSUMER_GROUPS.get(group)
        with broker_errors(settings):
            consumer = _kafka(settings, group_id=settings.topic_prefix + group)
            try:
                found = group_lag(consumer, settings.topic_prefix, known or events.TOPICS,
                                  only_committed=known is None)
            finally:
                consumer.close()
        rows.extend({"group": group, **row} for row in found)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    click.echo(f"{'GROUP':<24} {'TOPIC':<20} {'PARTS':>5} {'END':>10} {'COMMITTED':>10} {'LAG':>8}")
    for r in rows:
        click.echo(f"{r['group']:<24} {r['topic']:<20} {r['partitions']:>5} {r['end']:>10} "
                   f"{r['committed']:>10} {r['lag']:>8}")
