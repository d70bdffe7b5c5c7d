"""flask-smorest on the project's terms: the spec at /openapi.json (OpenAPI 3.1, bearer keys),
request bodies and queries parsed by the marshmallow schemas of the routes, and every error,
bad input included, answered as problem+json (shared/problems.py), never smorest's own body."""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask import Flask, Request
from flask_smorest.spec.plugins import FlaskPlugin
from marshmallow import Schema, ValidationError, fields
from webargs.flaskparser import FlaskParser

from shared.problems import Problem, flatten, json_body

PROBLEM_JSON = "application/problem+json"
BEARER = [{"bearer": []}]


class ProblemSchema(Schema):
    """The problem+json body (RFC 9457) of every error answer."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "the invalid fields (dotted paths) and why"})


class Instant(fields.DateTime):
    """A time in an answer: documented as date-time, written by the app's JSON provider (RFC 3339
    with offset, naive values taken as UTC), so the schema never reformats it."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value


class Flag(fields.Boolean):
    """A yes/no in an answer, written as JSON true/false even when stored as 1 or 0."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> bool | None:
        return None if value is None else bool(value)


class ProblemParser(FlaskParser):
    """webargs as the routes parsed before: a JSON body through `json_body` (415, 413, 400), an
    object or a 422, the schema's own `unknown` everywhere, invalid fields a 422 problem."""

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = dict.fromkeys(
        FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION
    )

    def load_json(self, req: Request, schema: Schema) -> Any:
        body = json_body(req)
        if not isinstance(body, dict):
            raise Problem(422, "Unprocessable Content", "the body must be a JSON object",
                          errors={"_body": ["must be an object"]})
        return body

    def handle_error(self, error: ValidationError, req: Request, schema: Schema, *,
                     error_status_code: int | None, error_headers: Any) -> None:
        messages: dict[str, Any] = {}
        for by_field in error.messages.values():  # {location: {field: [reasons]}}
            messages.update(by_field if isinstance(by_field, dict) else {"_body": by_field})
        raise Problem(422, "Unprocessable Content", "some fields are invalid", errors=flatten(messages))


class Blueprint(flask_smorest.Blueprint):
    """A smorest blueprint whose arguments are parsed by `ProblemParser`."""

    ARGUMENTS_PARSER = ProblemParser()

    def operation(self, method: str, rule: str, require: Any):
        """Route `rule` for `method`, documented as needing a bearer key; `require` (shared.auth's
        decorator) runs before the body is parsed, so a request without a key gets its 401 first.
        The view's docstring is the operation's summary."""

        def decorate(view):
            return self.route(rule, methods=[method])(self.doc(security=BEARER)(require(view)))

        return decorate


class PathsToo(FlaskPlugin):
    """smorest's Flask plugin, which also takes a path described by hand (`spec.path(path, ...)`,
    no Flask rule) as it is: the modules not on smorest yet still add theirs."""

    def path_helper(self, rule=None, operations=None, parameters=None, **kwargs):
        if rule is None:
            return None
        return super().path_helper(rule, operations, parameters, **kwargs)


class Api(flask_smorest.Api):
    """smorest's Api with problem+json error responses in the spec and the project's error
    handlers left in place."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        """shared/problems already answers every error."""

    def _register_responses(self) -> None:
        super()._register_responses()
        for response in self.spec.components.responses_lazy.values():
            if "content" in response:
                response["content"] = {PROBLEM_JSON: response["content"][self.DEFAULT_RESPONSE_CONTENT_TYPE]}


def init_api(app: Flask, title: str, version: str = "1.0.0") -> Api:
    """The app's Api: the spec served at /openapi.json, the bearer scheme registered."""
    app.config.update(API_TITLE=title, API_VERSION=version, OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json")
    api = Api(app, spec_kwargs={"flask_plugin": PathsToo()})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    return api
