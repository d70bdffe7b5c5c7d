"""Intake's events on the real broker: relay, confidentiality, consumer and reconciler."""

import json
import logging
import threading
from datetime import timedelta

import pytest

from services.intake import handlers
from services.intake.consumer import build_consumer
from services.intake.documents import Clue, ClueUpdate
from shared import events
from shared.kafka import EventProducer
from shared.logs import JsonFormatter
from shared.mongo import ProcessedEvent, utcnow
from shared.sealing import load_key, open_sealed
from tests.integration.shared.helpers import read_topic, unique, wait_for
from tests.unit.intake.clues import IDENTITY, anonymous_clue, clue

pytestmark = pytest.mark.stack


def topic_records(settings, topic, clue_id, expect):
    records = read_topic(settings.common.kafka_bootstrap_servers, settings.common.topic_prefix + topic,
                         expect=expect)
    return [r for r in records if r.key.decode() == clue_id]


def test_no_reporter_identity_in_logs_or_events(client, keys, intake_settings, notify_keypair, caplog):
    caplog.set_level(logging.DEBUG)
    resp = client.post("/v1/clues", json=clue(), headers=keys["shiwan"])
    assert resp.status_code == 202
    clue_id, receipt = resp.json["clue_id"], resp.json["receipt"]
    bad = clue(reporter={**clue()["reporter"], "email": IDENTITY[0]})  # identity in a bad field
    assert client.post("/v1/clues", json=bad, headers=keys["shiwan"]).status_code == 422
    assert client.post("/v1/receipts/messages", json={**receipt, "message": "补充"}).status_code == 202
    client.get(f"/v1/clues/{clue_id}", headers=keys["shiwan"])
    records = topic_records(intake_settings, events.CLUE_RECEIVED, clue_id, expect=1)
    records += topic_records(intake_settings, events.CLUE_FOLLOWED_UP, clue_id, expect=1)
    assert len(records) == 2
    formatter = JsonFormatter("intake")
    captured = "\n".join(formatter.format(r) for r in caplog.records)
    published_text = "\n".join(r.value.decode() for r in records)
    for secret in IDENTITY:
        assert secret not in captured
        assert secret not in published_text
    data = events.decode(records[0].value).data
    contact = open_sealed(data["reporter_contact_sealed"], load_key(notify_keypair[1], "private"))
    assert contact["phone"] == "+8613812345678"


def test_relay_publishes_each_clue_at_once_and_no_write_marks_it_sent(client, keys, intake_settings):
    ids = [client.post("/v1/clues", json=anonymous_clue(summary=f"clue {n}"), headers=keys["shiwan"]).json[
        "clue_id"] for n in range(5)]
    records = read_topic(intake_settings.common.kafka_bootstrap_servers,
                         intake_settings.common.topic_prefix + events.CLUE_RECEIVED, expect=5)
    assert sorted(r.key.decode() for r in records) == sorted(ids)
    stored = {d["_id"]: d for d in Clue._get_collection().find({"_id": {"$in": ids}})}
    for record in records:  # each the event its clue holds, and the clue pending until acknowledged
        clue_doc = stored[record.key.decode()]
        assert events.decode(record.value).raw == json.loads(events.encode(handlers.received_event(clue_doc)))
        assert clue_doc["acknowledged"] is False and "outbox" not in clue_doc


def test_reconciler_republishes_until_a_case_event_acknowledges(client, keys, intake_settings):
    common = intake_settings.common
    clue_id = client.post("/v1/clues", json=clue(), headers=keys["shiwan"]).json["clue_id"]
    assert len(topic_records(intake_settings, events.CLUE_RECEIVED, clue_id, expect=1)) == 1
    producer = EventProducer(common)
    assert clue_id in handlers.reconcile(60, producer, now=utcnow() + timedelta(seconds=61))
    # And again a minute later (the time it went out is stored in a form this database compares).
    assert clue_id not in handlers.reconcile(60, producer, now=utcnow() + timedelta(seconds=62))
    assert clue_id in handlers.reconcile(60, producer, now=utcnow() + timedelta(seconds=125))
    records = topic_records(intake_settings, events.CLUE_RECEIVED, clue_id, expect=3)
    assert len(records) == 3
    assert records[0].value == records[1].value == records[2].value  # consumers drop the repeats

    now = utcnow()
    producer.publish(events.make_event(events.CASE_ASSIGNED, {
        "case_id": "case-9", "clue_id": clue_id, "unit": "shiwan-jgw", "cadre_id": "c-1",
        "due_at": now + timedelta(days=90), "assigned_at": now}, source="/services/assignment"))
    loop = build_consumer(common, producer, group_id=unique("intake"))
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: Clue.objects.get(id=clue_id).acknowledged, timeout=60, message="acknowledged")
    finally:
        stop.set()
        thread.join(timeout=15)
    assert Clue.objects.get(id=clue_id).status == "accepted"
    assert clue_id not in handlers.reconcile(60, producer, now=utcnow() + timedelta(hours=1))
    lookup = client.post("/v1/receipts/lookup", json=client.post(
        "/v1/clues", json=clue(), headers=keys["shiwan"]).json["receipt"])
    assert lookup.status_code == 200
    assert json.dumps(lookup.json).count("shiwan-jgw") == 0


def test_a_backlog_of_case_events_is_taken_a_poll_at_a_time(client, keys, intake_settings):
    """40 clues' case events waiting before the consumer starts (one poll takes them all): each
    clue acknowledged with the status its events lead to, repeats and strays changing nothing."""
    common = intake_settings.common
    ids = [client.post("/v1/clues", json=clue(), headers=keys["shiwan"]).json["clue_id"] for _ in range(40)]
    now = utcnow()

    def case_event(topic, clue_id, **data):
        return events.make_event(topic, {"case_id": "case-" + clue_id, "clue_id": clue_id, **data},
                                 source="/services/assignment")

    assigned = [case_event(events.CASE_ASSIGNED, i, unit="u", cadre_id="c-1", due_at=now, assigned_at=now)
                for i in ids]
    closed = [case_event(events.CASE_CLOSED, i, disposition="concluded", outcomes=["unfounded"],
                         reporter_summary="查无实据", closed_at=now) for i in ids[:10]]
    stray = case_event(events.CASE_ASSIGNED, "not-ours", unit="u", cadre_id="c-1", due_at=now,
                       assigned_at=now)
    producer = EventProducer(common)
    for envelope in [*assigned, *closed, *assigned[:5], stray]:  # five delivered twice
        producer.publish(envelope)
    group = unique("intake")
    loop = build_consumer(common, producer, group_id=group)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: Clue.objects(id__in=ids, acknowledged=True).count() == 40, timeout=60,
                 message="every clue acknowledged")
    finally:
        stop.set()
        thread.join(timeout=15)
    assert {c.id: c.status for c in Clue.objects(id__in=ids)} == {
        i: "closed" if i in ids[:10] else "accepted" for i in ids}
    assert ClueUpdate.objects(clue_id__in=ids).count() == 50  # accepted 40, closed 10
    assert ClueUpdate.objects(clue_id="not-ours").count() == 0
    marks = [f"{group}:{e['id']}" for e in [*assigned, *closed, stray]]
    assert ProcessedEvent.objects(id__in=marks).count() == 51
