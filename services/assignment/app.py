"""`create_app(settings=None)`: the assignment service's Flask app."""

from __future__ import annotations

import os
import threading

from flask import Flask

from shared import mongo
from shared.kafka import EventProducer, Publisher
from shared.outbox import OutboxRelay
from shared.web import api_for, create_base_app

from . import api, api_reports, casework_api, pages, practice_api, problems
from .context import Context
from .documents import ensure_indexes
from .metrics import register_metrics
from .outbox_store import case_outbox
from .registry_store import RegistryCache, ensure_registry
from .settings import AssignmentSettings


def create_app(
    settings: AssignmentSettings | None = None, publisher: Publisher | None = None, connect: bool = True
) -> Flask:
    """The app: Mongo connected, registry loaded if the database has none, an outbox relay thread
    woken after every write (`publisher` replaces the Kafka producer in tests)."""
    settings = settings or AssignmentSettings.from_env()
    if connect:
        mongo.connect(settings.common.mongodb_uri, settings.db)
    ensure_indexes()
    ensure_registry(settings.registry_path)
    app = create_base_app("assignment", settings.common)
    cache = RegistryCache(settings.registry_refresh_s)
    relay = OutboxRelay(case_outbox(), publisher or EventProducer(settings.common))
    stop = threading.Event()
    thread = relay.start_thread(stop, settings.relay_poll_interval_s)
    app.extensions["assignment.ctx"] = Context(
        registry=cache.get,
        rules=settings.escalation,
        deadlines=settings.deadlines,
        serious=settings.serious,
        wake=relay.wake,
    )
    app.extensions["assignment.registry_cache"] = cache
    app.extensions["assignment.relay"] = relay
    app.extensions["assignment.stop"] = stop
    app.extensions["assignment.relay_thread"] = thread
    problems.init_app(app)
    rest = api_for(app, "Assignment service")  # serves /openapi.json, built from the blueprints
    rest.register_blueprint(api.bp)
    rest.register_blueprint(practice_api.bp)  # relationship map, networks, recommendations
    rest.register_blueprint(casework_api.bp)  # route a triage case, supervise a case
    rest.register_blueprint(api_reports.bp)  # statistics, duties, review batches
    session_key = settings.session_key or os.urandom(32)  # development: this process only
    pages.init_app(app, session_key, secure=settings.common.production)
    app.extensions["assignment.metrics"] = register_metrics(settings, cache.get)
    return app
