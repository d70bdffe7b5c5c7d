"""`python -m services.intake web | consumer | relay | issue-key ROLE SCOPE [--token T]`."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from pymongo.errors import ConnectionFailure

from services.intake.settings import IntakeSettings
from shared import mongo
from shared.auth import ROLES, issue_key
from shared.consumer import stop_on_signals
from shared.entry import check_dependencies, guarded
from shared.kafka import DependencyDown, EventProducer, ensure_topics
from shared.logs import configure_logging
from shared.metrics import metrics_port, serve_worker_metrics
from shared.settings import Env

PROG = "intake"
log = logging.getLogger(PROG)


def _start(settings: IntakeSettings) -> None:
    configure_logging(PROG, settings.common.log_level)
    check_dependencies(settings.common)
    ensure_topics(settings.common)


def web() -> int:
    """Serve the HTTP API under gunicorn; each worker runs its own outbox relay thread."""
    from services.intake.app import create_app
    from shared.serve import serve

    settings = IntakeSettings.from_env()
    _start(settings)
    serve(lambda: create_app(settings), settings.common.host, settings.port,
          settings.web_workers, settings.web_threads)
    return 0


def consumer() -> int:
    """Consume case events until SIGTERM."""
    from services.intake.consumer import build_consumer

    settings = IntakeSettings.from_env()
    _start(settings)
    mongo.connect(settings.common.mongodb_uri, settings.db, timeout_ms=settings.mongo_timeout_ms)
    serve_worker_metrics(metrics_port())
    producer = EventProducer(settings.common)
    try:
        build_consumer(settings.common, producer).run(stop_on_signals())
    finally:
        producer.close()
    return 0


def relay(stop: threading.Event | None = None) -> int:
    """The reconciler of unacknowledged clues and the follow-ups' outbox poller, until SIGTERM."""
    from services.intake.handlers import RECONCILE_BATCH, apply_follow_ups, expire_replays, reconcile
    from services.intake.relay import IntakeOutbox

    settings = IntakeSettings.from_env()
    _start(settings)
    mongo.connect(settings.common.mongodb_uri, settings.db, timeout_ms=settings.mongo_timeout_ms)
    serve_worker_metrics(metrics_port())
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
    return 0


def sweep_retention(settings: IntakeSettings) -> None:
    """Erase the sealed identity and contact of clues past the objection window (see retention)."""
    from services.intake.retention import erase_expired

    erase_expired(settings.retention_days)


def ensure_topics_quietly(settings: IntakeSettings) -> None:
    """Recreate the topics if the broker came back empty; ignore a broker that is still away."""
    try:
        ensure_topics(settings.common)
    except Exception as exc:  # noqa: BLE001 - retried on the next round
        log.warning("topics not ensured", extra={"error": type(exc).__name__})


def issue(role: str, scope: str, token: str | None, label: str) -> int:
    """Store an API key in intake's database and print its token."""
    env = Env()
    mongo.connect(env.str("MONGODB_URI", required=True), env.str("INTAKE_DB", "campaign_intake"))
    print(issue_key(role, scope, label=label, token=token))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m services.{PROG}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("web", help="serve the HTTP API")
    sub.add_parser("consumer", help="consume case events")
    sub.add_parser("relay", help="outbox poller and reconciler")
    key = sub.add_parser("issue-key", help="issue an API key and print it")
    key.add_argument("role", choices=ROLES)
    key.add_argument("scope", nargs="?", default="")
    key.add_argument("--token", default=None)
    key.add_argument("--label", default="")
    args = parser.parse_args(argv)
    commands = {"web": web, "consumer": consumer, "relay": relay,
                "issue-key": lambda: issue(args.role, args.scope, args.token, args.label)}
    return guarded(commands[args.command], PROG)


if __name__ == "__main__":
    sys.exit(main())
