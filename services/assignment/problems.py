"""The one mapping from the case's domain errors to problem+json answers (the edge's)."""

from __future__ import annotations

from flask import Flask

from shared.problems import Problem, problem_response

from .model import (
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

_ANSWERS: dict[type[CaseError], tuple[int, str]] = {
    CaseNotFound: (404, "Not Found"),
    CaseForbidden: (403, "Forbidden"),
    CaseClosed: (409, "Conflict"),
    NotInTriage: (409, "Conflict"),
    InTriage: (409, "Conflict"),
    CaseBusy: (409, "Conflict"),
    UnknownUnit: (422, "Unprocessable Content"),
    BadDeadline: (422, "Unprocessable Content"),
}


def problem_for(exc: CaseError) -> Problem:
    """The problem+json answer for a domain error (409 for any other the case refuses)."""
    status, title = next(
        (answer for kind, answer in _ANSWERS.items() if isinstance(exc, kind)), (409, "Conflict")
    )
    detail = str(exc) or title
    errors = {exc.field: [detail]} if exc.field else None
    return Problem(status, title, detail, errors=errors)


def init_app(app: Flask) -> None:
    """Answer every domain error raised in a request with its problem+json."""

    def answer(exc: CaseError):
        problem = problem_for(exc)
        return problem_response(
            problem.status, problem.title, problem.detail, errors=problem.errors, headers=problem.headers
        )

    app.register_error_handler(CaseError, answer)
