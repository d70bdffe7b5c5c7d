"""What every service's Flask app has: health, readiness, metrics, OpenAPI, errors, request logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import flask_smorest
from flask import Blueprint, Flask, Request, Response, g, jsonify, request, send_from_directory
from flask.json.provider import DefaultJSONProvider
from flask_smorest.spec.plugins import FlaskPlugin
from marshmallow import Schema, fields
from webargs.flaskparser import FlaskParser
from werkzeug.middleware.proxy_fix import ProxyFix

from shared import mongo
from shared.kafka_admin import kafka_reachable
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition
from shared.problems import (
    Problem,
    flatten,
    json_body,
    must_be_object,
    problem_response,
    register_error_handlers,
)
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


class JsonProvider(DefaultJSONProvider):
    """JSON as API.md fixes it: UTF-8 text as is, times in RFC 3339 with offset (not RFC 1123)."""

    ensure_ascii = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return (o if o.tzinfo else o.replace(tzinfo=UTC)).isoformat()
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


PAGES_STATIC = Path(__file__).with_name("static")


def serve_base_stylesheet(bp: Blueprint) -> None:
    """Serve shared/static/base.css, the rules every service's pages share, beside `bp`'s own
    static files (`url_for(f"{bp.name}.base_css")`), so it comes under the blueprint's headers."""
    bp.add_url_rule(f"{bp.static_url_path}/base.css", "base_css",
                    lambda: send_from_directory(PAGES_STATIC, "base.css"))


def create_base_app(service: str, settings: CommonSettings) -> Flask:
    """A Flask app with /healthz, /readyz, /metrics and problem+json errors (/openapi.json comes
    with `api_for`)."""
    app = Flask(service)
    app.json_provider_class = JsonProvider
    app.json = JsonProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    if settings.trusted_proxy_hops:
        # The client's address and scheme as exactly that many proxies saw them; a header a
        # client wrote itself sits further left and is ignored.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0)  # type: ignore[method-assign]
    register_error_handlers(app)
    _count_requests(app, service)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service=service)

    @app.get("/readyz")
    def readyz():
        checks = {"mongodb": True, "kafka": kafka_reachable(settings.kafka_bootstrap_servers)}
        try:
            mongo.ping()
        except Exception:  # noqa: BLE001 - any failure means not ready
            checks["mongodb"] = False
        if all(checks.values()):
            return jsonify(status="ready", checks=checks)
        down = ", ".join(k for k, ok in checks.items() if not ok)
        return problem_response(503, "Service Unavailable", f"not reachable: {down}",
                                headers={"Retry-After": "5"})

    @app.get("/metrics")
    def metrics():
        body, content_type = exposition()
        return Response(body, content_type=content_type)

    return app


def _count_requests(app: Flask, service: str) -> None:
    """Count every request and time it, by route and status (`http_requests_total`,
    `http_request_seconds`); log each answer of 500 and above."""

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    labelled: dict[tuple[str, int], tuple[Any, Any]] = {}  # the metrics of each route and status

    @app.after_request
    def _count(resp: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        metrics = labelled.get((route, resp.status_code))
        if metrics is None:
            metrics = labelled[route, resp.status_code] = (
                HTTP_REQUESTS.labels(service, route, str(resp.status_code)),
                HTTP_LATENCY.labels(service, route))
        metrics[0].inc()
        metrics[1].observe(time.perf_counter() - g.get("started", 0))
        if resp.status_code >= 500:
            log.warning("request failed", extra={"route": route, "status": resp.status_code})
        if resp.mimetype in ("application/json", "application/problem+json"):
            # API answers (a 202 carries a receipt's secret) are never cached nor sniffed.
            resp.headers.setdefault("Cache-Control", "no-store")
            resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp


# --- flask-smorest: the spec from the schemas that parse and dump ---------------------------------

BEARER = [{"bearer": []}]


class ProblemSchema(Schema):
    """problem+json (RFC 9457) as shared.problems answers it: what the spec documents for errors."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "the invalid fields, by dotted path"})


class Instant(fields.DateTime):
    """A time in an answer: documented as date-time, written as stored by the app's JSON provider
    (RFC 3339 with offset, a naive time taken as UTC), never reformatted by the schema."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value


class Flag(fields.Boolean):
    """A yes/no in an answer, written as JSON true/false even when stored as 1 or 0."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> bool | None:
        return None if value is None else bool(value)


class ProblemParser(FlaskParser):
    """webargs' parser with the project's 422: problem+json naming each field (as shared.problems.load
    does), and each schema's own `unknown` (RAISE by default) in the query string too. A JSON body
    is read by `json_body` (415 not JSON, 413 too large, 400 malformed) and must be an object."""

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {}

    def read_json(self, req: Request) -> Any:
        """The JSON body as sent (a service may check more of it than `json_body` does)."""
        return json_body(req)

    def load_json(self, req: Request, schema: Schema) -> Any:
        body = self.read_json(req)
        must_be_object(body)
        return body

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        by_location = error.messages if isinstance(error.messages, dict) else {"_body": error.messages}
        messages = next(iter(by_location.values())) if len(by_location) == 1 else by_location
        raise Problem(422, "Unprocessable Content", "some fields are invalid", errors=flatten(messages))


class ApiBlueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint whose arguments answer bad input with the project's problem+json."""

    ARGUMENTS_PARSER = ProblemParser()

    def operation(self, method: str, rule: str, require: Callable,
                  parameters: list[dict[str, Any]] | None = None):
        """Route `rule` for `method`, documented as needing a bearer key. `require` (shared.auth's
        decorator) runs before the arguments are parsed: a request without a key gets its 401 first.
        The view's docstring gives the operation's summary; `parameters` documents those no
        argument schema parses (a header the view reads itself)."""

        def decorate(view: Callable) -> Callable:
            route = self.route(rule, methods=[method], parameters=parameters)
            return route(self.doc(security=BEARER)(require(view)))

        return decorate


class ParametersInOperations(FlaskPlugin):
    """flask-smorest's Flask plugin, writing a path's parameters (its variables, a header a route
    documents) into each of its operations, so that a path's keys are its methods only."""

    def path_helper(self, rule=None, operations=None, parameters=None, **kwargs):
        path = super().path_helper(rule, operations, parameters, **kwargs)
        if path is not None and parameters:
            for operation in operations.values():
                operation["parameters"] = [*parameters, *operation.get("parameters", [])]
            parameters.clear()
        return path


class Api(flask_smorest.Api):
    """flask-smorest's Api documenting errors as problem+json; the app's own error handlers answer."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        # flask-smorest documents its error responses in the success responses' content type;
        # ours are application/problem+json (tests/integration/notify/test_api.py checks it).
        self.DEFAULT_RESPONSE_CONTENT_TYPE = "application/problem+json"
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE


def api_for(app: Flask, title: str, *, parameters_in_operations: bool = False) -> Api:
    """The app's OpenAPI 3.1 document at /openapi.json, built by flask-smorest from its blueprints
    (`parameters_in_operations`: see ParametersInOperations)."""
    app.config.update(API_TITLE=title, API_VERSION="1.0.0", OPENAPI_VERSION="3.1.0",
                      OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json")
    plugin = ParametersInOperations() if parameters_in_operations else FlaskPlugin()
    api = Api(app, spec_kwargs={"flask_plugin": plugin})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    register_error_handlers(app)  # after flask-smorest's own: problem+json answers every error
    return api
