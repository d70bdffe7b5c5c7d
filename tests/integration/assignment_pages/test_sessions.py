"""Workspace sessions: random server-side ids kept as digests, deleted at sign-out, in Flask's
session signed with WORKSPACE_SECRET_KEY; nothing in the database signs anyone in."""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib

import pytest
from mongoengine.connection import get_db

from services.assignment.app import create_app
from services.assignment.sessions import SESSION_COOKIE
from services.assignment.settings import AssignmentSettings
from shared.auth import digest, issue_key
from shared.fakes import FakeBroker
from shared.settings import Env, SettingsError

from .workspace import post_form, sign_in

pytestmark = pytest.mark.stack


def _payload(value: str) -> dict:
    """What Flask's signed (not encrypted) session cookie carries."""
    compressed = value.startswith(".")
    body = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return json.loads(zlib.decompress(raw) if compressed else raw)


def test_the_session_is_a_random_id_stored_as_a_digest(http):
    token = sign_in(http, "cadre", "t-001")
    value = http.get_cookie(SESSION_COOKIE, path="/workspace").value
    session_id = _payload(value)["sid"]
    assert len(session_id) >= 40 and digest(token) not in value
    stored = list(get_db()["workspace_sessions"].find())
    assert [d["_id"] for d in stored] == [digest(session_id)]  # its digest, never the id
    assert stored[0]["key_id"] == digest(token)
    assert get_db()["workspace_secrets"].count_documents({}) == 0  # no signing key kept


def test_sign_out_deletes_the_session_so_a_copied_cookie_stops_working(http, app):
    sign_in(http, "cadre", "t-001")
    copied = http.get_cookie(SESSION_COOKIE, path="/workspace").value
    assert post_form(http, "/workspace/cases", "/workspace/sign-out", {}).status_code == 303
    assert get_db()["workspace_sessions"].count_documents({}) == 0
    thief = app.test_client()
    thief.set_cookie(SESSION_COOKIE, copied, path="/workspace")
    assert thief.get("/workspace/cases").status_code == 303  # to the sign-in page


def _app(settings, mongo_db, tmp_path, **changes):
    from tests.unit.assignment.sample_registries import small_registry_yaml

    path = tmp_path / "other-registry.yaml"
    path.write_text(small_registry_yaml([3, 3]), encoding="utf-8")
    common = dataclasses.replace(settings, **changes.pop("common", {}))
    return create_app(AssignmentSettings(common=common, db=mongo_db, registry_path=str(path), **changes),
                      publisher=FakeBroker(), connect=False)


def _stop(app):
    app.extensions["assignment.stop"].set()
    app.extensions["assignment.relay"].stop()


def test_a_cookie_signed_with_another_key_is_refused(http, settings, mongo_db, tmp_path):
    sign_in(http, "cadre", "t-001")
    value = http.get_cookie(SESSION_COOKIE, path="/workspace").value
    other = _app(settings, mongo_db, tmp_path, session_key=b"k" * 32)
    try:
        client = other.test_client()
        client.set_cookie(SESSION_COOKIE, value, path="/workspace")
        assert client.get("/workspace/cases").status_code == 303
    finally:
        _stop(other)


def test_cookies_are_secure_in_production(settings, mongo_db, tmp_path):
    prod = _app(settings, mongo_db, tmp_path, common={"production": True}, session_key=b"p" * 32)
    try:
        client = prod.test_client()
        token = issue_key("cadre", "t-001")
        resp = post_form(client, "/workspace/sign-in", "/workspace/sign-in", {"key": token})
        cookies = resp.headers.getlist("Set-Cookie")
        assert any(c.startswith(SESSION_COOKIE + "=") and "; Secure" in c for c in cookies)
        assert all("; Secure" in c for c in cookies)
    finally:
        _stop(prod)


BASE = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "MONGODB_URI": "mongodb://127.0.0.1:27017"}


@pytest.mark.parametrize("env, error", [
    ({"CAMPAIGN_ENV": "production"}, "WORKSPACE_SECRET_KEY: is not set"),
    ({"CAMPAIGN_ENV": "production", "WORKSPACE_SECRET_KEY": "short"},
     "WORKSPACE_SECRET_KEY: must be 32 bytes"),
    ({"WORKSPACE_SECRET_KEY": "short"}, "WORKSPACE_SECRET_KEY: must be 32 bytes"),
])
def test_the_session_key_setting_fails_in_one_line(env, error):
    with pytest.raises(SettingsError) as caught:
        AssignmentSettings.from_env(Env({**BASE, **env}))
    assert str(caught.value).startswith(error) and "\n" not in str(caught.value)
    assert "short" not in str(caught.value)


def test_a_development_stack_without_the_setting_still_starts():
    assert AssignmentSettings.from_env(Env(BASE)).session_key is None
    key = base64.b64encode(b"s" * 32).decode()
    assert AssignmentSettings.from_env(Env({**BASE, "WORKSPACE_SECRET_KEY": key})).session_key == b"s" * 32


def test_guessing_keys_at_the_sign_in_form_is_limited(http, monkeypatch):
    from shared import auth

    monkeypatch.setattr(auth, "_failures", auth.FailedAuthentications(limit=3))
    for _ in range(3):
        resp = post_form(http, "/workspace/sign-in", "/workspace/sign-in", {"key": auth.new_token()})
        assert resp.status_code == 401
    token = issue_key("cadre", "t-001")
    refused = post_form(http, "/workspace/sign-in", "/workspace/sign-in", {"key": token})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert get_db()["workspace_sessions"].count_documents({}) == 0
