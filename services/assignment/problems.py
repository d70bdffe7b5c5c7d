"""The one mapping from the domain's refusals (errors.py, model.py's CaseError family) to
problem+json answers (the edge's)."""

from __future__ import annotations

from flask import Flask

from shared.problems import Problem, problem_response

from .errors import Conflict, DomainError, Forbidden, Invalid, NotFound

_ANSWERS: tuple[tuple[type[DomainError], int, str], ...] = (
    (NotFound, 404, "Not Found"),
    (Forbidden, 403, "Forbidden"),
    (Conflict, 409, "Conflict"),
    (Invalid, 422, "Unprocessable Content"),
)


def problem_for(exc: DomainError) -> Problem:
    """The problem+json answer for a refusal (409 for one of no kind, such as a plain CaseError):
    its message the detail, and its field, if it names one, under `errors` with its reason."""
    status, title = next(
        ((status, title) for kind, status, title in _ANSWERS if isinstance(exc, kind)), (409, "Conflict")
    )
    detail = str(exc) or title
    errors = {exc.field: [exc.reason or detail]} if exc.field else None
    return Problem(status, title, detail, errors=errors)


def init_app(app: Flask) -> None:
    """Answer every refusal raised in a request with its problem+json."""

    def answer(exc: DomainError):
        problem = problem_for(exc)
        return problem_response(
            problem.status, problem.title, problem.detail, errors=problem.errors, headers=problem.headers
        )

    app.register_error_handler(DomainError, answer)
