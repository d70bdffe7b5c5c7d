"""Intake's and notify's /metrics: outbox backlog per collection, intake's unacknowledged clues,
and consumer lag per topic."""

from __future__ import annotations

import dataclasses
import os

import pytest
from kafka import KafkaProducer

from services.intake.documents import Clue, FollowUp
from services.notify.app import create_app as create_notify_app
from services.notify.settings import NotifySettings
from shared import events, mongo
from shared.kafka import ensure_topics
from tests.integration.intake.conftest import app, client, intake_settings, keys, notify_keypair  # noqa: F401
from tests.integration.shared.helpers import unique

from .test_scrape import samples, value

pytestmark = pytest.mark.stack


def put_records(common, topic: str, n: int) -> None:
    """n records on `topic` (behind the prefix) that no consumer reads here."""
    producer = KafkaProducer(
        bootstrap_servers=common.kafka_bootstrap_servers, acks="all", enable_idempotence=False
    )
    try:
        for i in range(n):
            producer.send(common.topic_prefix + topic, key=f"k{i}".encode(), value=b"{}").get(timeout=30)
    finally:
        producer.close()


def test_intake_metrics_count_pending_outboxes_unacknowledged_clues_and_the_group_lag(
        app, client, intake_settings):  # noqa: F811
    common = intake_settings.common
    put_records(common, events.CASE_CLOSED, 2)
    # The app's relay would publish (and so clear) the pending outboxes below at its next polling
    # round, 0.2 s here, maybe before the scrape: stop it first.
    app.extensions["intake_relay_stop"].set()
    app.extensions["intake"].outbox.stop()
    for thread in app.extensions["intake_relay"]:
        thread.join(timeout=10)
    FollowUp._get_collection().insert_many(
        [{"_id": unique("fu"), "outbox": [], "outbox_pending": True, "outbox_version": 0} for _ in range(2)]
    )
    Clue._get_collection().insert_many(
        [{"_id": unique("clue"), "acknowledged": acked} for acked in (False, False, False, True)]
    )
    before = samples(client.get("/metrics").get_data(as_text=True))
    for _ in range(3):
        client.get("/healthz")
    scraped = samples(client.get("/metrics").get_data(as_text=True))
    healthz = {"service": "intake", "route": "/healthz", "status": "200"}
    counted = value(before, "http_requests_total", **healthz) or 0
    assert value(scraped, "http_requests_total", **healthz) == counted + 3
    assert value(scraped, "outbox_backlog", collection="follow_ups") == 2
    assert value(scraped, "outbox_backlog", collection="clues") is None  # a clue has no outbox
    assert value(scraped, "intake_clues_unacknowledged") == 3
    group = common.topic_prefix + "intake"
    assert value(scraped, "consumer_lag", group=group, topic=events.CASE_CLOSED) == 2
    assert value(scraped, "consumer_lag", group=group, topic=events.CASE_ASSIGNED) == 0


def test_notify_metrics_show_the_group_lag(settings):
    common = dataclasses.replace(settings, topic_prefix=unique("nt") + ".")
    ensure_topics(common)
    put_records(common, events.CLUE_RECEIVED, 4)
    db = unique("notify_metrics").replace("-", "_")
    notify = create_notify_app(
        NotifySettings(common=common, private_key=os.urandom(32), webhook_secret=os.urandom(32), db=db)
    )
    try:
        scraped = samples(notify.test_client().get("/metrics").get_data(as_text=True))
    finally:
        mongo.me.get_connection().drop_database(db)
        mongo.me.disconnect()
    group = common.topic_prefix + "notify"
    assert value(scraped, "consumer_lag", group=group, topic=events.CLUE_RECEIVED) == 4
    assert value(scraped, "consumer_lag", group=group, topic=events.CASE_CLOSED) == 0
