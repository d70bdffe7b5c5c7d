"""keys issue / revoke against the real database: the issued key authenticates, a revoked one not."""

from __future__ import annotations

import pymongo
import pytest
from click.testing import CliRunner

from shared import cli
from shared.auth import KeyCache, digest


@pytest.fixture
def databases(cli_env, stack):
    client = pymongo.MongoClient(stack.mongodb_uri)
    yield {svc: client[cli_env[name]] for svc, (name, _) in cli.DB_SETTINGS.items()}
    for name, _ in cli.DB_SETTINGS.values():
        client.drop_database(cli_env[name])
    client.close()


def invoke(env, *args):
    return CliRunner().invoke(cli.cli, list(args), env=env)


@pytest.mark.parametrize(("role", "scope", "services"), [
    ("frontline", "foshan/chancheng/shiwan/contact", {"intake"}),
    ("supervisor", "foshan/chancheng", {"intake", "assignment"}),
    ("admin", "", {"intake", "assignment", "notify"}),
])
def test_issue_stores_one_key_in_each_service_that_accepts_the_role(cli_env, databases, role, scope,
                                                                    services):
    result = invoke(cli_env, "keys", "issue", role, *([scope] if scope else []), "--label", "ops")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(token) >= 40
    for svc, db in databases.items():
        doc = db.api_keys.find_one({"_id": digest(token)})
        if svc in services:
            assert doc["role"] == role and doc["scope"] == scope and doc["label"] == "ops"
            assert doc["revoked"] is False and doc["created_at"] is not None
        else:
            assert doc is None


def test_the_issued_key_authenticates_and_stops_when_revoked(cli_env, databases, mongo_db):
    env = {**cli_env, "INTAKE_DB": mongo_db}  # the default mongoengine alias reads this database
    token = invoke(env, "keys", "issue", "frontline", "foshan/nanhai/dali/contact").stdout.strip()
    principal = KeyCache(ttl_s=0).get(digest(token))
    assert principal is not None
    assert (principal.role, principal.scope) == ("frontline", "foshan/nanhai/dali/contact")

    result = invoke(env, "keys", "revoke", token)
    assert result.exit_code == 0, result.output
    assert "intake: revoked" in result.output and "notify: no such key" in result.output
    assert KeyCache(ttl_s=0).get(digest(token)) is None


def test_a_given_token_is_stored_and_revoked_by_digest(cli_env, databases):
    result = invoke(cli_env, "keys", "issue", "cadre", "c-shiwan-1", "--token", "given-token-" + "x" * 30)
    assert result.stdout.strip() == "given-token-" + "x" * 30
    key_id = digest("given-token-" + "x" * 30)
    assert databases["assignment"].api_keys.find_one({"_id": key_id})["role"] == "cadre"

    assert invoke(cli_env, "keys", "revoke", key_id).exit_code == 0
    # (the local stand-in stores a $set boolean as 1; MongoDB as true)
    assert bool(databases["assignment"].api_keys.find_one({"_id": key_id})["revoked"]) is True


def test_revoking_an_unknown_key_exits_1(cli_env, databases):
    result = invoke(cli_env, "keys", "revoke", "never-issued")
    assert result.exit_code == 1
    assert "no service knows that key" in result.output
