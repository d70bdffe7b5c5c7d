"""What the running services put on the broker: each event once on the happy path, and every
record a structured-mode CloudEvent that the CloudEvents SDK's Kafka binding reads as it is."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pymongo
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat
from kafka import KafkaConsumer, TopicPartition

from shared import events
from tests.e2e.test_pipeline import case_detail, close, clue, find_case, post, wait_status
from tests.integration.shared.helpers import wait_for

pytestmark = pytest.mark.e2e

CLUES = 50
# Towns no other test of the shared pipeline posts to, with room for ten cases each: these clues
# take no cadre another test counts on.
TOWNS = ["foshan/shunde/lecong", "foshan/gaoming/yanghe", "foshan/sanshui/xinan", "foshan/sanshui/baini",
         "foshan/sanshui/leping"]


def town_clue(n: int) -> dict:
    town = TOWNS[n % len(TOWNS)]
    district = town.rsplit("/", 1)[0]
    return clue(jurisdiction=town, amount_cny=60_000 if n == 0 else 100 + n,
                subject={"name": f"线上某{uuid.uuid4().hex[:6]}", "rank": "staff",
                         "employer": f"{district}/urban-management"})


def records_of(e2e, clue_ids: set[str]) -> dict[str, list]:
    """Every record of these clues on each topic of the pipeline, read from the start."""
    prefix = e2e.pipeline.env["KAFKA_TOPIC_PREFIX"]
    consumer = KafkaConsumer(bootstrap_servers=e2e.pipeline.env["KAFKA_BOOTSTRAP_SERVERS"],
                             group_id=None, enable_auto_commit=False)
    found: dict[str, list] = {}
    try:
        for topic in events.TOPICS:
            tps = [TopicPartition(prefix + topic, p) for p in consumer.partitions_for_topic(prefix + topic)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            records: list = []
            while any(consumer.position(tp) < end[tp] for tp in tps):
                for batch in consumer.poll(timeout_ms=500).values():
                    records.extend(batch)
            found[topic] = [r for r in records if r.key and r.key.decode() in clue_ids]
    finally:
        consumer.close()
    return found


def outboxes_empty(e2e) -> bool:
    client = pymongo.MongoClient(e2e.pipeline.env["MONGODB_URI"])
    try:
        db = client[e2e.pipeline.databases["assignment"]]
        return db["cases"].find_one({"outbox_pending": True}, {"_id": 1}) is None
    finally:
        client.close()


def test_each_event_goes_out_once_and_reads_through_the_cloudevents_kafka_binding(e2e):
    posted = [post(e2e, town_clue(n), frontline=f"{TOWNS[n % len(TOWNS)]}/contact") for n in range(CLUES)]
    for item in posted[1:]:
        wait_status(e2e, item["receipt"], "accepted")
    wait_status(e2e, posted[0]["receipt"], "transferred")  # escalated: case-escalated too
    # One clue goes the whole way: closed, then the reporter objects (clue-followed-up).
    last = posted[1]
    case = find_case(e2e, last["clue_id"])
    assert case["cadre_id"], case
    close(e2e, case)
    wait_status(e2e, last["receipt"], "closed")
    resp = e2e.http.post(e2e.url("intake", "/v1/receipts/messages"), timeout=10, json={
        **last["receipt"], "message": "处理结果与事实不符", "objection": True})
    assert resp.status_code in (200, 202), resp.text
    wait_for(lambda: case_detail(e2e, case["case_id"])["status"] == "reopened", timeout=60,
             message="case reopened")
    wait_for(lambda: outboxes_empty(e2e), timeout=60, message="every outbox published")

    found = records_of(e2e, {p["clue_id"] for p in posted})
    published = Counter(json.loads(r.value)["id"] for records in found.values() for r in records)
    assert [event_id for event_id, n in published.items() if n > 1] == []
    assert len(found[events.CLUE_RECEIVED]) == CLUES
    assert len(found[events.CASE_ASSIGNED]) >= CLUES
    assert all(found[topic] for topic in events.TOPICS), {t: len(r) for t, r in found.items()}

    for topic, records in found.items():
        for record in records:
            headers = dict(record.headers)
            assert headers["content-type"] == b"application/cloudevents+json; charset=UTF-8"
            message = KafkaMessage(headers=headers, key=record.key, value=record.value)
            event = from_kafka(message, JSONFormat())
            raw = json.loads(record.value)
            assert event.get_id() == raw["id"] and event.get_type() == events.TYPES[topic]
            assert event.get_subject() == record.key.decode() == raw["subject"]
            assert event.get_data() == raw["data"]
