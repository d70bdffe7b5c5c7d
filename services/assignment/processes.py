"""Assignment's processes: `campaign serve assignment web|consumer|scheduler` (or
`python -m services.assignment ...`), and loading a registry file into the database.

Each process reads its settings from the environment, checks that MongoDB and Kafka answer,
loads the registry file when the database holds none, and runs in the foreground until SIGTERM.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from shared import mongo
from shared.entry import check_dependencies
from shared.logs import configure_logging

from .settings import AssignmentSettings


class BadRegistry(click.ClickException):
    """The registry file is invalid: one line naming file, line and reason; exit 4."""

    exit_code = 4

    def format_message(self) -> str:
        return f"bad registry: {self.message}"


@contextmanager
def registry_errors() -> Iterator[None]:
    from .registry import RegistryError

    try:
        yield
    except RegistryError as exc:
        raise BadRegistry(str(exc)) from None


def _start(settings: AssignmentSettings) -> None:
    from shared.kafka import ensure_topics

    from .documents import ensure_indexes
    from .registry_store import ensure_registry

    configure_logging("assignment", settings.common.log_level)
    check_dependencies(settings.common)
    ensure_topics(settings.common)
    mongo.connect(settings.common.mongodb_uri, settings.db)
    ensure_indexes()
    with registry_errors():
        ensure_registry(settings.registry_path)


def web() -> None:
    """Serve the HTTP API and the pages under gunicorn."""
    from shared.serve import serve

    from .app import create_app

    settings = AssignmentSettings.from_env()
    _start(settings)
    serve(lambda: create_app(settings), settings.common.host, settings.port, settings.web_workers,
          service="assignment")


def consumer() -> None:
    """Consume clue events into cases until SIGTERM."""
    from .consumer import run_consumer

    _run_worker(run_consumer)


def scheduler() -> None:
    """Escalate overdue cases and publish the cases' pending events until SIGTERM."""
    from .scheduler import run_scheduler

    _run_worker(run_scheduler)


def _run_worker(run: Callable[[AssignmentSettings, threading.Event], None]) -> None:
    from shared.consumer import stop_on_signals
    from shared.metrics import metrics_port, serve_worker_metrics

    settings = AssignmentSettings.from_env()
    _start(settings)
    stop = stop_on_signals()
    serve_worker_metrics(metrics_port())
    run(settings, stop)


def load_registry_file(path: Path) -> str:
    """Validate the registry file and store it in assignment's database (replacing the one
    there); a line saying what was loaded. A bad file is a `BadRegistry` naming file and line."""
    from .registry_file import load_registry
    from .registry_store import save_registry

    settings = AssignmentSettings.from_env()
    with registry_errors():
        registry = load_registry(path)
    mongo.connect(settings.common.mongodb_uri, settings.db)
    version = save_registry(registry, source=str(path))
    from shared.auth import audit, cli_actor

    audit("registry.load", cli_actor(), detail={"path": str(path), "version": version})
    return (f"registry loaded from {path}: {len(registry.units())} units, "
            f"{len(registry.cadres())} cadres (version {version})")


PROCESSES = {"web": web, "consumer": consumer, "scheduler": scheduler}
