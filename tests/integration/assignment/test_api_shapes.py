"""The answers of the case officers' API and the practice API as flask-smorest dumps them through
their response schemas: every field the handlers give is still served (a schema that forgot one
would drop it), and bad input is answered with the project's problem+json, never smorest's body."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
import schemathesis

from services.assignment import consumer, duty_store, handlers, reports, review
from shared import events
from shared.auth import Principal

from .test_api import auth, client  # noqa: F401 - the fixture
from .workers import clue_event

pytestmark = pytest.mark.stack
BUREAU = "foshan/d1/bureau"
CASE = set(
    "accepted_at amount_cny amount_total_cny assigned_at cadre_id case_id category closed_at clue_id "
    "collusion disposition due_at escalation_reasons jurisdiction lead_cadre_id linked_clue_ids outcomes "
    "overdue received_at reopened_at reporter_summary review route_mode routed_unit serious source status "
    "subject_employer subject_name subject_position subject_rank supervised_at triage_reason unit "
    "watched_by".split()
)
DETAIL = CASE | set("allegation audit cadres duties escalations follow_ups linked_clues unit_name".split())
NETWORK = set("assisting_units cases created_at lead_unit lead_unit_name network_id parties why".split())
RECOMMENDATION = set(
    "answer answered_on bureau bureau_name due_on issued_at issued_by kind quarter recommendation_id "
    "status text year".split()
)
WORKLOAD_CADRE = set("active cadre_id capacity leads load name open_cases role".split())
QUARTER_ROW = set("bureau bureau_name by_category by_outcome cases closed".split())
UNIT = set("cadres code jurisdiction kind name serves_employer".split())


def receive(app, clue_id: str, **kw) -> dict:
    ctx = app.extensions["assignment.ctx"]
    consumer.received([events.decode(events.encode(clue_event(clue_id, **kw)))], ctx, one=True)
    return handlers.cases().find_one({"clue_id": clue_id})


class Conforming:
    """GET and POST whose answers must match the response schema /openapi.json gives them."""

    def __init__(self, http) -> None:
        self.http, self.spec = http, schemathesis.openapi.from_dict(http.get("/openapi.json").get_json())

    def __call__(self, method: str, template: str, path: str | None = None, **kw):
        resp = getattr(self.http, method.lower())(path or template, **kw)
        self.spec[template.split("?")[0]][method].validate_response(resp)
        return resp


def _network_case(app) -> dict:
    parties = [{"kind": "firm", "name": f"环保公司{i}"} for i in range(3)]
    return receive(app, "n1", name="卢某", parties=parties,
                   subject={"name": "许某", "employer": BUREAU, "rank": "staff"})


def test_case_answers_keep_every_field(client):  # noqa: F811
    http, app = client
    case, admin, served = _network_case(app), auth("admin"), Conforming(http)
    listed = served("GET", "/v1/cases", headers=admin).get_json()
    assert listed["next"] is None and [set(c) for c in listed["items"]] == [CASE]
    detail = served("GET", "/v1/cases/{case_id}", f"/v1/cases/{case['_id']}", headers=admin).get_json()
    assert set(detail) == DETAIL and detail["serious"] is True  # stored as 1, answered as a boolean
    assert {a["action"] for a in detail["audit"]} >= {"received", "escalated", "read"}
    assert detail["received_at"].endswith("+00:00") and set(detail["escalations"][0]) == {
        "from_unit", "to_unit", "mode", "reasons", "at", "actor", "note"}
    close = {"disposition": "shelved", "outcomes": ["unfounded"], "reporter_summary": "查无实据"}
    closed = served("POST", "/v1/cases/{case_id}/close", f"/v1/cases/{case['_id']}/close", json=close,
                    headers=auth("cadre", "city-1"))
    assert closed.status_code == 200 and set(closed.get_json()) == CASE
    assert closed.get_json()["status"] == "closed"
    workload = served("GET", "/v1/workload?unit=foshan%23commission", headers=admin).get_json()
    assert set(workload) == {"unit", "cadres", "queued", "capacity"}
    assert [set(c) for c in workload["cadres"]] == [WORKLOAD_CADRE] * len(workload["cadres"])
    registry = served("GET", "/v1/registry", headers=admin).get_json()
    assert registry["units"] and all(set(u) == UNIT for u in registry["units"])


def test_practice_answers_keep_every_field(client):  # noqa: F811
    http, app = client
    case, supervisor, served = _network_case(app), auth("supervisor", "foshan/d1"), Conforming(http)
    shown = served("GET", "/v1/cases/{case_id}/map", f"/v1/cases/{case['_id']}/map", headers=auth("admin"))
    shown = shown.get_json()
    assert {n["label"] for n in shown["nodes"]} >= {"许某", "环保公司0"}
    assert shown["edges"][0][0] == shown["centre"]
    networks = served("GET", "/v1/networks", headers=supervisor).get_json()
    assert [set(n) for n in networks["items"]] == [NETWORK] and networks["next"] is None
    one = served("GET", "/v1/networks/{network_id}", f"/v1/networks/{networks['items'][0]['network_id']}",
                 headers=supervisor).get_json()
    assert one == networks["items"][0]
    due_on = str(date.today() + timedelta(60))
    rec = {"bureau": BUREAU, "kind": "supervision", "text": "整改", "due_on": due_on}
    issued = served("POST", "/v1/recommendations", json=rec, headers=supervisor)
    assert issued.status_code == 201 and set(issued.get_json()) == RECOMMENDATION
    rid = issued.get_json()["recommendation_id"]
    answer = {"answer": "已整改", "answered_on": str(date.today())}
    answered = served("POST", "/v1/recommendations/{recommendation_id}/answer",
                      f"/v1/recommendations/{rid}/answer", json=answer, headers=supervisor).get_json()
    assert answered["answer"] == "已整改" and answered["due_on"] == rec["due_on"]
    assert http.get(f"/v1/recommendations/{rid}", headers=supervisor).get_json() == answered
    listed = served("GET", "/v1/recommendations", headers=supervisor).get_json()
    assert listed == {"items": [answered], "next": None}
    quarter = served("GET", "/v1/bureaus/quarter", headers=supervisor).get_json()
    assert {"year", "quarter", "items", "next"} == set(quarter)
    assert [set(r) for r in quarter["items"]] == [QUARTER_ROW]


STATS_ROW = set(
    "accepted closed closed_by_disposition closed_by_outcome days_to_accept days_to_close duties_missed "
    "escalated escalated_by_reason jurisdiction name overdue received supervised".split()
)
STATS = set(
    "accepted bases closed days_to_accept days_to_close duties_missed escalated from jurisdiction overdue "
    "quarters queued received supervised to".split()
)
DUTY = set(
    "case_id channel clue_id due_at duty_id failed_at failure jurisdiction kind kind_label met_at state "
    "unit unit_name".split()
)
BATCH = set("batch_id by_unit closed deadline in_hand name overdue reviews total".split())


def _as_served(app, answer):
    """An answer as the app's JSON provider writes it: what the route gave before any schema."""
    return app.json.loads(app.json.dumps(answer))


def test_casework_answers_keep_every_field(client):  # noqa: F811
    http, app = client
    case, served = receive(app, "t1", jurisdiction="foshan/nowhere"), Conforming(http)
    url, city = f"/v1/cases/{case['_id']}", auth("supervisor", "foshan")
    routed = served("POST", "/v1/cases/{case_id}/route", url + "/route",
                    json={"unit": "foshan/d1/t1#commission"}, headers=city)
    assert routed.status_code == 200 and set(routed.get_json()) == CASE
    assert routed.get_json()["status"] == "assigned" and routed.get_json()["review"] is False
    assert routed.get_json()["serious"] is False  # 0 in the updated case: a boolean, as in every case answer
    due_at = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    supervised = served("POST", "/v1/cases/{case_id}/supervise", url + "/supervise",
                        json={"note": "限期办结", "due_at": due_at.isoformat()},
                        headers=auth("supervisor", "foshan/d1"))
    assert supervised.status_code == 200 and set(supervised.get_json()) == CASE
    assert supervised.get_json()["status"] == "supervised"
    assert datetime.fromisoformat(supervised.get_json()["due_at"]) == due_at


def test_report_answers_keep_every_field(client):  # noqa: F811
    http, app = client
    deadline = datetime.now(UTC) + timedelta(days=90)
    batch = {"source": "review", "batch": {"id": "b-1", "name": "大起底", "deadline": deadline},
             "original_unit": "foshan/d1/t1#commission", "prior_disposition": "handled"}
    receive(app, "r1", anonymous=False, reporter_contact_sealed="sealed", **batch)
    _network_case(app)
    boss, served = auth("supervisor", "foshan/d1"), Conforming(http)
    principal, ctx = Principal("supervisor", "foshan/d1", "k"), app.extensions["assignment.ctx"]
    stats = served("GET", "/v1/stats", headers=boss).get_json()
    assert set(stats) == STATS and stats["received"] == 2 and stats["escalated"]["cases"] == 1
    rows = [*stats["bases"]["handled"]["rows"], stats["bases"]["received"]["total"]]
    assert len(rows) > 2 and [set(r) for r in rows] == [STATS_ROW] * len(rows)
    with app.app_context():
        assert stats == _as_served(app, reports.report(principal, ctx.registry(), ctx.clock()))
    listed = served("GET", "/v1/duties", headers=boss).get_json()
    assert listed["next"] is None and [set(d) for d in listed["items"]] == [DUTY] * 2
    with app.app_context():
        assert listed == _as_served(app, duty_store.list_duties(principal, ctx.registry(), ctx.clock()))
    batches = served("GET", "/v1/review-batches", headers=boss).get_json()
    assert [set(b) for b in batches["items"]] == [BATCH] and batches["next"] is None
    one = served("GET", "/v1/review-batches/{batch_id}", f"/v1/review-batches/{quote('b-1')}", headers=boss)
    assert one.get_json() == batches["items"][0] and one.get_json()["by_unit"][0]["reviews"] == 1
    with app.app_context():
        assert one.get_json() == _as_served(app, review.batch("b-1", principal, ctx.registry(), ctx.clock()))
    table = served("GET", "/v1/stats.csv?quarter=2025Q4", headers=boss)
    assert table.mimetype == "text/csv" and table.headers["Content-Disposition"] == (
        'attachment; filename="stats-foshan-d1-2025Q4.csv"')


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status and body["type"] == "about:blank"
    return body


def test_bad_input_is_answered_with_problem_json(client):  # noqa: F811
    http, app = client
    admin, supervisor = auth("admin"), auth("supervisor", "foshan/d1")
    bad = _problem(Conforming(http)("GET", "/v1/cases?limit=0&status=lost", headers=admin), 422)
    assert set(bad["errors"]) == {"limit", "status"} and bad["detail"] == "some fields are invalid"
    assert set(_problem(http.get("/v1/cases?colour=red", headers=admin), 422)["errors"]) == {"colour"}
    assert _problem(http.get("/v1/workload", headers=admin), 422)["errors"] == {"unit": ["required"]}
    assert _problem(http.get("/v1/workload?unit=", headers=admin), 422)["errors"] == {"unit": ["required"]}
    url = "/v1/recommendations"
    missing = _problem(http.post(url, json={"bureau": BUREAU, "extra": 1}, headers=supervisor), 422)
    assert set(missing["errors"]) == {"kind", "text", "due_on", "extra"}
    not_object = _problem(http.post(url, json=[1], headers=supervisor), 422)
    assert not_object["errors"] == {"_body": ["must be an object"]}
    _problem(http.post(url, data="{", content_type="application/json", headers=supervisor), 400)
    _problem(http.post(url, data="x", content_type="text/plain", headers=supervisor), 415)
    _problem(http.post(url, json={"x": 1}), 401)  # the key is checked before the body
    for moved in ("/v1/cases/x/route", "/v1/cases/x/supervise"):  # and before the moved routes' bodies
        _problem(http.post(moved, data="{", content_type="application/json"), 401)
        assert _problem(http.post(moved, json=[1], headers=supervisor), 422)["errors"] == {
            "_body": ["must be an object"]}
    for query in ("/v1/stats?quarter=2025Q5", "/v1/duties?limit=0", "/v1/stats.csv?colour=red"):
        _problem(http.get(query), 401)  # the key is checked before the query
    assert _problem(http.get("/v1/stats?quarter=2025Q5&colour=red", headers=admin), 422)["errors"] == {
        "quarter": ["Must be a quarter such as 2026Q4."], "colour": ["Unknown field."]}
    assert set(_problem(http.get("/v1/duties?limit=0&state=late", headers=admin), 422)["errors"]) == {
        "limit", "state"}
    too_many = _problem(http.get("/v1/stats.xlsx?from=2001-01-01T00:00:00Z", headers=admin), 422)
    assert too_many["errors"] == {"from": ["at most 40 quarters at once"]}
    _problem(http.put("/v1/registry/owners/x", json={}, headers=admin), 404)
    cadre = {"name": "新", "unit": "nowhere#commission", "role": "cadre", "capacity": 1}
    unknown_unit = _problem(http.put("/v1/registry/cadres/t-x", json=cadre, headers=admin), 422)
    assert "registry" in unknown_unit["errors"]


def test_the_spec_comes_from_the_schemas(client):  # noqa: F811
    http, _ = client
    spec = http.get("/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    close = spec["paths"]["/v1/cases/{case_id}/close"]["post"]
    assert close["security"] == [{"bearer": []}]
    assert close["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/CaseView")
    problem = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    assert problem["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    assert {"/v1/registry/cadres/{key}", "/v1/recommendations/{recommendation_id}/answer",
            "/v1/cases/{case_id}/route", "/v1/stats"} <= set(spec["paths"])
    for path in ("/v1/cases/{case_id}/route", "/v1/cases/{case_id}/supervise"):
        operation = spec["paths"][path]["post"]
        assert operation["security"] == [{"bearer": []}]
        answer = operation["responses"]["200"]["content"]["application/json"]
        assert answer["schema"]["$ref"].endswith("/CaseView")
        assert {"404", "409", "422"} <= set(operation["responses"])
    for path, schema in (("/v1/stats", "StatsReport"), ("/v1/duties", "DutyPage"),
                         ("/v1/review-batches", "ReviewBatchPage"),
                         ("/v1/review-batches/{batch_id}", "ReviewBatchView")):
        answer = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"]["$ref"].endswith(f"/{schema}"), path
    stats_query = {p["name"] for p in spec["paths"]["/v1/stats.csv"]["get"]["parameters"]}
    assert stats_query == {"jurisdiction", "quarter", "from", "to"}
    assert "text/csv" in spec["paths"]["/v1/stats.csv"]["get"]["responses"]["200"]["content"]
    listing = spec["paths"]["/v1/cases"]["get"]["parameters"]
    assert {p["name"] for p in listing} == {"status", "unit", "cadre", "overdue", "limit", "cursor"}


def _refusal(status: int, title: str, detail: str, errors: dict | None = None) -> dict:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return {**body, "errors": errors} if errors else body


def test_the_practice_api_refusals_keep_their_problem_json(client):  # noqa: F811
    http, app = client
    case = _network_case(app)
    supervisor, town = auth("supervisor", "foshan/d1"), auth("supervisor", "foshan/d1/t1")
    assert _problem(http.get("/v1/networks/nope", headers=supervisor), 404) == _refusal(
        404, "Not Found", "no such network")
    assert _problem(http.get("/v1/cases/nope/map", headers=supervisor), 404) == _refusal(
        404, "Not Found", "no such case")
    assert _problem(http.get(f"/v1/cases/{case['_id']}/map", headers=town), 403) == _refusal(
        403, "Forbidden", "this case is outside your scope")
    due_on = str(date.today() + timedelta(60))
    rec = {"bureau": BUREAU, "kind": "supervision", "text": "整改", "due_on": due_on}
    url = "/v1/recommendations"
    assert _problem(http.post(url, json={**rec, "bureau": "foshan/x"}, headers=supervisor), 422) == _refusal(
        422, "Unprocessable Content", "unknown bureau", {"bureau": ["Unknown bureau."]})
    assert _problem(http.post(url, json=rec, headers=town), 403) == _refusal(
        403, "Forbidden", "that bureau is outside your jurisdiction")
    past = {**rec, "due_on": str(date.today() - timedelta(1))}
    assert _problem(http.post(url, json=past, headers=supervisor), 422) == _refusal(
        422, "Unprocessable Content", "invalid deadline", {"due_on": ["Must not be in the past."]})
    assert _problem(http.get(f"{url}/nope", headers=supervisor), 404) == _refusal(
        404, "Not Found", "no such recommendation")
    rid = http.post(url, json=rec, headers=supervisor).get_json()["recommendation_id"]
    answer = {"answer": "已整改", "answered_on": str(date.today() + timedelta(2))}
    assert _problem(http.post(f"{url}/{rid}/answer", json=answer, headers=supervisor), 422) == _refusal(
        422, "Unprocessable Content", "invalid date", {"answered_on": ["Must not be in the future."]})
    answer["answered_on"] = str(date.today())
    assert http.post(f"{url}/{rid}/answer", json=answer, headers=supervisor).status_code == 200
    assert _problem(http.post(f"{url}/{rid}/answer", json=answer, headers=supervisor), 409) == _refusal(
        409, "Conflict", "the bureau's answer is recorded already")
