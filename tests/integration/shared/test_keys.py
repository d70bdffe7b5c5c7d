"""API keys on the real database: expiry, last use, the cache that holds valid keys only, the
failed-authentication limit, custom token strength, and the audit of issues and revocations."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from flask import Flask, jsonify

from shared import auth
from shared.auth import ApiKey, KeyAuditEntry, KeyCache, digest, issue_key, new_token, revoke_key
from shared.mongo import utcnow
from shared.problems import register_error_handlers

pytestmark = pytest.mark.stack


def test_an_unknown_key_is_not_cached(mongo_db):
    cache = KeyCache(ttl_s=60)
    token = new_token()
    assert cache.get(digest(token)) is None
    issue_key("frontline", "u/contact", token=token)  # issued a moment later: works at once
    assert cache.get(digest(token)) is not None


def test_random_tokens_never_push_a_valid_key_out(mongo_db):
    cache = KeyCache(ttl_s=60, size=3)
    token = issue_key("admin")
    assert cache.get(digest(token)) is not None
    for _ in range(50):
        assert cache.get(digest(new_token())) is None
    ApiKey._get_collection().delete_one({"_id": digest(token)})
    assert cache.get(digest(token)) is not None  # still served from the cache: not evicted
    assert len(cache._items) == 1


def test_an_expired_key_stops_working(mongo_db):
    live = issue_key("admin", expires_at=utcnow() + timedelta(days=1))
    dead = issue_key("admin", expires_at=utcnow() - timedelta(seconds=1))
    cache = KeyCache(ttl_s=0)
    assert cache.get(digest(live)) is not None and cache.get(digest(dead)) is None


def test_last_use_is_written_at_most_once_a_minute(mongo_db):
    token = issue_key("admin")
    cache = KeyCache(ttl_s=0)
    cache.get(digest(token))
    first = ApiKey._get_collection().find_one({"_id": digest(token)})["last_used_ms"]
    assert abs(first - time.time() * 1000) < 60_000
    ApiKey._get_collection().update_one({"_id": digest(token)}, {"$set": {"last_used_ms": 1}})
    for _ in range(5):
        cache.get(digest(token))
    assert ApiKey._get_collection().find_one({"_id": digest(token)})["last_used_ms"] == 1
    cache._written[digest(token)] -= 61  # a minute later
    cache.get(digest(token))
    assert ApiKey._get_collection().find_one({"_id": digest(token)})["last_used_ms"] > 1


@pytest.mark.parametrize("token, ok", [
    ("x" * 64, False),
    ("given-token-" + "x" * 30, False),
    ("short-but-varied-AB12", False),
    ("abcdefghijklmnopqrstuvwxyzABCDEF", True),
    ("abcdefghijklmno pqrstuvwxyzABCDEF", False),
    (new_token(), True),
])
def test_custom_tokens_must_be_strong(mongo_db, token, ok):
    if ok:
        assert issue_key("admin", token=token) == token
    else:
        with pytest.raises(ValueError, match="custom token"):
            issue_key("admin", token=token)
        assert ApiKey.objects.count() == 0


def test_issuing_and_revoking_are_audited_without_the_token(mongo_db):
    token = issue_key("cadre", "c-1", label="ops", actor="admin", actor_key_id="k" * 64)
    revoke_key(token, actor="cli:ops")
    issued, revoked = KeyAuditEntry.objects.order_by("at")
    assert (issued.action, issued.actor, issued.actor_key_id, issued.key_id) == (
        "key.issue", "admin", "k" * 64, digest(token))
    assert issued.detail["role"] == "cadre" and issued.detail["scope"] == "c-1"
    assert (revoked.action, revoked.actor, revoked.key_id) == ("key.revoke", "cli:ops", digest(token))
    assert token not in str([e.to_mongo() for e in KeyAuditEntry.objects])


def test_failed_authentications_are_limited_per_client(mongo_db, monkeypatch):
    monkeypatch.setattr(auth, "_failures", auth.FailedAuthentications(limit=5))
    monkeypatch.setattr(auth, "_cache", KeyCache())
    app = Flask("t")
    register_error_handlers(app)

    @app.get("/x")
    @auth.require("admin")
    def x():
        return jsonify(ok=True)

    client = app.test_client()
    good = {"Authorization": f"Bearer {issue_key('admin')}"}

    def call(headers, addr="198.51.100.1"):
        return client.get("/x", headers=headers, environ_base={"REMOTE_ADDR": addr})

    bad = {"Authorization": f"Bearer {new_token()}"}
    assert [call(bad).status_code for _ in range(5)] == [401] * 5
    refused = call(good)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert call(good, addr="198.51.100.2").status_code == 200  # another client is not affected
    assert call(bad, addr="2001:db8::1").status_code == 401
