"""The one mapping from the domain's refusals to problem+json (problems.py).

The read and practice modules used to raise shared.problems.Problem themselves; each row below
makes one of them refuse the way a request would, and checks that the app's answer is, byte for
byte, the one the old Problem gave (status, content type, title, detail, errors and their field).
The refusals that need a stored recommendation: tests/integration/assignment/test_recommendation_refusals.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask

from services.assignment import (
    casemap,
    duty_store,
    network_store,
    networks,
    queries,
    recommendation_store,
    reports,
    review,
)
from services.assignment.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    UnknownJurisdiction,
)
from services.assignment.memory_store import MemoryCaseStore
from services.assignment.model import (
    BadDeadline,
    CaseBusy,
    CaseClosed,
    CaseError,
    CaseForbidden,
    CaseNotFound,
    InTriage,
    NotInTriage,
    UnknownUnit,
)
from services.assignment.problems import init_app, problem_for
from services.assignment.registry import Registry
from services.assignment.store import use
from shared.auth import Principal
from shared.problems import Problem, problem_response

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ADMIN = Principal("admin", "", "k")
CHANCHENG = Principal("supervisor", "foshan/chancheng", "k")
NANHAI_BUREAU = "foshan/nanhai/urban-management"
CHANCHENG_BUREAU = "foshan/chancheng/urban-management"
NOT_FOUND, FORBIDDEN, CONFLICT = (404, "Not Found"), (403, "Forbidden"), (409, "Conflict")
INVALID = (422, "Unprocessable Content")
UNKNOWN_JURISDICTION = Problem(422, "Unprocessable Content", "unknown jurisdiction",
                               errors={"jurisdiction": ["unknown jurisdiction"]})


def answer_to(raised: Exception) -> tuple[int, str, bytes]:
    """What an app with problems.init_app answers when a request raises `raised`."""
    app = Flask(__name__)
    init_app(app)

    @app.get("/x")
    def refuse():
        raise raised

    resp = app.test_client().get("/x")
    return resp.status_code, resp.mimetype, resp.get_data()


def old_answer(problem: Problem) -> tuple[int, str, bytes]:
    with Flask(__name__).app_context():
        resp = problem_response(problem.status, problem.title, problem.detail, errors=problem.errors)
        return resp.status_code, resp.mimetype, resp.get_data()


def refusal_of(call) -> DomainError:
    with pytest.raises(DomainError) as raised:
        call()
    return raised.value


def issue(due_on: date, bureau: str = CHANCHENG_BUREAU, principal: Principal = CHANCHENG):
    def call(registry: Registry):
        body = {"bureau": bureau, "due_on": due_on, "kind": "supervision", "text": "x"}
        return recommendation_store.issue(body, principal, registry, T0)

    return call


ROWS: list[tuple[str, Any, type[DomainError], Problem]] = [
    ("reports: a jurisdiction outside the supervisor's",
     lambda r: reports.scope_of(CHANCHENG, r, "foshan/nanhai"), Forbidden,
     Problem(403, "Forbidden", "that jurisdiction is outside yours")),
    ("reports: an empty registry",
     lambda r: reports.scope_of(ADMIN, Registry([], [], [], []), None), NotFound,
     Problem(404, "Not Found", "the registry has no jurisdictions")),
    ("reports: an unknown jurisdiction", lambda r: reports.scope_of(ADMIN, r, "foshan/atlantis"),
     UnknownJurisdiction, UNKNOWN_JURISDICTION),
    ("reports: too many quarters", lambda r: reports.quarters(T0, None, datetime(2000, 1, 1, tzinfo=UTC), T0),
     Invalid,
     Problem(422, "Unprocessable Content", "at most 40 quarters at once",
             errors={"from": ["at most 40 quarters at once"]})),
    ("reports: to before from", lambda r: reports.quarters(T0, None, T0, datetime(2025, 1, 1, tzinfo=UTC)),
     Invalid,
     Problem(422, "Unprocessable Content", "must be after from", errors={"to": ["must be after from"]})),
    ("duties: a jurisdiction outside the supervisor's",
     lambda r: duty_store._units(CHANCHENG, r, "foshan/nanhai"), Forbidden,
     Problem(403, "Forbidden", "that jurisdiction is outside yours")),
    ("duties: an unknown jurisdiction", lambda r: duty_store._units(ADMIN, r, "foshan/atlantis"),
     UnknownJurisdiction, UNKNOWN_JURISDICTION),
    ("queries: the cases of a unit outside the supervisor's",
     lambda r: queries.scope_filters(CHANCHENG, r, "foshan/nanhai#commission", None), Forbidden,
     Problem(403, "Forbidden", "that unit is outside your jurisdiction")),
    ("queries: the workload of no unit", lambda r: queries.workload("foshan#nothing", ADMIN, r), NotFound,
     Problem(404, "Not Found", "no such unit")),
    ("queries: the workload of a unit outside the supervisor's",
     lambda r: queries.workload("foshan/nanhai#commission", CHANCHENG, r), Forbidden,
     Problem(403, "Forbidden", "that unit is outside your jurisdiction")),
    ("recommendations: an unknown bureau", issue(date(2026, 4, 1), "foshan/nowhere"), Invalid,
     Problem(422, "Unprocessable Content", "unknown bureau", errors={"bureau": ["Unknown bureau."]})),
    ("recommendations: a bureau outside the supervisor's", issue(date(2026, 4, 1), NANHAI_BUREAU), Forbidden,
     Problem(403, "Forbidden", "that bureau is outside your jurisdiction")),
    ("recommendations: a deadline in the past", issue(date(2026, 1, 1)), Invalid,
     Problem(422, "Unprocessable Content", "invalid deadline",
             errors={"due_on": ["Must not be in the past."]})),
    ("review: no such batch", lambda r: review.batch("nope", ADMIN, r, T0), NotFound,
     Problem(404, "Not Found", "no such review batch")),
    ("networks: no such network", lambda r: networks.network("nope", ADMIN, r), NotFound,
     Problem(404, "Not Found", "no such network")),
    ("map: no such case", lambda r: casemap.neighbourhood("nope", ADMIN, r, T0), CaseNotFound,
     Problem(404, "Not Found", "no such case")),
    ("map: a case outside the supervisor's scope", lambda r: casemap.neighbourhood("k1", CHANCHENG, r, T0),
     CaseForbidden, Problem(403, "Forbidden", "this case is outside your scope")),
]


@pytest.fixture
def offline(monkeypatch):
    """The stores the rows reach, without a database: no batch, no network, one case in Nanhai."""
    monkeypatch.setattr(review.review_store, "find", lambda batch_id: None)
    monkeypatch.setattr(network_store, "joint", lambda joint_id: None)
    monkeypatch.setattr(network_store, "joint_of_cases", lambda case_ids: None)
    cases = MemoryCaseStore()
    cases.cases["k1"] = {"_id": "k1", "unit": "foshan/nanhai#commission", "status": "assigned",
                         "cadre_id": "c-x", "subject_key": "s1", "escalation_reasons": []}
    previous = use(cases)
    yield
    use(previous)


@pytest.mark.parametrize(("name", "call", "kind", "problem"), ROWS, ids=[row[0] for row in ROWS])
def test_each_refusal_is_answered_as_the_old_problem_was(offline, foshan, name, call, kind, problem):
    refusal = refusal_of(lambda: call(foshan))
    assert type(refusal) is kind
    assert not isinstance(refusal, Problem)
    assert answer_to(refusal) == old_answer(problem)


@pytest.mark.parametrize(("refusal", "answer"), [
    (NotFound("gone"), NOT_FOUND), (Forbidden("no"), FORBIDDEN), (Conflict("not now"), CONFLICT),
    (Invalid("bad", field="x"), INVALID), (DomainError("refused"), CONFLICT),
    (CaseNotFound("no such case"), NOT_FOUND), (CaseForbidden("no"), FORBIDDEN),
    (CaseClosed("closed"), CONFLICT), (NotInTriage("no"), CONFLICT), (InTriage("no"), CONFLICT),
    (CaseBusy("busy"), CONFLICT), (UnknownUnit("no unit"), INVALID), (BadDeadline("late"), INVALID),
    (CaseError("the case is open"), CONFLICT),
])
def test_each_kind_has_its_status_and_title(refusal, answer):
    problem = problem_for(refusal)
    assert (problem.status, problem.title, problem.detail) == (*answer, str(refusal))


def test_the_field_at_fault_carries_its_reason_or_else_the_message():
    assert problem_for(Invalid("invalid date", field="answered_on", reason="Not yet.")).errors == {
        "answered_on": ["Not yet."]
    }
    assert problem_for(UnknownUnit("no unit 'x'")).errors == {"unit": ["no unit 'x'"]}
    assert problem_for(UnknownJurisdiction("unknown jurisdiction")).errors == {
        "jurisdiction": ["unknown jurisdiction"]
    }
    assert problem_for(NotFound("gone")).errors is None
    assert problem_for(DomainError()).detail == "Conflict"


def test_a_refusal_is_plain_python_and_kinds_are_shared_by_the_case_errors():
    assert not issubclass(DomainError, Problem)
    assert issubclass(CaseNotFound, NotFound) and issubclass(UnknownUnit, Invalid)
    assert issubclass(CaseBusy, Conflict) and issubclass(CaseForbidden, Forbidden)
