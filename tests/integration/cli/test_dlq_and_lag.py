"""dlq show / replay and lag against the real broker, on topics with a prefix of this test alone."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer, OffsetAndMetadata

from shared import cli, events
from shared.kafka import ensure_topics
from tests.integration.shared.helpers import raw_producer, read_topic, wait_for


@pytest.fixture
def topics(cli_env, settings):
    """Settings with this test's prefix, and its topics created (2 partitions each)."""
    mine = dataclasses.replace(settings, topic_prefix=cli_env["KAFKA_TOPIC_PREFIX"])
    ensure_topics(mine, partitions=2)
    return mine


def invoke(env, *args):
    return CliRunner().invoke(cli.cli, list(args), env=env)


def dead_letter(settings, key: str, value: bytes, error: str) -> None:
    producer = raw_producer(settings.kafka_bootstrap_servers)
    producer.send(settings.topic_prefix + "clue-received.dlq", key=key.encode(), value=value,
                  headers=[("error", error.encode()), ("original_topic", b"clue-received"),
                           ("original_partition", b"0"), ("original_offset", b"7"),
                           ("consumer_group", b"assignment")]).get(timeout=10)
    producer.close()


def test_replay_moves_dead_lettered_records_back_once(cli_env, topics):
    dead_letter(topics, "clue-1", b'{"not": "an event yet"}', "schema: bad")
    dead_letter(topics, "clue-2", b"\x00raw bytes\xff", "handler failed after retries: KeyError")

    shown = invoke(cli_env, "dlq", "show", "clue-received")
    assert shown.exit_code == 0, shown.output
    assert "key=clue-1 group=assignment from=clue-received/0:7 error=schema: bad" in shown.stdout
    assert "key=clue-2" in shown.stdout and "KeyError" in shown.stdout

    dry = invoke(cli_env, "dlq", "replay", "clue-received", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would replay 2 record(s)" in dry.stdout
    target = topics.topic_prefix + "clue-received"
    assert read_topic(topics.kafka_bootstrap_servers, target, timeout=2) == []

    result = invoke(cli_env, "dlq", "replay", "clue-received")
    assert result.exit_code == 0, result.output
    assert "replayed 2 record(s)" in result.stdout
    records = read_topic(topics.kafka_bootstrap_servers, target, expect=2)
    assert sorted((r.key, r.value) for r in records) == [
        (b"clue-1", b'{"not": "an event yet"}'), (b"clue-2", b"\x00raw bytes\xff")]

    again = invoke(cli_env, "dlq", "replay", "clue-received")
    assert "replayed 0 record(s)" in again.stdout
    dead_letter(topics, "clue-3", b"{}", "poison: x")
    third = invoke(cli_env, "dlq", "replay", "clue-received.dlq", "--limit", "5")
    assert "replayed 1 record(s)" in third.stdout
    assert len(read_topic(topics.kafka_bootstrap_servers, target, expect=3)) == 3


def test_replay_of_a_missing_topic_says_so(stack):
    env = {**stack.env(), "KAFKA_TOPIC_PREFIX": "never-created."}
    result = invoke(env, "dlq", "replay", "case-closed")
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_lag_is_end_minus_committed_per_topic(cli_env, topics):
    producer = raw_producer(topics.kafka_bootstrap_servers)
    topic = topics.topic_prefix + events.CASE_ASSIGNED
    for n in range(10):
        producer.send(topic, key=f"clue-{n}".encode(), value=b"{}")
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(topic, bootstrap_servers=topics.kafka_bootstrap_servers,
                             group_id=topics.topic_prefix + "lag-test",
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             session_timeout_ms=6000, heartbeat_interval_ms=1000)
    taken: list = []

    def take_four():
        for records in consumer.poll(timeout_ms=500).values():
            taken.extend(records)
        return len(taken) >= 4

    wait_for(take_four, message="four records consumed")
    done: dict = {}
    for record in taken[:4]:  # in partition order, so the first four are contiguous per partition
        tp = next(tp for tp in consumer.assignment() if tp.partition == record.partition)
        done[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
    consumer.commit(done)
    consumer.close()

    result = invoke(cli_env, "lag", "--group", "lag-test", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [{"group": "lag-test", "topic": "case-assigned", "partitions": 2, "end": 10,
                     "committed": 4, "lag": 6}]


def test_lag_of_a_service_group_counts_every_record_it_has_not_committed(cli_env, topics):
    producer = raw_producer(topics.kafka_bootstrap_servers)
    for n in range(3):
        producer.send(topics.topic_prefix + events.CLUE_RECEIVED, key=f"c{n}".encode(), value=b"{}")
    producer.flush()
    producer.close()

    result = invoke(cli_env, "lag", "--group", "assignment")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["GROUP", "TOPIC", "PARTS", "END", "COMMITTED", "LAG"]
    assert lines[1].split() == ["assignment", "clue-received", "2", "3", "0", "3"]
    assert lines[2].split() == ["assignment", "clue-followed-up", "2", "0", "0", "0"]
