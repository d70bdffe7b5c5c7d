"""Intake's HTTP API against the real local database and broker (Flask test client)."""

import json
import re

import pytest

from services.intake.app import create_app
from services.intake.schemas import ClueSchema
from tests.unit.intake.clues import IDENTITY, anonymous_clue, clue

pytestmark = pytest.mark.stack


def post(client, headers, body=None, **kwargs):
    return client.post("/v1/clues", json=body if body is not None else clue(), headers=headers, **kwargs)


def test_post_then_read_by_the_poster_without_reporter_identity(client, keys):
    resp = post(client, keys["shiwan"])
    assert resp.status_code == 202, resp.json
    body = resp.json
    assert body["status"] == "received" and len(body["receipt"]["secret"]) >= 32
    assert resp.headers["Location"] == f"/v1/clues/{body['clue_id']}"
    view = client.get(f"/v1/clues/{body['clue_id']}", headers=keys["shiwan"])
    assert view.status_code == 200
    assert view.json["summary"] == clue()["summary"] and view.json["status"] == "received"
    text = view.get_data(as_text=True)
    for secret in (*IDENTITY, body["receipt"]["secret"], "reporter"):
        assert secret not in text


@pytest.mark.parametrize("who, status", [
    ("shiwan", 200), ("chancheng_supervisor", 200), ("nanhai", 404), ("nanhai_supervisor", 404),
    ("cadre", 403), (None, 401),
])
def test_read_scopes(client, keys, who, status):
    clue_id = post(client, keys["shiwan"]).json["clue_id"]
    resp = client.get(f"/v1/clues/{clue_id}", headers=keys[who] if who else {})
    assert resp.status_code == status
    assert resp.mimetype == ("application/json" if status == 200 else "application/problem+json")


def test_unknown_clue_is_404(client, keys):
    assert client.get("/v1/clues/nope", headers=keys["chancheng_supervisor"]).status_code == 404


def test_only_frontline_keys_post(client, keys):
    assert post(client, keys["chancheng_supervisor"]).status_code == 403
    assert post(client, {"Authorization": "Bearer not-a-key"}).status_code == 401
    assert post(client, {}).status_code == 401


def _changed(**top):
    return clue(**top)


BAD_INPUT = [
    ("unknown field", _changed(colour="red"), 422, "colour"),
    ("unknown nested field", clue(subject={**clue()["subject"], "age": 40}), 422, "subject.age"),
    ("bad enum", _changed(category="theft"), 422, "category"),
    ("bad rank", clue(subject={**clue()["subject"], "rank": "king"}), 422, "subject.rank"),
    ("overlong string", _changed(summary="x" * 501), 422, "summary"),
    ("overlong details", _changed(details="x" * 20_001), 422, "details"),
    ("bad date", _changed(occurred_on="2019-13-45"), 422, "occurred_on"),
    ("negative amount", _changed(amount_cny=-1), 422, "amount_cny"),
    ("amount as text", _changed(amount_cny="4645"), 422, "amount_cny"),
    ("missing contact", clue(reporter={"anonymous": False, "name": "x", "channel": "sms"}), 422,
     "reporter.phone"),
    ("bad email", clue(reporter={**clue()["reporter"], "email": "not-an-email"}), 422, "reporter.email"),
    ("missing field", {k: v for k, v in clue().items() if k != "source"}, 422, "source"),
    ("not an object", [1, 2], 422, "_body"),
]


@pytest.mark.parametrize("name, body, status, path", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_problem_with_the_field_path(client, keys, name, body, status, path):
    resp = post(client, keys["shiwan"], body)
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    assert path in resp.json["errors"], resp.json
    for secret in IDENTITY:
        assert secret not in resp.get_data(as_text=True)


@pytest.mark.parametrize("data, content_type, status", [
    (b'{"source": "observer",', "application/json", 400),
    (b"source=observer", "application/x-www-form-urlencoded", 415),
    (b'{"summary": "' + b"x" * (1024 * 1024 + 10) + b'"}', "application/json", 413),
])
def test_malformed_not_json_and_too_large(client, keys, data, content_type, status):
    resp = client.post("/v1/clues", data=data, content_type=content_type, headers=keys["shiwan"])
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json" and resp.json["status"] == status


def test_idempotency_key_replays_or_conflicts(client, keys, app):
    headers = {**keys["shiwan"], "Idempotency-Key": "batch-7/line-3"}
    first = post(client, headers)
    again = post(client, headers, json.loads(json.dumps(clue(), sort_keys=True)))
    assert first.status_code == again.status_code == 202
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other = post(client, headers, clue(summary="another clue"))
    assert other.status_code == 409 and other.mimetype == "application/problem+json"
    too_long = post(client, {**keys["shiwan"], "Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422 and "Idempotency-Key" in too_long.json["errors"]


def test_receipt_lookup_and_follow_up(client, keys):
    receipt = post(client, keys["shiwan"]).json["receipt"]
    found = client.post("/v1/receipts/lookup", json=receipt)
    assert found.status_code == 200 and found.json["status"] == "received"
    assert found.json["updates"][0]["message"].startswith("我们已收到")
    sent = client.post("/v1/receipts/messages", json={**receipt, "message": "他还收了购物卡"})
    assert sent.status_code == 202 and sent.json["status"] == "received"
    kinds = [u["kind"] for u in client.post("/v1/receipts/lookup", json=receipt).json["updates"]]
    assert kinds == ["received", "clue-followed-up"]


def test_wrong_code_and_wrong_secret_look_the_same(client, keys):
    receipt = post(client, keys["shiwan"]).json["receipt"]
    wrong_secret = client.post("/v1/receipts/lookup", json={**receipt, "secret": "guess"})
    wrong_code = client.post("/v1/receipts/lookup", json={**receipt, "code": "0000-0000-0000-0000"})
    assert wrong_secret.status_code == wrong_code.status_code == 404
    assert wrong_secret.get_data() == wrong_code.get_data()
    message = client.post("/v1/receipts/messages", json={**receipt, "secret": "guess", "message": "m"})
    assert message.status_code == 404 and message.get_data() == wrong_code.get_data()


def test_receipt_routes_are_rate_limited_per_address(intake_settings, keys):
    import dataclasses

    app = create_app(dataclasses.replace(intake_settings, receipt_rate_limit="3/minute"), start_relay=False)
    client = app.test_client()
    guess = {"code": "0000-0000-0000-0000", "secret": "guess"}
    statuses = [client.post("/v1/receipts/lookup", json=guess).status_code for _ in range(3)]
    assert statuses == [404, 404, 404]
    limited = client.post("/v1/receipts/messages", json={**guess, "message": "m"})
    assert limited.status_code == 429 and limited.mimetype == "application/problem+json"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-RateLimit-Limit"] == "3" and limited.headers["X-RateLimit-Remaining"] == "0"
    other = client.post("/v1/receipts/lookup", json=guess, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 404


def test_only_the_receipt_routes_are_limited(intake_settings, keys):
    """Posting clues never touches the limiter; each receipt route is counted."""
    import dataclasses

    app = create_app(dataclasses.replace(intake_settings, receipt_rate_limit="3/minute"), start_relay=False)
    client = app.test_client()
    for _ in range(5):
        resp = post(client, keys["shiwan"])
        assert resp.status_code == 202 and "X-RateLimit-Limit" not in resp.headers
    counters = app.extensions["receipt_limit"].storage.collection
    assert counters.count_documents({}) == 0
    lookup = client.post("/v1/receipts/lookup", json={"code": "0000-0000-0000-0000", "secret": "x"})
    assert lookup.status_code == 404 and lookup.headers["X-RateLimit-Limit"] == "3"
    assert lookup.headers["X-RateLimit-Remaining"] == "2"


def test_openapi_describes_what_the_routes_accept(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert {"/v1/clues", "/v1/clues/{clue_id}", "/v1/clues:import", "/v1/receipts/lookup",
            "/v1/receipts/messages"} <= set(spec["paths"])
    schema = spec["components"]["schemas"]["Clue"]
    assert set(schema["properties"]) == set(ClueSchema().fields)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["category"]["enum"][0] == "solicitation"
    assert {r["$ref"] for r in schema["properties"]["reporter"]["oneOf"]} == {
        "#/components/schemas/AnonymousReporter", "#/components/schemas/NamedReporter"}
    body = spec["paths"]["/v1/clues"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Clue"}
    assert "\\Z" not in json.dumps(spec)


def test_openapi_describes_every_api_route_and_no_other(app, client):
    """The /v1 routes the blueprints register and the paths /openapi.json describes are the same."""
    routed = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, operations in client.get("/openapi.json").json["paths"].items()
                 for method in operations}
    assert ("/v1/cards/{code}/feedback", "post") in routed
    assert routed == described


def test_anonymous_clue_round_trip(client, keys):
    resp = post(client, keys["shiwan"], anonymous_clue())
    assert resp.status_code == 202


def test_json_answers_are_never_cached_nor_sniffed(client, keys):
    """The 202 carries the receipt's secret: no cache (a shared proxy, the browser's) may keep it."""
    accepted = post(client, keys["shiwan"])
    problem = client.post("/v1/receipts/lookup", json={"code": "0000-0000-0000-0000", "secret": "x"})
    read = client.get(f"/v1/clues/{accepted.json['clue_id']}", headers=keys["shiwan"])
    for resp in (accepted, problem, read):
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
