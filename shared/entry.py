"""Entry-point plumbing: bad settings and unreachable dependencies are one line and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pymongo

from shared.consumer import TooManyFailures
from shared.settings import CommonSettings, SettingsError, redacted_uri
from shared.web import kafka_reachable

EXIT_SETTINGS = 2
EXIT_DEPENDENCY = 3
EXIT_FAILURES = 4


class Unreachable(RuntimeError):
    """A dependency did not answer at start-up."""


def check_dependencies(settings: CommonSettings, timeout_s: float = 5.0) -> None:
    """Raise `Unreachable` with a one-line reason unless Mongo and Kafka both answer."""
    client = None
    try:
        client = pymongo.MongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=int(timeout_s * 1000))
        client.admin.command("ping")
    except Exception as exc:  # noqa: BLE001 - reported as one line, never with the password
        raise Unreachable(f"MONGODB_URI: no MongoDB answers at {redacted_uri(settings.mongodb_uri)} "
                          f"({type(exc).__name__})") from None
    finally:
        if client is not None:
            client.close()
    if not kafka_reachable(settings.kafka_bootstrap_servers, timeout_s):
        raise Unreachable(f"KAFKA_BOOTSTRAP_SERVERS: no broker answers at "
                          f"{settings.kafka_bootstrap_servers}")


def guarded(main: Callable[[], int | None], prog: str) -> int:
    """Run `main`; a bad setting or an unreachable dependency prints one line and exits non-zero."""
    try:
        return main() or 0
    except SettingsError as exc:
        print(f"{prog}: bad setting: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    except Unreachable as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_DEPENDENCY
    except TooManyFailures as exc:  # committed and stopped cleanly: one line, not a traceback
        print(f"{prog}: stopped: {exc}", file=sys.stderr)
        return EXIT_FAILURES
