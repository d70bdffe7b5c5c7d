"""Intake's settings, read once from the environment and validated (secrets fail start-up by name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.sealing import load_key
from shared.settings import CommonSettings, Env, SettingsError

DEFAULT_REGISTRY_FILE = str(Path(__file__).resolve().parents[2] / "deploy" / "registry" / "foshan.yaml")


def _key(env: Env, name: str) -> bytes:
    try:
        return load_key(env.str(name, required=True), name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _rate(env: Env, name: str, default: str) -> str:
    from limits import parse_many

    value = env.str(name, default)
    try:
        parse_many(value)
    except ValueError:
        raise SettingsError(f"{name}: {value!r} is not a rate limit such as '10/minute'") from None
    return value


def _channels(env: Env) -> tuple[str, ...]:
    """INTAKE_REPORTER_CHANNELS: the channels notify is configured to deliver (`make run` sets it
    from notify's settings: sms only with a gateway); the reporter page offers only these."""
    from shared.vocabulary import CHANNELS

    raw = env.str("INTAKE_REPORTER_CHANNELS", ",".join(CHANNELS))
    chosen = tuple(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown or not chosen:
        raise SettingsError(f"INTAKE_REPORTER_CHANNELS: {', '.join(unknown) or raw!r} is not a list of "
                            f"{', '.join(CHANNELS)}")
    return chosen


@dataclass(frozen=True)
class IntakeSettings:
    """Everything the intake service's commands need; the keys never show in a repr."""

    common: CommonSettings
    receipt_key: bytes = field(repr=False)
    reporter_key: bytes = field(repr=False)
    notify_public_key: bytes = field(repr=False)
    db: str = "campaign_intake"
    port: int = 8001
    web_workers: int = 2
    web_threads: int = 4
    mongo_timeout_ms: int = 5000
    reconcile_after_s: float = 60.0
    reconcile_interval_s: float = 10.0
    relay_poll_s: float = 1.0
    web_relay_poll_s: float = 10.0
    receipt_rate_limit: str = "20/minute"
    receipt_code_failures: int = 10
    import_line_max_bytes: int = 64 * 1024
    import_max_lines: int = 10_000
    import_max_bytes: int = 64 * 1024 * 1024
    web_frontline_unit: str = "public/web"
    registry_file: str = DEFAULT_REGISTRY_FILE
    retention_days: int = 180
    public_url: str = ""  # the reporter pages' address for supervision cards' QR codes ("": as asked)
    reporter_channels: tuple[str, ...] = ("inbox", "email", "sms", "webhook")

    @classmethod
    def from_env(cls, env: Env | None = None) -> IntakeSettings:
        env = env or Env()
        return cls(
            common=CommonSettings.from_env(env),
            receipt_key=_key(env, "INTAKE_RECEIPT_KEY"),
            reporter_key=_key(env, "INTAKE_REPORTER_KEY"),
            notify_public_key=_key(env, "NOTIFY_PUBLIC_KEY"),
            db=env.str("INTAKE_DB", "campaign_intake"),
            port=env.int("INTAKE_PORT", 8001, minimum=1, maximum=65535),
            web_workers=env.int("WEB_WORKERS", 2, minimum=1, maximum=64),
            web_threads=env.int("WEB_THREADS", 4, minimum=1, maximum=256),
            mongo_timeout_ms=env.int("INTAKE_MONGO_TIMEOUT_MS", 5000, minimum=100),
            reconcile_after_s=env.float("INTAKE_RECONCILE_AFTER_S", 60.0, minimum=0.1),
            reconcile_interval_s=env.float("INTAKE_RECONCILE_INTERVAL_S", 10.0, minimum=0.1),
            relay_poll_s=env.float("INTAKE_RELAY_POLL_S", 1.0, minimum=0.05),
            web_relay_poll_s=env.float("INTAKE_WEB_RELAY_POLL_S", 10.0, minimum=0.05),
            receipt_rate_limit=_rate(env, "INTAKE_RECEIPT_RATE_LIMIT", "20/minute"),
            receipt_code_failures=env.int("INTAKE_RECEIPT_CODE_FAILURES", 10, minimum=1, maximum=1000),
            import_line_max_bytes=env.int("INTAKE_IMPORT_LINE_MAX_BYTES", 64 * 1024,
                                          minimum=1024, maximum=16 * 1024 * 1024),
            import_max_lines=env.int("INTAKE_IMPORT_MAX_LINES", 10_000, minimum=1, maximum=10_000_000),
            import_max_bytes=env.int("INTAKE_IMPORT_MAX_BYTES", 64 * 1024 * 1024, minimum=1024,
                                     maximum=2**40),
            web_frontline_unit=env.str("INTAKE_WEB_FRONTLINE_UNIT", "public/web"),
            registry_file=env.str("INTAKE_REGISTRY_FILE", DEFAULT_REGISTRY_FILE),
            retention_days=env.int("OBJECTION_WINDOW_DAYS", 180, minimum=1, maximum=36500),
            public_url=env.str("INTAKE_PUBLIC_URL", ""),
            reporter_channels=_channels(env),
        )


def read_registry(path: str) -> dict[str, Any]:
    """The registry file's contents (jurisdictions, employers, units), read once at start-up for the
    pages and the card and observer routes. Raises SettingsError naming INTAKE_REGISTRY_FILE when
    the file cannot be read."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"INTAKE_REGISTRY_FILE: cannot read the registry {path}: "
                            f"{type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"INTAKE_REGISTRY_FILE: cannot read the registry {path}: not a mapping")
    return data
