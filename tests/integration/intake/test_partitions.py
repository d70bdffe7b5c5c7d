"""One partitioner on every path that publishes: a clue's records land on the partition Apache
Kafka's Java clients would choose for its key (murmur2), whoever sends them.

Paths: intake's relay (the immediate publish), its reconciler (the backstop), a consumer's
dead-letter send, and the command line's `dlq replay`, on the real broker with 6 partitions.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from datetime import timedelta

import pytest
from click.testing import CliRunner
from kafka.partitioner.default import murmur2

from services.intake import handlers
from services.intake.settings import IntakeSettings
from shared import cli, events
from shared.kafka import EventProducer, ensure_topics
from shared.mongo import utcnow
from tests.integration.shared.helpers import read_topic, unique
from tests.unit.intake.clues import anonymous_clue

pytestmark = pytest.mark.stack

PARTITIONS = 6

# Apache Kafka's own test vectors for Utils.murmur2 (clients' UtilsTest): the Java clients'
# partition of a key is toPositive(murmur2(key)) % partitions.
JAVA_MURMUR2 = [
    ("21", -973932308),
    ("foobar", -790332482),
    ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
]


def java_partition(key: str, partitions: int = PARTITIONS) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


@pytest.mark.parametrize("key, expected", JAVA_MURMUR2, ids=[k[:12] for k, _ in JAVA_MURMUR2])
def test_the_clients_hash_is_the_java_clients_murmur2(key, expected):
    signed = murmur2(key.encode())
    signed = signed - (1 << 32) if signed >= 1 << 31 else signed
    assert signed == expected


@pytest.fixture
def intake_settings(settings, mongo_db, notify_keypair) -> IntakeSettings:
    """Intake on this test's database, its topics with six partitions."""
    common = dataclasses.replace(settings, topic_prefix=unique("part") + ".", kafka_partitions=PARTITIONS)
    ensure_topics(common)
    return IntakeSettings(common=common, receipt_key=os.urandom(32), reporter_key=os.urandom(32),
                          notify_public_key=base64.b64decode(notify_keypair[0]), db=mongo_db,
                          mongo_timeout_ms=1000, receipt_rate_limit="1000/minute", web_relay_poll_s=0.2)


def test_every_publishing_path_puts_a_clue_on_the_java_clients_partition(client, keys, intake_settings):
    common = intake_settings.common
    topic = common.topic_prefix + events.CLUE_RECEIVED
    ids = [client.post("/v1/clues", json=anonymous_clue(summary=f"clue {n}"), headers=keys["shiwan"]).json[
        "clue_id"] for n in range(24)]
    relayed = read_topic(common.kafka_bootstrap_servers, topic, expect=len(ids))

    producer = EventProducer(common)
    try:
        assert sorted(handlers.reconcile(60, producer, now=utcnow() + timedelta(seconds=61))) == sorted(ids)
        # What a consumer dead-letters goes out on the same producer, keyed by the record's key.
        for clue_id in ids:
            producer.send(events.dlq_topic(events.CLUE_RECEIVED), clue_id, b"{}", headers=[("error", b"x")])
    finally:
        producer.close()
    dead = read_topic(common.kafka_bootstrap_servers, events.dlq_topic(topic), expect=len(ids))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "MONGODB_"))},
           "KAFKA_BOOTSTRAP_SERVERS": common.kafka_bootstrap_servers, "MONGODB_URI": common.mongodb_uri,
           "KAFKA_TOPIC_PREFIX": common.topic_prefix}
    replay = CliRunner().invoke(cli.cli, ["dlq", "replay", events.CLUE_RECEIVED], env=env)
    assert replay.exit_code == 0, replay.output
    records = read_topic(common.kafka_bootstrap_servers, topic, expect=3 * len(ids))

    assert len(relayed) == len(ids) and len(records) == 3 * len(ids)  # relay, reconciler, replay
    expected = {clue_id: java_partition(clue_id) for clue_id in ids}
    assert {(r.key.decode(), r.partition) for r in records} == set(expected.items())
    assert {(r.key.decode(), r.partition) for r in dead} == set(expected.items())
    assert len(set(expected.values())) > 1  # the keys really spread over partitions
