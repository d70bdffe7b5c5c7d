"""`python -m services.assignment web|consumer|scheduler|load-registry PATH|issue-key ROLE SCOPE`."""

from __future__ import annotations

import argparse
import sys

from shared import mongo
from shared.auth import issue_key
from shared.consumer import stop_on_signals
from shared.entry import check_dependencies, guarded
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.metrics import metrics_port, serve_worker_metrics
from shared.serve import serve

from .registry import RegistryError, load_registry
from .settings import AssignmentSettings

PROG = "assignment"


def _start(settings: AssignmentSettings) -> None:
    from .documents import ensure_indexes
    from .registry_store import ensure_registry

    configure_logging("assignment", settings.common.log_level)
    check_dependencies(settings.common)
    ensure_topics(settings.common)
    mongo.connect(settings.common.mongodb_uri, settings.db)
    ensure_indexes()
    ensure_registry(settings.registry_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("web")
    sub.add_parser("consumer")
    sub.add_parser("scheduler")
    p = sub.add_parser("load-registry")
    p.add_argument("path")
    p = sub.add_parser("issue-key")
    p.add_argument("role")
    p.add_argument("scope", nargs="?", default="")
    p.add_argument("--token")
    p.add_argument("--label", default="")
    args = parser.parse_args(argv)
    settings = AssignmentSettings.from_env()
    try:
        return _run(args, settings)
    except RegistryError as exc:
        print(f"{PROG}: bad registry: {exc}", file=sys.stderr)
        return 4


def _run(args: argparse.Namespace, settings: AssignmentSettings) -> int:
    if args.command == "load-registry":
        registry = load_registry(args.path)
        mongo.connect(settings.common.mongodb_uri, settings.db)
        from .registry_store import save_registry

        version = save_registry(registry, source=args.path)
        print(
            f"registry loaded from {args.path}: {len(registry.units())} units, "
            f"{len(registry.cadres())} cadres (version {version})"
        )
        return 0
    if args.command == "issue-key":
        mongo.connect(settings.common.mongodb_uri, settings.db)
        try:
            print(issue_key(args.role, args.scope, args.label, token=args.token))
        except ValueError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2
        return 0
    _start(settings)
    if args.command == "web":
        from .app import create_app

        serve(lambda: create_app(settings), settings.common.host, settings.port, settings.web_workers)
        return 0
    stop = stop_on_signals()
    serve_worker_metrics(metrics_port())
    if args.command == "consumer":
        from .consumer import run_consumer

        run_consumer(settings, stop)
    else:
        from .scheduler import run_scheduler

        run_scheduler(settings, stop)
    return 0


if __name__ == "__main__":
    sys.exit(guarded(main, PROG))
