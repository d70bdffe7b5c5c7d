"""The HTTP API on the real database (events go to a fake broker), and the CLI's registry checks."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import quote

import pytest

from services.assignment import handlers
from services.assignment.app import create_app
from services.assignment.settings import AssignmentSettings
from shared import events
from shared.auth import issue_key
from shared.fakes import FakeBroker
from tests.integration.shared.helpers import wait_for
from tests.unit.assignment.sample_registries import small_registry_yaml

from .workers import ROOT, clue_event

pytestmark = pytest.mark.stack


@pytest.fixture
def client(settings, mongo_db, tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(small_registry_yaml([1, 1]), encoding="utf-8")
    broker = FakeBroker()
    app = create_app(
        AssignmentSettings(common=settings, db=mongo_db, registry_path=str(path)),
        publisher=broker,
        connect=False,
    )
    app.extensions["broker"] = broker
    yield app.test_client(), app
    app.extensions["assignment.stop"].set()
    app.extensions["assignment.relay"].stop()
    app.extensions["assignment.relay_thread"].join(timeout=10)


def auth(role: str, scope: str = "") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_key(role, scope)}"}


def receive(app, clue_id: str, **kw) -> dict:
    ctx = app.extensions["assignment.ctx"]
    handlers.clue_received(events.decode(events.encode(clue_event(clue_id, **kw))), ctx)
    return handlers.cases().find_one({"clue_id": clue_id})


def test_case_officer_flow(client):
    http, app = client
    case = receive(app, "a1")
    mine, other = case["cadre_id"], ("t-002" if case["cadre_id"] == "t-001" else "t-001")
    listed = http.get("/v1/cases", headers=auth("cadre", mine)).get_json()
    assert [c["case_id"] for c in listed["items"]] == [case["_id"]] and listed["next"] is None
    detail = http.get(f"/v1/cases/{case['_id']}", headers=auth("supervisor", "foshan/d1"))
    assert detail.status_code == 200
    body = detail.get_json()
    assert body["audit"][-1]["action"] == "read" and body["audit"][-1]["actor"] == "supervisor:foshan/d1"
    # the opening entries, stored in the case itself on the real server, come first
    assert [a["action"] for a in body["audit"]][:2] == ["received", "assigned"]
    assert body["audit"][1]["cadre_id"] == mine
    assert "reporter_ref" not in detail.get_data(as_text=True)
    assert http.get(f"/v1/cases/{case['_id']}", headers=auth("cadre", other)).status_code == 403
    assert http.get("/v1/cases", headers=auth("frontline", "x")).status_code == 403
    assert http.get("/v1/cases").status_code == 401

    close = f"/v1/cases/{case['_id']}/close"
    good = {
        "disposition": "preliminary_verification",
        "outcomes": ["admonition_talk", "restitution"],
        "reporter_summary": "已核实并处理",
    }
    bad = http.post(close, json={**good, "disposition": "burn_it"}, headers=auth("cadre", mine))
    assert bad.status_code == 422 and "disposition" in bad.get_json()["errors"]
    assert (
        http.post(close, json={**good, "outcomes": ["nope"]}, headers=auth("cadre", mine)).status_code == 422
    )
    assert http.post(close, json=good, headers=auth("cadre", other)).status_code == 403
    assert (
        http.post(close, data="{", content_type="application/json", headers=auth("cadre", mine)).status_code
        == 400
    )
    ok = http.post(close, json=good, headers=auth("cadre", mine))
    assert ok.status_code == 200 and ok.get_json()["status"] == "closed"
    again = http.post(close, json=good, headers=auth("cadre", mine))
    assert again.status_code == 409 and again.content_type == "application/problem+json"


def test_escalate_workload_stats_and_openapi(client):
    http, app = client
    case = receive(app, "b1")
    receive(app, "b2", name="别人")
    receive(app, "b3", name="第三人")
    boss = auth("supervisor", "foshan/d1")
    assert http.post(f"/v1/cases/{case['_id']}/escalate", json={}, headers=boss).status_code == 422
    moved = http.post(f"/v1/cases/{case['_id']}/escalate", json={"reason": "领导批示"}, headers=boss)
    assert moved.status_code == 200 and moved.get_json()["unit"] == "foshan/d1#commission"
    work = http.get(f"/v1/workload?unit={quote('foshan/d1/t1#commission')}", headers=boss).get_json()
    assert work["capacity"] == 2 and sum(c["load"] for c in work["cadres"]) == 2 and work["queued"] == 0
    figures = http.get("/v1/stats", headers=boss).get_json()
    assert figures["received"] == 3 and figures["escalated"]["by_reason"] == {"manual": 1}
    assert http.get("/v1/stats?jurisdiction=foshan", headers=boss).status_code == 403
    assert http.get("/v1/stats?from=yesterday", headers=boss).status_code == 422
    spec = http.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0" and "/v1/cases/{case_id}/close" in spec["paths"]
    broker = app.extensions["broker"]
    # The relay thread publishes the escalation right after the response (no linger: it wakes on the commit).
    wait_for(lambda: {e.data["clue_id"] for e in broker.events(events.CASE_ESCALATED)} >= {"b1"},
             timeout=10, message="case-escalated published")


def test_registry_admin_endpoints_validate_like_the_file(client):
    http, app = client
    admin = auth("admin")
    cadre = {"name": "新干部", "unit": "foshan/d1/t1#commission", "role": "handler", "capacity": 3}
    assert http.put("/v1/registry/cadres/t-new", json=cadre, headers=admin).status_code == 200
    assert (
        http.put("/v1/registry/cadres/t-new", json=cadre, headers=auth("supervisor", "foshan")).status_code
        == 403
    )
    bad = http.put("/v1/registry/cadres/t-bad", json={**cadre, "capacity": 0}, headers=admin)
    assert bad.status_code == 422 and "capacity" in bad.get_json()["detail"]
    unknown = http.put(
        "/v1/registry/cadres/t-bad", json={**cadre, "unit": "nowhere#commission"}, headers=admin
    )
    assert unknown.status_code == 422
    town = {"name": "二街", "level": "town", "parent": "foshan/d1"}
    assert http.put("/v1/registry/jurisdictions/foshan/d1/t2", json=town, headers=admin).status_code == 422
    unit = {"name": "二街纪工委", "jurisdiction": "foshan/d1/t2", "kind": "commission"}
    whole = http.get("/v1/registry", headers=admin).get_json()
    whole["jurisdictions"].append({"code": "foshan/d1/t2", **town})
    whole["units"].append({"code": "foshan/d1/t2#commission", **unit, "cadres": []})
    listed = http.put("/v1/registry", json=[whole], headers=admin)
    assert listed.status_code == 422 and listed.get_json()["errors"] == {"_body": ["must be an object"]}
    assert http.put("/v1/registry", json=whole, headers=admin).status_code == 200
    app.extensions["assignment.registry_cache"].invalidate()
    case = receive(app, "r1", jurisdiction="foshan/d1/t2")
    assert case["unit"] == "foshan/d1/t2#commission" and case["status"] == "queued"
    assert any(
        c["id"] == "t-new"
        for u in http.get("/v1/registry", headers=admin).get_json()["units"]
        for c in u["cadres"]
    )


def run_cli(stack, *args: str, db: str = "cli_check") -> subprocess.CompletedProcess:
    env = {**os.environ, **stack.env(), "ASSIGNMENT_DB": db}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_registry_file_fails_with_file_line_and_reason(stack, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(small_registry_yaml([1]).replace("capacity: 1}", "capacity: -2}"), encoding="utf-8")
    result = run_cli(stack, "registry", "load", str(path))
    assert result.returncode != 0
    assert f"{path}:" in result.stderr and "capacity" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    good = tmp_path / "good.yaml"
    good.write_text(small_registry_yaml([1]), encoding="utf-8")
    ok = run_cli(stack, "registry", "load", str(good), db=f"cli_{os.getpid()}")
    assert ok.returncode == 0 and "1 cadres" not in ok.stderr and "registry loaded" in ok.stdout
