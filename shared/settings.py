"""Settings read once from the environment, validated, and passed down.

A bad or missing value raises `SettingsError` whose message names the variable; the
entry points turn it into a one-line error and a non-zero exit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from shared.workdays import WorkCalendar, parse_holidays


class SettingsError(ValueError):
    """A setting is missing or has a bad value; the message starts with the variable's name."""


class Env:
    """Typed, validated reads from one environment mapping."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.environ.get(name, "").strip()
        if value:
            return value
        if required or default is None:
            raise SettingsError(f"{name}: is not set")
        return default

    def optional(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def int(self, name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
        raw = self.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: {raw!r} is not a whole number") from None
        if not minimum <= value <= maximum:
            raise SettingsError(f"{name}: {value} is outside {minimum}..{maximum}")
        return value

    def float(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}: {raw!r} is not a number") from None
        if value < minimum:
            raise SettingsError(f"{name}: {value} is below {minimum}")
        return value

    def bool(self, name: str, default: bool) -> bool:
        raw = self.environ.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name}: {raw!r} is not a boolean (true/false)")

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str(name, default)
        if value not in choices:
            raise SettingsError(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value


def _check_bootstrap(value: str) -> str:
    for server in value.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError(
                f"KAFKA_BOOTSTRAP_SERVERS: {server.strip()!r} is not host:port")
    return value


def _check_prefix(value: str) -> str:
    if value and not all(ch.isalnum() or ch in "-_." for ch in value):
        raise SettingsError("KAFKA_TOPIC_PREFIX: only letters, digits, '-', '_' and '.' are allowed")
    return value


def redacted_uri(uri: str) -> str:
    """`uri` with the password of its user part replaced by ***, for messages and logs."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return "<not a URI>"
    authority, slash, tail = rest.partition("/")
    if "@" not in authority:
        return uri
    userinfo, _, hosts = authority.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{hosts}{slash}{tail}"


def _check_mongo(value: str) -> str:
    if urlparse(value).scheme not in {"mongodb", "mongodb+srv"}:
        raise SettingsError("MONGODB_URI: must start with mongodb:// or mongodb+srv://")
    return value


@dataclass(frozen=True)
class CommonSettings:
    """What every service needs: where the broker and database are, and how to talk to them."""

    kafka_bootstrap_servers: str
    mongodb_uri: str = field(repr=False)  # may hold a password
    kafka_session_timeout_ms: int = 45_000
    kafka_heartbeat_interval_ms: int = 3_000
    kafka_enable_idempotence: bool = True
    kafka_partitions: int = 6
    kafka_replication_factor: int = 1
    consumer_max_retries: int = 3
    consumer_retry_backoff_ms: int = 200
    consumer_max_consecutive_failures: int = 50
    consumer_max_poll_records: int = 200
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    topic_prefix: str = ""
    # How many proxies in front of the web apps append to X-Forwarded-For / set X-Forwarded-Proto
    # (the production edge: 1). Exactly that many are trusted; 0 trusts none (direct clients).
    trusted_proxy_hops: int = 0
    production: bool = False
    # One setting each, read by every service that uses it: the working-day calendar (holidays
    # of years chinese-calendar does not know) and the quiet days before a "still handling" note.
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    still_handling_days: int = 30

    @classmethod
    def from_env(cls, env: Env) -> CommonSettings:
        session = env.int("KAFKA_SESSION_TIMEOUT_MS", 45_000, minimum=1_000)
        heartbeat = env.int("KAFKA_HEARTBEAT_INTERVAL_MS", 3_000, minimum=100)
        if heartbeat >= session:
            raise SettingsError("KAFKA_HEARTBEAT_INTERVAL_MS: must be below KAFKA_SESSION_TIMEOUT_MS")
        return cls(
            kafka_bootstrap_servers=_check_bootstrap(env.str("KAFKA_BOOTSTRAP_SERVERS", required=True)),
            mongodb_uri=_check_mongo(env.str("MONGODB_URI", required=True)),
            kafka_session_timeout_ms=session,
            kafka_heartbeat_interval_ms=heartbeat,
            kafka_enable_idempotence=env.bool("KAFKA_ENABLE_IDEMPOTENCE", True),
            kafka_partitions=env.int("KAFKA_PARTITIONS", 6, minimum=1, maximum=1000),
            kafka_replication_factor=env.int("KAFKA_REPLICATION_FACTOR", 1, minimum=1, maximum=10),
            consumer_max_retries=env.int("CONSUMER_MAX_RETRIES", 3, minimum=0, maximum=100),
            consumer_retry_backoff_ms=env.int("CONSUMER_RETRY_BACKOFF_MS", 200, minimum=0),
            consumer_max_consecutive_failures=env.int(
                "CONSUMER_MAX_CONSECUTIVE_FAILURES", 50, minimum=1),
            consumer_max_poll_records=env.int("CONSUMER_MAX_POLL_RECORDS", 200, minimum=1),
            log_level=env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            host=env.str("HTTP_HOST", "127.0.0.1"),
            topic_prefix=_check_prefix(env.str("KAFKA_TOPIC_PREFIX", "")),
            trusted_proxy_hops=env.int("TRUSTED_PROXY_HOPS", 0, minimum=0, maximum=10),
            production=env.choice("CAMPAIGN_ENV", "development",
                                  ("development", "production")) == "production",
            calendar=_calendar(env),
            still_handling_days=_still_handling_days(env),
        )


def _calendar(env: Env) -> WorkCalendar:
    try:
        return WorkCalendar(parse_holidays(env.optional("CALENDAR_HOLIDAYS")))
    except ValueError as exc:
        raise SettingsError(f"CALENDAR_HOLIDAYS: {exc}") from None


def _still_handling_days(env: Env) -> int:
    if env.optional("NOTIFY_STILL_HANDLING_DAYS"):
        raise SettingsError(
            "NOTIFY_STILL_HANDLING_DAYS: renamed STILL_HANDLING_DAYS (one setting for all services)"
        )
    return env.int("STILL_HANDLING_DAYS", 30, minimum=1, maximum=3650)
