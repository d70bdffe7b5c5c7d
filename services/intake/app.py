"""The intake Flask app factory: Mongo, the routes, the rate limiter and the in-process relay."""

from __future__ import annotations

import threading

import mongoengine as me
from flask import Flask

from services.intake import api, api_schemas, limits, pages, practice_api
from services.intake.api import IntakeContext
from services.intake.clue_store import clues
from services.intake.consumer import CASE_TOPICS, GROUP_ID
from services.intake.handlers import Keys
from services.intake.limit_store import counters_collection
from services.intake.limits import TooManyAttempts
from services.intake.outbox_store import outbox_collections
from services.intake.relay import IntakeOutbox
from services.intake.settings import IntakeSettings, read_registry
from shared import mongo
from shared.kafka import EventProducer, Publisher
from shared.metrics import (
    SCRAPE_TTL_S,
    ScrapeCache,
    ScrapeGauge,
    register_scrape_gauge,
    watch_consumer_lag,
    watch_outbox_backlog,
)
from shared.problems import problem_response
from shared.sealing import ReporterVault
from shared.web import api_for, create_base_app


def _connect(settings: IntakeSettings) -> None:
    """Connect mongoengine to intake's database, unless this process already is (tests, reloads)."""
    try:
        if me.get_db().name == settings.db:
            return
    except me.ConnectionFailure:
        pass
    mongo.connect(settings.common.mongodb_uri, settings.db, timeout_ms=settings.mongo_timeout_ms)


def watch_unacknowledged(ttl_s: float = SCRAPE_TTL_S) -> ScrapeCache:
    """`intake_clues_unacknowledged` counts, at scrape time, the clues no case event has
    acknowledged yet: the clues' backlog (a clue has no outbox of its own, see `documents`)."""
    cache = ScrapeCache(lambda: {(): float(clues().count_unacknowledged())}, ttl_s)
    register_scrape_gauge(ScrapeGauge("intake_clues_unacknowledged",
                                      "Clues no case event has acknowledged yet", [], cache))
    return cache


def create_app(settings: IntakeSettings | None = None, *, publisher: Publisher | None = None,
               start_relay: bool = True) -> Flask:
    """The intake app; with `start_relay`, a thread publishes each write's events at once."""
    settings = settings or IntakeSettings.from_env()
    _connect(settings)
    outbox = IntakeOutbox(publisher or EventProducer(settings.common))
    app = create_base_app("intake", settings.common)
    keys = Keys(settings.receipt_key, ReporterVault(settings.reporter_key), settings.notify_public_key)
    app.extensions["intake"] = IntakeContext(settings, keys, outbox)
    limits.init_app(app, counters_collection(), settings.receipt_key, settings.receipt_rate_limit,
                    settings.receipt_code_failures)
    # /openapi.json, built from the blueprints; a path's keys are its methods (test_api.py checks)
    rest = api_for(app, "Intake: clues and receipts", parameters_in_operations=True)
    api_schemas.register_components(rest)
    rest.register_blueprint(api.bp)
    registry = read_registry(settings.registry_file)
    pages.init_app(app, settings, registry)
    practice_api.init_app(app, rest, registry)  # cards, observers

    @app.errorhandler(TooManyAttempts)
    def _too_many(exc: TooManyAttempts):
        return problem_response(429, "Too Many Requests", "too many attempts; wait",
                                headers={"Retry-After": str(exc.retry_after),
                                         "X-RateLimit-Limit": str(exc.limit), "X-RateLimit-Remaining": "0"})

    watch_outbox_backlog(outbox_collections().values())
    watch_unacknowledged()
    watch_consumer_lag(settings.common, GROUP_ID, CASE_TOPICS)

    if start_relay:
        stop = threading.Event()
        app.extensions["intake_relay"] = outbox.start_threads(stop, settings.web_relay_poll_s)
        app.extensions["intake_relay_stop"] = stop
    return app
