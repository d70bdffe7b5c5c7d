"""What every service's Flask app has: health, readiness, metrics, OpenAPI, errors, request logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from shared import mongo
from shared.kafka_admin import kafka_reachable
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition
from shared.problems import problem_response, register_error_handlers
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


def new_spec(title: str, version: str = "1.0.0") -> APISpec:
    """An OpenAPI 3.1 spec that marshmallow schemas can be registered on."""
    spec = APISpec(title=title, version=version, openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    return spec


def create_base_app(service: str, settings: CommonSettings,
                    spec: Callable[[], dict[str, Any]] | None = None) -> Flask:
    """A Flask app with /healthz, /readyz, /metrics, /openapi.json and problem+json errors."""
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

    if spec is not None:
        cached: dict[str, Any] = {}

        @app.get("/openapi.json")
        def openapi():
            if not cached:
                cached.update(spec())
            return jsonify(cached)

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
