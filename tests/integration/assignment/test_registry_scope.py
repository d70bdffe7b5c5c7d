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


def test_a_registry_loaded_at_the_command_line_is_audited(stack, tmp_path):
    import os

    import pymongo

    from tests.unit.assignment.sample_registries import small_registry_yaml

    from .test_api import run_cli

    path = tmp_path / "registry.yaml"
    path.write_text(small_registry_yaml([1]), encoding="utf-8")
    db = f"cli_audit_{os.getpid()}"
    mongo = pymongo.MongoClient(stack.mongodb_uri)
    try:
        assert run_cli(stack, "registry", "load", str(path), db=db).returncode == 0
        [entry] = list(mongo[db].key_audit.find())
        assert entry["action"] == "registry.load" and entry["actor"].startswith("cli")
        assert entry["detail"]["path"] == str(path)
    finally:
        mongo.drop_database(db)
        mongo.close()
