"""/metrics after some traffic, on the real database and broker: queue length per unit, overdue
cases, outbox backlog, consumer lag, events produced and consumed (a worker's METRICS_PORT too)."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from services.assignment import handlers
from services.assignment.app import create_app
from services.assignment.consumer import group_id
from services.assignment.settings import AssignmentSettings
from shared import events
from shared.fakes import FakeBroker
from shared.mongo import utcnow
from shared.outbox import LEASE_S
from shared.times import to_ms
from tests.integration.assignment.workers import Workers, clue_event, isolated, publish_clues, worker_env
from tests.integration.shared.helpers import wait_for
from tests.unit.assignment.sample_registries import small_registry_yaml

pytestmark = pytest.mark.stack
TOWN = "foshan/d1/t1#commission"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """(sample name, labels) -> value of a Prometheus text exposition."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float | None:
    return scraped.get((name, frozenset(labels.items())))


@pytest.fixture
def registry_file(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(small_registry_yaml([1, 1]), encoding="utf-8")
    return path


@pytest.fixture
def quiet_app(settings, mongo_db, registry_file):
    """The assignment app on topics of its own, its relay thread stopped so outboxes stay pending."""
    common = isolated(settings)
    broker = FakeBroker()
    app = create_app(
        AssignmentSettings(common=common, db=mongo_db, registry_path=str(registry_file)),
        publisher=broker,
        connect=False,
    )
    app.extensions["assignment.stop"].set()
    app.extensions["assignment.relay"].stop()
    app.extensions["assignment.relay_thread"].join(timeout=10)
    yield app


def receive(app, clue_id: str, **kw) -> dict:
    handlers.clue_received(
        events.decode(events.encode(clue_event(clue_id, **kw))), app.extensions["assignment.ctx"]
    )
    return handlers.cases().find_one({"clue_id": clue_id})


def test_assignment_metrics_after_traffic(quiet_app):
    app, http = quiet_app, quiet_app.test_client()
    made = [receive(app, f"m{i}") for i in range(5)]
    late = made[0]
    handlers.cases().update_one(
        {"_id": late["_id"]}, {"$set": {"due_at": to_ms(utcnow() - timedelta(days=1))}}
    )
    settings_common = app.extensions["assignment.metrics"]["lag"].compute.__self__.settings
    publish_clues(settings_common, [clue_event(f"unconsumed{i}") for i in range(3)])
    assert http.get("/workspace/sign-in").status_code == 200

    scraped = samples(http.get("/metrics").get_data(as_text=True))
    queued = handlers.cases().count_documents({"status": "queued", "unit": TOWN})
    assert queued == 3
    assert value(scraped, "assignment_queue_length", unit=TOWN) == queued
    assert value(scraped, "assignment_queue_length", unit="foshan/d1#commission") == 0
    assert value(scraped, "assignment_overdue_cases", unit=TOWN) == 1
    pending = handlers.cases().count_documents({"outbox_pending": True})
    assert pending == 5 and value(scraped, "outbox_backlog", collection="cases") == pending
    group = group_id(AssignmentSettings(common=settings_common))
    assert value(scraped, "consumer_lag", group=group, topic=events.CLUE_RECEIVED) == 3
    assert value(scraped, "consumer_lag", group=group, topic=events.CLUE_FOLLOWED_UP) == 0
    assert (
        value(scraped, "http_requests_total", service="assignment", route="/workspace/sign-in", status="200")
        >= 1
    )
    assert (
        "http_request_seconds_count",
        frozenset({"service": "assignment", "route": "/workspace/sign-in"}.items()),
    ) in scraped

    before = value(scraped, "events_produced_total", topic=events.CASE_ASSIGNED) or 0
    relay = app.extensions["assignment.relay"]
    assert relay.publish_pending(at=time.time() + LEASE_S) == 5  # as the backstop, leases run out
    again = samples(http.get("/metrics").get_data(as_text=True))
    assert value(again, "outbox_backlog", collection="cases") == pending  # cached for a few seconds
    assert value(again, "events_produced_total", topic=events.CASE_ASSIGNED) == before + 5
    for cache in app.extensions["assignment.metrics"].values():
        cache.expire()
    fresh = samples(http.get("/metrics").get_data(as_text=True))
    assert value(fresh, "outbox_backlog", collection="cases") == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_consumer_serves_its_counters_on_metrics_port(stack, settings, mongo_db, registry_file, tmp_path):
    common = isolated(settings)
    port = _free_port()
    workers = Workers(
        {**worker_env(stack, common, mongo_db, registry_file), "METRICS_PORT": str(port)}, tmp_path
    )
    workers.start(1)
    try:
        publish_clues(common, [clue_event(f"w{i}") for i in range(2)])
        group = group_id(AssignmentSettings(common=common))

        def handled() -> float | None:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except requests.RequestException:
                return None
            return value(
                samples(text),
                "events_consumed_total",
                group=group,
                topic=events.CLUE_RECEIVED,
                outcome="handled",
            )

        wait_for(
            lambda: handled() == 2, timeout=60, message=f"2 handled records on :{port}\n{workers.logs()}"
        )

        def produced() -> float:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            return value(samples(text), "events_produced_total", topic=events.CASE_ASSIGNED)

        # The relay thread publishes what the handlers staged just after they return.
        wait_for(lambda: produced() == 2, timeout=30, message="2 case-assigned events produced")
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        assert (
            "event_handler_seconds_count",
            frozenset({"group": group, "topic": events.CLUE_RECEIVED}.items()),
        ) in samples(text)
    finally:
        assert workers.stop() == [0]
