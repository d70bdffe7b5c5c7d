"""The registry on the HTTP API: a supervisor reads their subtree only; changes are audited with
the acting key."""

from __future__ import annotations

import pytest

from shared.auth import KeyAuditEntry

from .test_api import auth, client  # noqa: F401 - the fixture

pytestmark = pytest.mark.stack


def test_a_supervisor_reads_only_their_subtree(client):  # noqa: F811
    http, _ = client
    town = http.get("/v1/registry", headers=auth("supervisor", "foshan/d1/t1")).get_json()
    assert {j["code"] for j in town["jurisdictions"]} == {"foshan/d1/t1"}
    assert {u["code"] for u in town["units"]} == {"foshan/d1/t1#commission"}
    assert town["units"][0]["cadres"]  # their units' cadres, and no other unit's
    district = http.get("/v1/registry", headers=auth("supervisor", "foshan/d1")).get_json()
    assert "foshan" not in {j["code"] for j in district["jurisdictions"]}
    assert "foshan#commission" not in {u["code"] for u in district["units"]}
    assert {e["code"] for e in district["employers"]} == {"foshan/d1/bureau"}
    whole = http.get("/v1/registry", headers=auth("admin")).get_json()
    assert "foshan#commission" in {u["code"] for u in whole["units"]}


def test_registry_changes_are_audited_with_the_acting_key(client):  # noqa: F811
    http, _ = client
    headers = auth("admin")
    key_id = next(e.key_id for e in KeyAuditEntry.objects(action="key.issue").order_by("-at"))
    cadre = {"name": "新干部", "unit": "foshan/d1/t1#commission", "role": "handler", "capacity": 3}
    assert http.put("/v1/registry/cadres/t-new", json=cadre, headers=headers).status_code == 200
    [entry] = KeyAuditEntry.objects(action="registry.put")
    assert entry.actor == "admin" and entry.actor_key_id == key_id
    assert entry.detail["path"] == "/v1/registry/cadres/t-new"
    assert headers["Authorization"].split()[1] not in str(entry.to_mongo())
