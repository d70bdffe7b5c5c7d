"""Intake's processes: `campaign serve intake web|consumer|relay` (or `python -m services.intake ...`).

Each reads its settings from the environment, checks that MongoDB and Kafka answer, and runs in
the foreground until SIGTERM.
"""

from __future__ import annotations

import logging
import threading
import time

from services.intake.settings import IntakeSettings
from shared import mongo
from shared.entry import check_dependencies, run_consumer_until_stopped
from shared.logs import configure_logging

log = logging.getLogger("intake")


def _start(settings: IntakeSettings) -> None:
    from shared.kafka import ensure_topics

    configure_logging("intake", settings.common.log_level)
    check_dependencies(settings.common)
    ensure_topics(settings.common)


def _start_worker(settings: IntakeSettings) -> None:
    from shared.metrics import metrics_port, serve_worker_metrics

    _start(settings)
    mongo.connect(settings.common.mongodb_uri, settings.db, timeout_ms=settings.mongo_timeout_ms)
    serve_worker_metrics(metrics_port())


def web() -> None:
    """Serve the HTTP API under gunicorn; each worker runs its own outbox relay thread."""
    from services.intake.app import create_app
    from shared.serve import serve

    settings = IntakeSettings.from_env()
    _start(settings)
    serve(lambda: create_app(settings), settings.common.host, settings.port,
          settings.web_workers, settings.web_threads, service="intake")


def consumer() -> None:
    """Consume case events until SIGTERM."""
    from services.intake.consumer import build_consumer

    settings = IntakeSettings.from_env()
    _start_worker(settings)
    run_consumer_until_stopped(settings.common, lambda producer: build_consumer(settings.common, producer))


def relay(stop: threading.Event | None = None) -> None:
    """The reconciler of unacknowledged clues and the follow-ups' outbox poller, until SIGTERM."""
    from pymongo.errors import ConnectionFailure

    from services.intake.follow_ups import apply_follow_ups
    from services.intake.handlers import RECONCILE_BATCH, expire_replays, reconcile
    from services.intake.relay import IntakeOutbox
    from shared.consumer import stop_on_signals
    from shared.kafka import DependencyDown, EventProducer

    settings = IntakeSettings.from_env()
    _start_worker(settings)
    producer = EventProducer(settings.common)
    outbox = IntakeOutbox(producer)
    stop = stop or stop_on_signals()
    next_reconcile = 0.0
    log.info("relay started", extra={"reconcile_after_s": settings.reconcile_after_s})
    try:
        while not stop.is_set():
            try:
                if time.monotonic() >= next_reconcile:
                    behind = len(reconcile(settings.reconcile_after_s, producer)) == RECONCILE_BATCH
                    expire_replays()
                    sweep_retention(settings)
                    # A full batch: more may be due (a long broker outage); go on next round.
                    next_reconcile = time.monotonic() + (0 if behind else settings.reconcile_interval_s)
                outbox.publish_pending()
                apply_follow_ups()
            except (DependencyDown, ConnectionFailure) as exc:
                log.warning("relay waiting for a dependency", extra={"error": type(exc).__name__})
                ensure_topics_quietly(settings)
            stop.wait(settings.relay_poll_s)
    finally:
        producer.close()
        log.info("relay stopped")


def sweep_retention(settings: IntakeSettings) -> None:
    """Erase the sealed identity and contact of clues past the objection window (see retention)."""
    from services.intake.retention import erase_expired

    erase_expired(settings.retention_days)


def ensure_topics_quietly(settings: IntakeSettings) -> None:
    """Recreate the topics if the broker came back empty; ignore a broker that is still away."""
    from shared.kafka import ensure_topics

    try:
        ensure_topics(settings.common)
    except Exception as exc:  # noqa: BLE001 - retried on the next round
        log.warning("topics not ensured", extra={"error": type(exc).__name__})


PROCESSES = {"web": web, "consumer": consumer, "relay": relay}
