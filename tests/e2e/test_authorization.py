"""Every endpoint of the three services against every principal, expecting API.md's codes.

One row per (endpoint, principal). The principals sit around one clue posted by the shiwan contact
point (authz_helpers.py): no key, a revoked key, a malformed key, a good key in the wrong scheme,
frontline of this unit / another, the cadre holding the case / another, supervisors above (city,
district), of the case's own town, beside (another district) and of a sibling town, and admin.

What the services do, read from their code, and how it sits with API.md:
- Each service keeps its own api_keys, and a role's keys are issued only to the services that
  accept that role (deploy/devstack.py ROLE_SERVICES, shared/cli.py): a frontline key sent to
  assignment, or a cadre/supervisor key sent to notify, is an unknown key there, so 401, not 403.
- Intake hides clues out of scope (GET /v1/clues/{id}: 404, the same as a missing clue).
  Assignment answers 403 for a case out of scope and 404 for a missing one (API.md: "403 wrong role
  or scope"), so there a case id's existence is visible to any cadre or supervisor key.
- Rows whose allowed call changes the case (close, escalate) work on a fresh case each; the rows
  that must be refused work on the shared case, which therefore stays as it was for every row.
- Registry PUTs by the admin write back what GET /v1/registry returned (no change in effect).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.authz_helpers import (
    JURISDICTION,
    PRINCIPALS,
    UNIT,
    World,
    build_world,
    expect,
    listed,
    ndjson,
)
from tests.e2e.test_pipeline import clue

pytestmark = pytest.mark.e2e

SEES_THE_CASE = {"cadre_owner", "supervisor_city", "supervisor_district", "supervisor_town", "admin"}


@dataclass(frozen=True)
class Endpoint:
    """One route as a row of the table: how to call it, and what each principal gets."""

    name: str
    service: str
    method: str
    path: Callable[[World, dict], str]
    codes: dict[str, int]
    body: Callable[[World, dict], dict[str, Any]] = lambda world, case: {}
    mutates: bool = False  # an allowed call changes the case: give it a case of its own
    check: Callable[[World, str, Any], None] | None = None  # more to assert on an allowed answer


def _case_path(suffix: str = "") -> Callable[[World, dict], str]:
    return lambda world, case: f"/v1/cases/{case['case_id']}{suffix}"


def _fixed(path: str) -> Callable[[World, dict], str]:
    return lambda world, case: path


def _json(payload: Callable[[World], Any]) -> Callable[[World, dict], dict[str, Any]]:
    return lambda world, case: {"json": payload(world)}


def _import_body(world: World, case: dict) -> dict[str, Any]:
    return {"data": ndjson(clue(source="review")), "headers": {"Content-Type": "application/x-ndjson"}}


def _check_import(world: World, principal: str, resp: Any) -> None:
    lines = [json.loads(line) for line in resp.text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    # A supervisor may import only clues under their jurisdiction; the line says so.
    expected = 403 if principal in ("supervisor_beside", "supervisor_sibling_town") else 202
    assert lines[0]["code"] == expected, lines[0]


def _check_listed(query: str = "") -> Callable[[World, str, Any], None]:
    def check(world: World, principal: str, resp: Any) -> None:
        headers = world.headers(principal)
        assert listed(world.e2e, headers, world.case["case_id"], query) == (principal in SEES_THE_CASE)

    return check


def _check_clue(world: World, principal: str, resp: Any) -> None:
    body = resp.json()
    assert body["clue_id"] == world.clue_id
    assert "reporter" not in body


def _check_case(world: World, principal: str, resp: Any) -> None:
    assert resp.json()["case_id"] == world.case["case_id"]


def _check_closed(world: World, principal: str, resp: Any) -> None:
    assert resp.json()["status"] == "closed"


def _check_escalated(world: World, principal: str, resp: Any) -> None:
    assert resp.json()["unit"] != UNIT


def _check_supervised(world: World, principal: str, resp: Any) -> None:
    assert resp.json()["status"] == "supervised" and resp.json()["unit"] == UNIT


def _registry_item(kind: str, world: World) -> tuple[str, dict[str, Any]]:
    """An existing registry entry of `kind` as its PUT body (the last one: re-putting it keeps order)."""
    reg = world.registry
    if kind == "cadres":
        unit = reg["units"][-1]
        cadre = dict(unit["cadres"][-1])
        return cadre.pop("id"), {**cadre, "unit": unit["code"]}
    entry = dict(reg[kind][-1])
    if kind == "units":
        entry.pop("cadres")
    return entry.pop("code"), entry


def _part_path(kind: str) -> Callable[[World, dict], str]:
    return lambda world, case: f"/v1/registry/{kind}/{quote(_registry_item(kind, world)[0], safe='/')}"


def _part_body(kind: str) -> Callable[[World, dict], dict[str, Any]]:
    return lambda world, case: {"json": _registry_item(kind, world)[1]}


CLOSE_BODY = {"disposition": "preliminary_verification", "outcomes": ["admonition_talk"],
              "reporter_summary": "经核实，已对相关人员诫勉谈话。"}

# Who may do what (API.md); see the module docstring for the 401s of keys unknown to a service.
ENDPOINTS: list[Endpoint] = [
    # --- intake: frontline and supervisor keys are known here, cadre keys are not -------------
    Endpoint("intake POST /v1/clues", "intake", "POST", _fixed("/v1/clues"),
             expect(403, unauthenticated=401, frontline=202, cadre=401),
             body=_json(lambda world: clue())),
    Endpoint("intake GET /v1/clues/{id}", "intake", "GET", lambda world, case: f"/v1/clues/{world.clue_id}",
             expect(404, unauthenticated=401, frontline_own=200, supervisor_in=200, cadre=401, admin=403),
             check=_check_clue),
    Endpoint("intake POST /v1/clues:import", "intake", "POST", _fixed("/v1/clues:import"),
             expect(200, unauthenticated=401, cadre=401, admin=403), body=_import_body,
             check=_check_import),
    Endpoint("intake POST /v1/receipts/lookup", "intake", "POST", _fixed("/v1/receipts/lookup"),
             expect(200), body=_json(lambda world: world.receipt)),
    Endpoint("intake POST /v1/receipts/messages", "intake", "POST", _fixed("/v1/receipts/messages"),
             expect(202), body=_json(lambda world: {**world.receipt, "message": "补充：每周五下午收取",
                                                    "objection": False})),
    # --- assignment: cadre, supervisor and admin keys are known here, frontline keys are not --
    Endpoint("assignment GET /v1/cases", "assignment", "GET", _fixed("/v1/cases?limit=1"),
             expect(200, unauthenticated=401, frontline=401), check=_check_listed()),
    Endpoint("assignment GET /v1/cases?unit=", "assignment", "GET",
             _fixed(f"/v1/cases?limit=1&unit={quote(UNIT)}"),
             expect(200, unauthenticated=401, frontline=401, supervisor_out=403),
             check=_check_listed(f"&unit={quote(UNIT)}")),
    Endpoint("assignment GET /v1/cases/{id}", "assignment", "GET", _case_path(),
             expect(403, unauthenticated=401, frontline=401, cadre_owner=200, supervisor_in=200, admin=200),
             check=_check_case),
    Endpoint("assignment GET /v1/cases/{unknown}", "assignment", "GET",
             _fixed("/v1/cases/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
             expect(404, unauthenticated=401, frontline=401)),
    Endpoint("assignment POST /v1/cases/{id}/close", "assignment", "POST", _case_path("/close"),
             expect(403, unauthenticated=401, frontline=401, cadre_owner=200),
             body=_json(lambda world: CLOSE_BODY), mutates=True, check=_check_closed),
    Endpoint("assignment POST /v1/cases/{id}/escalate", "assignment", "POST", _case_path("/escalate"),
             expect(403, unauthenticated=401, frontline=401, supervisor_in=200),
             body=_json(lambda world: {"reason": "涉及多名执法人员"}), mutates=True, check=_check_escalated),
    Endpoint("assignment POST /v1/cases/{id}/supervise", "assignment", "POST", _case_path("/supervise"),
             expect(403, unauthenticated=401, frontline=401, supervisor_in=200, supervisor_out=404),
             body=_json(lambda world: {"note": "限期办结"}), mutates=True, check=_check_supervised),
    # the shared case is not in triage: a city supervisor or an admin hears 409, other supervisors
    # who see it 403 (only the city routes), those who do not 404
    Endpoint("assignment POST /v1/cases/{id}/route", "assignment", "POST", _case_path("/route"),
             expect(403, unauthenticated=401, frontline=401, supervisor_out=404, supervisor_city=409,
                    admin=409),
             body=_json(lambda world: {"unit": UNIT})),
    Endpoint("assignment GET /v1/workload", "assignment", "GET", _fixed(f"/v1/workload?unit={quote(UNIT)}"),
             expect(403, unauthenticated=401, frontline=401, supervisor_in=200, admin=200)),
    Endpoint("assignment GET /v1/stats", "assignment", "GET",
             _fixed(f"/v1/stats?jurisdiction={JURISDICTION}"),
             expect(403, unauthenticated=401, frontline=401, supervisor_in=200, admin=200)),
    *[
        Endpoint(f"assignment GET {path}", "assignment", "GET", _fixed(f"{path}?jurisdiction={JURISDICTION}"),
                 expect(403, unauthenticated=401, frontline=401, supervisor_in=200, admin=200))
        for path in ("/v1/stats.csv", "/v1/stats.xlsx", "/v1/duties")
    ],
    Endpoint("assignment GET /v1/review-batches", "assignment", "GET", _fixed("/v1/review-batches"),
             expect(403, unauthenticated=401, frontline=401, supervisor=200, admin=200)),
    Endpoint("assignment GET /v1/registry", "assignment", "GET", _fixed("/v1/registry"),
             expect(200, unauthenticated=401, frontline=401, cadre=403)),
    Endpoint("assignment PUT /v1/registry", "assignment", "PUT", _fixed("/v1/registry"),
             expect(403, unauthenticated=401, frontline=401, admin=200),
             body=_json(lambda world: world.registry)),
    *[
        Endpoint(f"assignment PUT /v1/registry/{kind}/{{key}}", "assignment", "PUT", _part_path(kind),
                 expect(403, unauthenticated=401, frontline=401, admin=200), body=_part_body(kind))
        for kind in ("jurisdictions", "employers", "units", "cadres")
    ],
    # --- notify: only admin keys are issued here -----------------------------------------------
    Endpoint("notify GET /v1/notifications", "notify", "GET",
             lambda world, case: f"/v1/notifications?clue_id={world.clue_id}", expect(401, admin=200)),
    # --- every service: health, readiness, metrics, OpenAPI are public -------------------------
    *[
        Endpoint(f"{service} GET {path}", service, "GET", _fixed(path), expect(200))
        for service in ("intake", "assignment", "notify")
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json")
    ],
]

ROWS = [(endpoint, principal) for endpoint in ENDPOINTS for principal in PRINCIPALS]


@pytest.fixture(scope="module")
def world(e2e) -> World:
    return build_world(e2e)


@pytest.mark.parametrize("endpoint, principal", ROWS,
                         ids=[f"{e.name} as {p}" for e, p in ROWS])
def test_authorization(world: World, endpoint: Endpoint, principal: str):
    expected = endpoint.codes[principal]
    allowed = 200 <= expected < 300
    case = world.fresh_case() if endpoint.mutates and allowed else world.case
    e2e = world.e2e
    kwargs = endpoint.body(world, case)
    headers = {**world.headers(principal, case), **kwargs.pop("headers", {})}
    resp = e2e.http.request(endpoint.method, e2e.url(endpoint.service, endpoint.path(world, case)),
                            headers=headers, timeout=30, **kwargs)
    assert resp.status_code == expected, f"{endpoint.name} as {principal}: {resp.text[:300]}"
    if not allowed:
        assert resp.headers["Content-Type"].startswith("application/problem+json"), resp.headers
        assert resp.json()["status"] == expected
        if expected == 401:
            assert resp.headers.get("WWW-Authenticate") == "Bearer"
    elif endpoint.check is not None:
        endpoint.check(world, principal, resp)


def test_the_shared_case_was_left_as_it_was(world: World):
    """No refused row changed the shared case (runs after the table: pytest keeps file order)."""
    resp = world.e2e.http.get(world.e2e.url("assignment", f"/v1/cases/{world.case['case_id']}"),
                              headers=world.headers("admin"), timeout=10)
    detail = resp.json()
    assert (detail["status"], detail["unit"], detail["cadre_id"]) == (
        "assigned", world.case["unit"], world.case["cadre_id"])
    assert not detail["escalations"]


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def test_case_times_are_rfc3339(world: World):
    """API.md: times are RFC 3339 with offset — in a case, its escalations and its audit trail."""
    resp = world.e2e.http.get(world.e2e.url("assignment", f"/v1/cases/{world.case['case_id']}"),
                              headers=world.headers("admin"), timeout=10)
    detail = resp.json()
    times = {name: detail[name] for name in ("received_at", "accepted_at", "assigned_at", "due_at")}
    times.update({f"audit[{i}].at": entry["at"] for i, entry in enumerate(detail["audit"])})
    wrong = {name: value for name, value in times.items() if not RFC3339.match(str(value))}
    assert not wrong, wrong
