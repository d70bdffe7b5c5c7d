"""problem+json (RFC 9457) answers for every error, and strict JSON request bodies."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, Response, json
from marshmallow import ValidationError
from pymongo.errors import ConnectionFailure
from werkzeug.exceptions import HTTPException

from shared.dependencies import DependencyDown

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_S = 5


class Problem(Exception):
    """Raise anywhere in a request to answer with problem+json."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 errors: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.headers = errors, headers or {}


def problem_response(status: int, title: str, detail: str | None = None, *,
                     errors: dict[str, list[str]] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    resp = Response(json.dumps(body, ensure_ascii=False), status=status,
                    mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error messages as {"dotted.path": [messages]}."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema" and prefix:
                path = prefix
            out.update(flatten(value, path))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_body": list(messages)}
    return {prefix or "_body": [str(messages)]}


def json_body(request: Request) -> Any:
    """The request's JSON body, or a Problem: 415 not JSON, 413 too large, 400 malformed."""
    if not request.is_json:
        raise Problem(415, "Unsupported Media Type", "send the body as application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Problem(413, "Payload Too Large", f"the body is over {MAX_BODY_BYTES} bytes")
    data = request.get_data(cache=True)
    if len(data) > MAX_BODY_BYTES:
        raise Problem(413, "Payload Too Large", f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(data)
    except ValueError as exc:
        raise Problem(400, "Bad Request", f"malformed JSON: {exc}") from None


def must_be_object(payload: Any) -> None:
    """422 naming the body when a JSON body is not an object."""
    if not isinstance(payload, dict):
        raise Problem(422, "Unprocessable Content", "the body must be a JSON object",
                      errors={"_body": ["must be an object"]})


def load(schema, payload: Any) -> Any:
    """Validate `payload` with a marshmallow schema; invalid fields are a 422 with field paths."""
    must_be_object(payload)
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise Problem(422, "Unprocessable Content", "some fields are invalid",
                      errors=flatten(exc.messages)) from None


def register_error_handlers(app: Flask) -> None:
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_BODY_BYTES)

    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        return problem_response(exc.status, exc.title, exc.detail, errors=exc.errors,
                                headers=exc.headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        headers = {"Retry-After": exc.retry_after} if getattr(exc, "retry_after", None) else None
        return problem_response(exc.code or 500, exc.name, exc.description, headers=headers)

    @app.errorhandler(ConnectionFailure)
    @app.errorhandler(DependencyDown)
    def _down(exc: Exception):
        log.warning("dependency down", extra={"error": type(exc).__name__})
        return problem_response(503, "Service Unavailable", "a dependency is down; try again",
                                headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.errorhandler(Exception)
    def _bug(exc: Exception):
        log.exception("unhandled error")
        return problem_response(500, "Internal Server Error")
