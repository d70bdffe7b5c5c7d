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


GIVEN = "given-Token-0123456789-abcdefghijkLMNOP"


def test_a_given_token_is_stored_and_revoked_by_digest(cli_env, databases):
    result = invoke(cli_env, "keys", "issue", "cadre", "c-shiwan-1", "--token", GIVEN)
    assert result.stdout.strip() == GIVEN
    key_id = digest(GIVEN)
    assert databases["assignment"].api_keys.find_one({"_id": key_id})["role"] == "cadre"

    assert invoke(cli_env, "keys", "revoke", key_id).exit_code == 0
    # (the local stand-in stores a $set boolean as 1; MongoDB as true)
    assert bool(databases["assignment"].api_keys.find_one({"_id": key_id})["revoked"]) is True


def test_revoking_an_unknown_key_exits_1(cli_env, databases):
    result = invoke(cli_env, "keys", "revoke", "never-issued")
    assert result.exit_code == 1
    assert "no service knows that key" in result.output


def test_a_weak_given_token_is_refused(cli_env, databases):
    result = invoke(cli_env, "keys", "issue", "cadre", "c-shiwan-1", "--token", "given-token-" + "x" * 30)
    assert result.exit_code == 2 and "different characters" in result.output
    assert all(db.api_keys.count_documents({}) == 0 for db in databases.values())


def test_list_shows_keys_without_tokens_and_the_audit_names_the_operator(cli_env, databases):
    token = invoke(cli_env, "keys", "issue", "supervisor", "foshan/chancheng", "--label", "ops",
                   "--expires-days", "30").stdout.strip()
    invoke(cli_env, "keys", "issue", "admin")
    assert invoke(cli_env, "keys", "revoke", token).exit_code == 0
    result = invoke(cli_env, "keys", "list")
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    mine = [line for line in lines if line[1] == digest(token)[:16]]
    assert {line[0] for line in mine} == {"intake", "assignment"}
    assert all(line[2:5] == ["supervisor", "foshan/chancheng", "revoked"] for line in mine)
    assert all(line[5].startswith("expires=20") and line[7] == "ops" for line in mine)
    assert {line[0] for line in lines if line[2] == "admin"} == {"intake", "assignment", "notify"}
    assert token not in result.output
    actions = [(d["action"], d["actor"]) for d in databases["assignment"].key_audit.find().sort("at", 1)]
    assert [a for a, _ in actions] == ["key.issue", "key.issue", "key.revoke"]
    assert all(actor.startswith("cli") for _, actor in actions)


def test_webhook_secret_prints_the_recipients_own_secret(cli_env):
    from shared.sealing import webhook_recipient_secret

    env = {**cli_env, "NOTIFY_WEBHOOK_SECRET": "master-secret"}
    result = invoke(env, "keys", "webhook-secret", "https://hooks.example.net/a")
    assert result.exit_code == 0
    assert result.stdout.strip() == webhook_recipient_secret(b"master-secret", "https://hooks.example.net/a").decode()
    assert result.stdout != invoke(env, "keys", "webhook-secret", "https://hooks.example.net/b").stdout
    missing = invoke({k: v for k, v in cli_env.items() if k != "NOTIFY_WEBHOOK_SECRET"}, "keys",
                     "webhook-secret", "https://x.example/")
    assert missing.exit_code == 2 and "NOTIFY_WEBHOOK_SECRET" in missing.output
