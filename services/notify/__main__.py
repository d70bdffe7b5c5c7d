"""`python -m services.notify web|consumer|deliverer|issue-key ROLE SCOPE [--token T]`."""

from __future__ import annotations

import argparse
import sys

from services.notify.settings import NotifySettings
from shared import mongo
from shared.entry import check_dependencies, guarded
from shared.logs import configure_logging
from shared.metrics import metrics_port, serve_worker_metrics

PROG = "notify"


def _start(settings: NotifySettings) -> None:
    from shared.kafka import ensure_topics

    configure_logging("notify", settings.common.log_level)
    check_dependencies(settings.common)
    ensure_topics(settings.common)
    serve_worker_metrics(metrics_port())


def web(settings: NotifySettings) -> int:
    from services.notify.app import create_app
    from shared.serve import serve

    configure_logging("notify", settings.common.log_level)
    check_dependencies(settings.common)
    serve(lambda: create_app(settings), settings.common.host, settings.port, settings.web_workers)
    return 0


def consumer(settings: NotifySettings) -> int:
    from services.notify.consumer import build_consumer
    from shared.consumer import stop_on_signals
    from shared.kafka import EventProducer

    _start(settings)
    mongo.connect(settings.common.mongodb_uri, settings.db)
    producer = EventProducer(settings.common)
    try:
        build_consumer(settings.common, producer).run(stop_on_signals())
    finally:
        producer.close()
    return 0


def deliverer(settings: NotifySettings) -> int:
    from services.notify.delivery import Deliverer
    from shared.consumer import stop_on_signals

    _start(settings)
    mongo.connect(settings.common.mongodb_uri, settings.db)
    Deliverer(settings).run(stop_on_signals())
    return 0


def issue_key(settings: NotifySettings, role: str, scope: str, token: str | None) -> int:
    from shared.auth import issue_key as issue

    mongo.connect(settings.common.mongodb_uri, settings.db)
    try:
        print(issue(role, scope, label="cli", token=token))
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("web", help="serve the HTTP API under gunicorn")
    sub.add_parser("consumer", help="consume clue and case events into notifications")
    sub.add_parser("deliverer", help="deliver notifications, with retries and the 30-day note")
    key = sub.add_parser("issue-key", help="issue an API key and print it")
    key.add_argument("role")
    key.add_argument("scope", nargs="?", default="")
    key.add_argument("--token", default=None, help="store this token instead of a new one")
    hook = sub.add_parser("webhook-secret", help="print the secret a webhook URL's signatures verify with")
    hook.add_argument("url")
    args = parser.parse_args(argv)

    def run() -> int:
        if args.command == "webhook-secret":
            from services.notify.channels import recipient_secret
            from shared.settings import Env

            master = Env().str("NOTIFY_WEBHOOK_SECRET", required=True).encode()
            print(recipient_secret(master, args.url).decode())
            return 0
        settings = NotifySettings.from_env()
        if args.command == "web":
            return web(settings)
        if args.command == "consumer":
            return consumer(settings)
        if args.command == "deliverer":
            return deliverer(settings)
        return issue_key(settings, args.role, args.scope, args.token)

    return guarded(run, PROG)


if __name__ == "__main__":
    sys.exit(main())
