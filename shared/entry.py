"""Entry-point plumbing for the command line and the services' processes: a bad setting and an
unreachable dependency are one line and an exit code (2 and 3)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
import pymongo

from shared.consumer import TooManyFailures
from shared.kafka_admin import kafka_reachable
from shared.settings import CommonSettings, Env, SettingsError, redacted_uri

EXIT_SETTINGS = 2
EXIT_DEPENDENCY = 3
EXIT_FAILURES = 4


class Unreachable(click.ClickException):
    """A dependency did not answer (at start-up, or when a command needed it): exit 3."""

    exit_code = EXIT_DEPENDENCY


class BadSetting(click.ClickException):
    """A setting is missing or invalid: exit 2, one line naming it."""

    exit_code = EXIT_SETTINGS

    def format_message(self) -> str:
        return f"bad setting: {self.message}"


def load_common_settings(env: Env | None = None) -> CommonSettings:
    """The common settings from the environment, or a `BadSetting` naming the variable."""
    try:
        return CommonSettings.from_env(env or Env())
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None


def check_dependencies(settings: CommonSettings, timeout_s: float = 5.0) -> None:
    """Raise `Unreachable` with a one-line reason unless Mongo and Kafka both answer. Warns once
    (a line per year) when the working-day calendar lacks this year's or next year's holidays."""
    settings.calendar.warn_unknown_years(datetime.now(UTC))
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


def run_consumer_until_stopped(common: CommonSettings, build: Callable[[Any], Any]) -> None:
    """Run the consumer loop that `build(producer)` makes until SIGTERM; the producer (which its
    handlers publish with and its dead letters go through) is closed at the end."""
    from shared.consumer import stop_on_signals
    from shared.kafka import EventProducer

    producer = EventProducer(common)
    try:
        build(producer).run(stop_on_signals())
    finally:
        producer.close()


def guarded(main: Callable[[], int | None], prog: str) -> int:
    """Run `main`; a bad setting or an unreachable dependency prints one line and exits non-zero."""
    try:
        return main() or 0
    except SettingsError as exc:
        print(f"{prog}: bad setting: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    except click.ClickException as exc:
        print(f"{prog}: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except TooManyFailures as exc:  # committed and stopped cleanly: one line, not a traceback
        print(f"{prog}: stopped: {exc}", file=sys.stderr)
        return EXIT_FAILURES
