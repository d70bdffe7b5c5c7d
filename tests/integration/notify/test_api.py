"""GET /v1/notifications: admin only, newest first, cursor pages, attempts, no contact details."""

from __future__ import annotations

import pytest

from services.notify import handlers
from services.notify.app import create_app
from services.notify.delivery import Deliverer
from shared.auth import issue_key
from tests.unit.notify.events_factory import (
    case_assigned,
    case_closed,
    case_escalated,
    clue_received,
    decoded,
)

from .conftest import PUBLIC, make_settings
from .test_pipeline import clue, sealed

pytestmark = pytest.mark.stack

EMAIL = "li@example.org"


@pytest.fixture
def client(settings, mongo_db, monkeypatch):
    monkeypatch.setattr("services.notify.app.mongo.connect", lambda *args, **kwargs: None)
    notify_settings = make_settings(settings, mongo_db)
    return create_app(notify_settings).test_client(), notify_settings


def test_lists_newest_first_in_cursor_pages_with_attempts(client):
    app, notify_settings = client
    c, other = clue(1), clue(2)
    contact = sealed({"name": "李某", "channel": "inbox", "email": EMAIL}, PUBLIC)
    for envelope in (clue_received(c, contact), case_assigned(c), case_escalated(c), case_closed(c),
                     clue_received(other, None)):
        event = decoded(envelope)
        handlers.HANDLERS[event.topic](event)
    deliverer = Deliverer(notify_settings)
    assert deliverer.run_once() == 5
    deliverer.close()
    auth = {"Authorization": f"Bearer {issue_key('admin')}"}
    seen, cursor = [], None
    while True:
        url = f"/v1/notifications?clue_id={c}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = app.get(url, headers=auth).get_json()
        seen.extend(body["items"])
        cursor = body["next"]
        if cursor is None:
            break
    assert [i["kind"] for i in seen] == ["closed", "transferred", "accepted", "received"]
    first = seen[0]
    assert (first["status"], first["channel"], first["attempt_count"]) == ("sent", "inbox", 1)
    assert first["attempts"][0]["status"] == "sent" and first["sent_at"]
    assert "处理结果" in first["text"]
    text = str(seen)
    assert EMAIL not in text and "李某" not in text and contact[:30] not in text
    everything = app.get("/v1/notifications", headers=auth).get_json()
    assert len(everything["items"]) == 5


@pytest.mark.parametrize(
    ("role", "scope", "query", "status"),
    [
        (None, None, "", 401),
        ("cadre", "cadre-1", "", 403),
        ("supervisor", "foshan", "", 403),
        ("admin", "", "?limit=0", 422),
        ("admin", "", "?limit=501", 422),
        ("admin", "", "?cursor=%%%", 422),
        ("admin", "", "?limit=2", 200),
    ],
)
def test_auth_and_bad_queries(client, role, scope, query, status):
    app, _ = client
    headers = {"Authorization": f"Bearer {issue_key(role, scope)}"} if role else {}
    response = app.get("/v1/notifications" + query, headers=headers)
    assert response.status_code == status
    if status != 200:
        assert response.content_type == "application/problem+json"


def test_openapi_documents_the_list(client):
    app, _ = client
    spec = app.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    operation = spec["paths"]["/v1/notifications"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"clue_id", "limit", "cursor"}
    assert "NotificationList" in spec["components"]["schemas"]


def test_the_spec_comes_from_the_schemas_and_bad_input_is_problem_json(client):
    app, _ = client
    spec = app.get("/openapi.json").get_json()
    operation = spec["paths"]["/v1/notifications"]["get"]
    assert spec["openapi"] == "3.1.0" and operation["security"] == [{"bearer": []}]
    assert {p["name"]: p["schema"].get("maximum") for p in operation["parameters"]} == {
        "clue_id": None, "limit": 500, "cursor": None}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NotificationList"}
    unprocessable = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    assert unprocessable == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    auth = {"Authorization": f"Bearer {issue_key('admin')}"}
    for query, field in (("limit=0", "limit"), ("colour=red", "colour"), ("cursor=x", "cursor")):
        answer = app.get(f"/v1/notifications?{query}", headers=auth)
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", query
        assert list(answer.get_json()["errors"]) == [field]
    assert app.get("/v1/notifications?limit=0").status_code == 401  # no key: 401 before the query's 422
