"""Intake's answers as flask-smorest dumps them through their response schemas: each one matches the
response schema /openapi.json gives it, every field the routes give is still served (a schema that
forgot one would drop it), and bad input is answered with the project's problem+json in the same
order as before (the key, then the Idempotency-Key, then the body)."""

from __future__ import annotations

import copy
import json

import pytest
import schemathesis
from flask import Flask, Response, request

from tests.unit.intake.clues import clue

pytestmark = pytest.mark.stack
UM = "foshan/nanhai/urban-management"
RECEIPT = {"clue_id", "status", "received_at", "receipt"}
CLUE = set(
    "acknowledged amount_cny category clue_id collusion details frontline_unit jurisdiction occurred_on "
    "parties received_at source status subject summary updates".split()
)
UPDATE = {"at", "kind", "message", "message_zh", "message_en"}
FUNNEL = {"issued", "opinions", "led_to_case", "closed", "outcomes"}
BATCH = set(
    "batch_id bureau bureau_name place_kind jurisdiction count first_number last_number label created_at "
    "sheet_url funnel".split()
)
OBSERVER = {"observer_id", "town", "background", "liaison_cadre_id", "active", "created_at"}
TOWN = set("town town_name observers active by_background reports led_to_case closed outcomes".split())


class Conforming:
    """Requests whose answers must match the response schema /openapi.json gives them."""

    def __init__(self, http) -> None:
        self.http, self.doc = http, http.get("/openapi.json").get_json()
        self.spec = schemathesis.openapi.from_dict(self.doc)

    def __call__(self, method: str, template: str, path: str | None = None, **kw):
        resp = getattr(self.http, method.lower())(path or template, **kw)
        self.spec[template][method].validate_response(resp)
        return resp

    def lines(self, template: str, resp) -> list[dict]:
        """The NDJSON lines of `resp` to POST `template`, each matching its documented schema (checked
        as the JSON answer of a copy of the spec, since a checker reads one JSON document)."""
        doc = copy.deepcopy(self.doc)
        answer = doc["paths"][template]["post"]["responses"]["200"]
        answer["content"] = {"application/json": answer["content"]["application/x-ndjson"]}
        operation = schemathesis.openapi.from_dict(doc)[template]["POST"]
        echo = Flask("echo")
        echo.post("/")(lambda: Response(request.get_data(), mimetype="application/json"))
        found = []
        for line in resp.get_data(as_text=True).splitlines():
            operation.validate_response(echo.test_client().post("/", data=line))
            found.append(json.loads(line))
        return found


def test_clue_and_receipt_answers_keep_every_field(client, keys):
    served = Conforming(client)
    key = {**keys["shiwan"], "Idempotency-Key": "shapes-1"}
    posted = served("POST", "/v1/clues", json=clue(), headers=key)
    assert posted.status_code == 202 and set(posted.get_json()) == RECEIPT
    assert posted.headers["Location"] == f"/v1/clues/{posted.get_json()['clue_id']}"
    again = served("POST", "/v1/clues", json=clue(), headers=key)
    assert again.get_json() == posted.get_json() and again.headers["Idempotent-Replayed"] == "true"
    clue_id, receipt = posted.get_json()["clue_id"], posted.get_json()["receipt"]
    shown = served("GET", "/v1/clues/{clue_id}", f"/v1/clues/{clue_id}", headers=keys["shiwan"]).get_json()
    assert set(shown) == CLUE and set(shown["subject"]) == set(clue()["subject"]) | {"party_member"}
    assert [set(u) for u in shown["updates"]] == [UPDATE] and shown["received_at"].endswith("+00:00")
    looked = served("POST", "/v1/receipts/lookup", json=receipt).get_json()
    assert set(looked) == {"status", "updates"} and [set(u) for u in looked["updates"]] == [UPDATE]
    told = served("POST", "/v1/receipts/messages", json={**receipt, "message": "他还收了手机"})
    assert told.status_code == 202 and set(told.get_json()) == {"status", "at"}


def test_an_import_answers_one_result_per_line(client, keys):
    served = Conforming(client)
    body = "\n".join([json.dumps(clue()), "{", json.dumps({**clue(), "colour": "red"})]).encode()
    resp = client.post("/v1/clues:import?batch=b1&deadline=2030-01-01T00:00:00%2B08:00", data=body,
                       content_type="application/x-ndjson", headers=keys["chancheng_supervisor"])
    assert resp.status_code == 200 and resp.mimetype == "application/x-ndjson"
    accepted, malformed, unknown = served.lines("/v1/clues:import", resp)
    assert set(accepted) == {"line", "result", "code", "replayed"} | RECEIPT
    assert (malformed["code"], unknown["errors"]) == (400, {"colour": ["Unknown field."]})
    half = client.post("/v1/clues:import?batch=b1", data=b"", content_type="application/x-ndjson",
                       headers=keys["shiwan"])
    assert half.status_code == 422 and half.get_json()["errors"] == {
        "deadline": ["Missing data for required field."]}


def test_card_and_observer_answers_keep_every_field(client, keys):
    served, supervisor = Conforming(client), keys["nanhai_supervisor"]
    batch = served("POST", "/v1/card-batches", json={"bureau": UM, "place_kind": "shop", "count": 2},
                   headers=supervisor)
    assert batch.status_code == 201 and set(batch.get_json()) == BATCH
    batch_id = batch.get_json()["batch_id"]
    detail = served("GET", "/v1/card-batches/{batch_id}", f"/v1/card-batches/{batch_id}",
                    headers=supervisor).get_json()
    assert set(detail) == BATCH | {"cards"} and set(detail["funnel"]) == FUNNEL
    code = detail["cards"][0]["code"]
    card = served("GET", "/v1/cards/{code}", f"/v1/cards/{code}").get_json()
    assert set(card) == {"code", "number", "bureau", "bureau_name", "place_kind", "jurisdiction"}
    opinion = served("POST", "/v1/cards/{code}/feedback", f"/v1/cards/{code}/feedback",
                     json={"summary": "执法拖延", "reporter": {"anonymous": True}})
    assert opinion.status_code == 202 and set(opinion.get_json()) == RECEIPT
    listed = served("GET", "/v1/card-batches", headers=supervisor).get_json()
    assert [set(b) for b in listed["items"]] == [BATCH] and listed["next"] is None
    funnel = served("GET", "/v1/card-batches/funnel", headers=supervisor).get_json()
    assert [set(b) for b in funnel["items"]] == [FUNNEL | {"bureau", "bureau_name"}]
    assert funnel["items"][0]["opinions"] == 1
    town = {"town": "foshan/chancheng/shiwan", "background": "merchant", "liaison_cadre_id": "c-shiwan-1",
            "identity": {"name": "阿文"}}
    made = served("POST", "/v1/observers", json=town, headers=keys["chancheng_supervisor"])
    assert made.status_code == 201 and set(made.get_json()) == OBSERVER | {"observer_key"}
    report = {"category": "solicitation", "summary": "收红包", "subject": {"name": "许某", "rank": "staff"}}
    posted = served("POST", "/v1/observer-reports", json=report,
                    headers={"Authorization": f"Bearer {made.get_json()['observer_key']}"})
    assert posted.status_code == 202 and set(posted.get_json()) == RECEIPT
    roster = served("GET", "/v1/observers", headers=keys["chancheng_supervisor"]).get_json()
    assert [set(o) for o in roster["items"]] == [OBSERVER]
    summary = served("GET", "/v1/observers/summary", headers=keys["chancheng_supervisor"]).get_json()
    assert [set(r) for r in summary["items"]] == [TOWN] and summary["items"][0]["reports"] == 1


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status and body["type"] == "about:blank"
    return body


def test_bad_input_is_answered_in_the_same_order(client, keys):
    served = Conforming(client)
    malformed = {"data": "{", "content_type": "application/json"}
    _problem(client.post("/v1/clues", **malformed), 401)
    bad_key = {**keys["shiwan"], "Idempotency-Key": "x" * 201}
    first = _problem(client.post("/v1/clues", **malformed, headers=bad_key), 422)
    assert set(first["errors"]) == {"Idempotency-Key"}
    _problem(client.post("/v1/clues", **malformed, headers=keys["shiwan"]), 400)
    _problem(client.post("/v1/clues", data="x", content_type="text/plain", headers=keys["shiwan"]), 415)
    surrogate = b'{"summary": "\\ud800"}'
    _problem(client.post("/v1/clues", data=surrogate, content_type="application/json",
                         headers=keys["shiwan"]), 400)
    listed = _problem(client.post("/v1/clues", json=[1], headers=keys["shiwan"]), 422)
    assert listed["errors"] == {"_body": ["must be an object"]}
    invalid = _problem(served("POST", "/v1/clues", json=clue(colour="red", amount_cny="5"),
                              headers=keys["shiwan"]), 422)
    assert invalid == {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
                       "detail": "some fields are invalid",
                       "errors": {"colour": ["Unknown field."], "amount_cny": ["Not a valid integer."]}}
    ndjson = _problem(client.post("/v1/clues:import?colour=red", json={}, headers=keys["shiwan"]), 415)
    assert ndjson["detail"] == "send the body as application/x-ndjson"
    query = _problem(client.post("/v1/clues:import?colour=red", data=b"", content_type="application/x-ndjson",
                                 headers=keys["shiwan"]), 422)
    assert set(query["errors"]) == {"colour", "batch", "deadline"}
    unknown = _problem(client.post("/v1/cards/NOSUCHCODE/feedback", json={"x": 1}), 404)
    assert unknown["detail"] == "no card has this code"


def test_the_spec_comes_from_the_schemas(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["title"] == "Intake: clues and receipts"
    post = spec["paths"]["/v1/clues"]["post"]
    assert post["security"] == [{"bearer": []}]
    assert post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/ClueAccepted")
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
    problems = {"400", "401", "403", "404", "409", "413", "415", "422", "429", "503"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():  # every problem+json answer, as before
            assert {code for code in operation["responses"] if code >= "400"} == problems, (path, method)
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]["content"]["application/problem+json"]
    assert unauthorized["schema"]["$ref"] == "#/components/schemas/Problem"
    assert spec["paths"]["/v1/receipts/lookup"]["post"]["security"] == []
    imported = spec["paths"]["/v1/clues:import"]["post"]
    assert {p["name"] for p in imported["parameters"]} == {"Idempotency-Key", "batch", "deadline"}
    assert "application/x-ndjson" in imported["responses"]["200"]["content"]
    assert spec["components"]["schemas"]["CardBatchBody"]["additionalProperties"] is False
    card = spec["paths"]["/v1/cards/{code}"]["get"]
    assert card["parameters"] == [{"name": "code", "in": "path", "required": True,
                                   "schema": {"type": "string", "minLength": 1, "maxLength": 40}}]
