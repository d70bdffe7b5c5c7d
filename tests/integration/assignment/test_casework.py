"""Casework through the public API on the real database (events to a fake broker), and a
follow-up that comes before its case through a real consumer process on the real broker."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from kafka import KafkaProducer

from services.assignment import store
from services.assignment.documents import CadreSlot, CaseAudit
from shared import events
from tests.integration.shared.helpers import wait_for
from tests.unit.assignment.sample_registries import small_registry_yaml

from .test_api import auth, client, receive  # noqa: F401 - the fixture
from .workers import Workers, clue_event, isolated, publish_clues, worker_env

pytestmark = pytest.mark.stack

TOWN = "foshan/d1/t1#commission"


def test_triage_route_supervise_and_the_allegation_through_the_api(client):  # noqa: F811
    http, app = client
    case = receive(app, "t1", jurisdiction="foshan/nowhere", summary="某人收受红包", details="细节")
    assert case["triage_reason"] == "unroutable" and case["status"] == "queued"
    city, district = auth("supervisor", "foshan"), auth("supervisor", "foshan/d1")
    url = f"/v1/cases/{case['_id']}"
    assert http.post(url + "/route", json={"unit": TOWN}, headers=district).status_code == 404
    bad = http.post(url + "/route", json={"unit": "foshan/x#commission"}, headers=city)
    assert bad.status_code == 422 and "unit" in bad.get_json()["errors"]
    assert bad.content_type == "application/problem+json"
    assert http.post(url + "/route", json={"note": "x"}, headers=city).status_code == 422
    routed = http.post(url + "/route", json={"unit": TOWN, "note": "属一街"}, headers=city)
    assert routed.status_code == 200 and routed.get_json()["unit"] == TOWN
    assert routed.get_json()["status"] == "assigned" and routed.get_json()["accepted_at"]
    assert http.post(url + "/route", json={"unit": TOWN}, headers=city).status_code == 409

    detail = http.get(url, headers=district).get_json()
    assert detail["allegation"]["summary"] == "某人收受红包" and detail["allegation"]["details"] == "细节"
    assert detail["linked_clues"] == [] and detail["follow_ups"] == []
    assert "opaque-ref" not in json.dumps(detail)

    later = events.now() + timedelta(days=30)
    supervised = http.post(
        url + "/supervise", json={"note": "限期办结", "due_at": later.isoformat()}, headers=district
    )
    assert supervised.status_code == 200 and supervised.get_json()["status"] == "supervised"
    assert supervised.get_json()["watched_by"] == "foshan/d1#commission"
    too_late = http.post(
        url + "/supervise",
        json={"note": "x", "due_at": (later + timedelta(days=365)).isoformat()},
        headers=district,
    )
    assert too_late.status_code == 422 and "due_at" in too_late.get_json()["errors"]
    outside = http.post(url + "/supervise", json={"note": "x"}, headers=auth("supervisor", "foshan/d2"))
    assert outside.status_code == 404
    spec = http.get("/openapi.json").get_json()
    assert {"/v1/cases/{case_id}/route", "/v1/cases/{case_id}/supervise"} <= set(spec["paths"])


def test_supervising_a_closed_case_is_a_conflict(client):  # noqa: F811
    http, app = client
    case = receive(app, "s1")
    cadre = auth("cadre", case["cadre_id"])
    closed = http.post(
        f"/v1/cases/{case['_id']}/close",
        headers=cadre,
        json={"disposition": "concluded", "outcomes": [], "reporter_summary": "已了结"},
    )
    assert closed.status_code == 200
    again = http.post(
        f"/v1/cases/{case['_id']}/supervise", json={"note": "x"}, headers=auth("supervisor", "foshan/d1")
    )
    assert again.status_code == 409
    # the slot went back through the journal, and nothing of it is left behind
    assert all(c.load == 0 and not c.released for c in CadreSlot.objects(unit=TOWN))
    assert store.cases().find_one({"_id": case["_id"]})["release_key"] is None


def test_a_raised_capacity_drains_the_queue_at_once(client):  # noqa: F811
    http, app = client
    for i in range(4):
        receive(app, f"q{i}", name=f"人{i}")
    assert store.cases().count_documents({"status": "queued"}) == 2
    admin = auth("admin")
    cadre = {"name": "干部1", "unit": TOWN, "role": "leader", "capacity": 3}
    assert http.put("/v1/registry/cadres/t-001", json=cadre, headers=admin).status_code == 200
    assert store.cases().count_documents({"status": "queued"}) == 0
    off = {"name": "干部1", "unit": TOWN, "role": "leader", "capacity": 3, "active": False}
    assert http.put("/v1/registry/cadres/t-001", json=off, headers=admin).status_code == 200
    # t-002 (capacity 1) is full: t-001's three cases wait in the queue, each with an audit line
    assert store.cases().count_documents({"cadre_id": "t-001"}) == 0
    assert store.cases().count_documents({"status": "queued"}) == 3
    assert CaseAudit.objects(action="reassigned").count() == 3
    assert CadreSlot.objects(id="t-001").first().load == 0
    work = http.get(f"/v1/workload?unit={quote(TOWN)}", headers=auth("supervisor", "foshan/d1")).get_json()
    assert work["queued"] == 3


def test_a_follow_up_before_its_case_waits_on_the_real_broker(stack, settings, mongo_db, tmp_path):
    """The follow-up is published before the clue: the consumer keeps it (nothing dead-lettered)
    and notes it on the case once the case comes."""
    mine = isolated(settings)
    registry = tmp_path / "registry.yaml"
    registry.write_text(small_registry_yaml([3]), encoding="utf-8")
    workers = Workers(worker_env(stack, mine, mongo_db, registry), tmp_path)
    note = events.make_event(
        events.CLUE_FOLLOWED_UP,
        {"clue_id": "early", "message": "先到的补充", "objection": False, "at": events.now()},
        source="/x",
    )
    producer = KafkaProducer(
        bootstrap_servers=mine.kafka_bootstrap_servers, acks="all", enable_idempotence=False
    )
    try:
        producer.send(
            mine.topic_prefix + events.CLUE_FOLLOWED_UP, key=b"early", value=events.encode(note)
        ).get(30)
    finally:
        producer.close()
    workers.start(1)
    try:
        kept = store.case_store()
        wait_for(lambda: kept.waiting_for(["early"]) != [], timeout=90, message="follow-up kept")
        publish_clues(mine, [clue_event("early")])
        wait_for(
            lambda: (
                kept.by_clue("early") is not None and CaseAudit.objects(action="follow_up").count() == 1
            ),
            timeout=60,
            message="follow-up noted on the case",
        )
        assert kept.waiting_for(["early"]) == []
    finally:
        codes = workers.stop()
    assert codes == [0], workers.logs()


def test_conflict_cases_are_hidden_from_the_unit_they_left(client):  # noqa: F811
    http, app = client
    case = receive(app, "k1", name="干部2")  # a cadre of the town unit
    assert case["unit"] == "foshan/d1#commission" and case["escalation_reasons"] == ["conflict"]
    assert case["cadre_id"] not in {"t-001", "t-002"}
    town = auth("supervisor", "foshan/d1/t1")
    assert http.get(f"/v1/cases/{case['_id']}", headers=town).status_code == 403
    assert http.get("/v1/cases", headers=town).get_json()["items"] == []
    for cadre in ("t-001", "t-002"):
        assert http.get(f"/v1/cases/{case['_id']}", headers=auth("cadre", cadre)).status_code == 403
    district = http.get(f"/v1/cases/{case['_id']}", headers=auth("supervisor", "foshan/d1"))
    assert district.status_code == 200 and district.get_json()["allegation"]["subject"]["name"] == "干部2"
