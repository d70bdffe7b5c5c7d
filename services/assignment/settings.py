"""Settings of the assignment service, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from shared.sealing import load_key
from shared.settings import CommonSettings, Env, SettingsError

from .deadlines import DeadlineRules
from .escalation import EscalationRules
from .routing import SERIOUS_CATEGORIES, SeriousRules

DEFAULT_REGISTRY = str(Path(__file__).resolve().parents[2] / "deploy" / "registry" / "foshan.yaml")


def _category_days(env: Env) -> dict[str, int]:
    """ASSIGNMENT_CATEGORY_DAYS: `solicitation=30,bribery=60` (each at most the close days)."""
    raw = env.optional("ASSIGNMENT_CATEGORY_DAYS")
    out: dict[str, int] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        name, _, days = item.partition("=")
        if not name.strip() or not days.strip().isdigit():
            raise SettingsError(f"ASSIGNMENT_CATEGORY_DAYS: {item.strip()!r} is not category=days")
        out[name.strip()] = int(days)
    return out


def _campaign_deadline(env: Env) -> datetime | None:
    """ASSIGNMENT_CAMPAIGN_DEADLINE: an ISO date-time with its offset (2027-03-31T23:59:59+08:00)."""
    raw = env.optional("ASSIGNMENT_CAMPAIGN_DEADLINE")
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"ASSIGNMENT_CAMPAIGN_DEADLINE: {raw!r} is not an ISO date-time") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise SettingsError(
            f"ASSIGNMENT_CAMPAIGN_DEADLINE: {raw!r} has no time zone (add one, e.g. +08:00)"
        )
    return value


def _session_key(env: Env, production: bool) -> bytes | None:
    raw = env.optional("WORKSPACE_SECRET_KEY")
    if raw is None:
        if production:
            raise SettingsError("WORKSPACE_SECRET_KEY: is not set (32 bytes of base64, required "
                                "in production)")
        return None
    try:
        return load_key(raw, "WORKSPACE_SECRET_KEY")
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


@dataclass(frozen=True)
class AssignmentSettings:
    common: CommonSettings
    db: str = "campaign_assignment"
    port: int = 8002
    web_workers: int = 2
    registry_path: str = DEFAULT_REGISTRY
    scheduler_interval_s: float = 30.0
    relay_poll_interval_s: float = 1.0
    registry_refresh_s: float = 2.0
    escalation: EscalationRules = field(default_factory=EscalationRules)
    deadlines: DeadlineRules = field(default_factory=DeadlineRules)
    serious: SeriousRules = field(default_factory=SeriousRules)
    # Signs the workspace's session cookie and CSRF tokens (WORKSPACE_SECRET_KEY, 32 bytes of
    # base64; required in production). None in development: a random key for this process.
    session_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Env | None = None) -> AssignmentSettings:
        env = env or Env()
        close_days = env.int("ASSIGNMENT_CLOSE_DAYS", 90, minimum=1, maximum=3650)
        common = CommonSettings.from_env(env)
        campaign_deadline = _campaign_deadline(env)
        grace = env.int("ASSIGNMENT_SUPERVISION_GRACE_DAYS", 15, minimum=1)
        try:
            deadlines = DeadlineRules(
                close_days=close_days,
                category_days=_category_days(env),
                campaign_deadline=campaign_deadline,
                supervision_grace_days=grace,
                still_handling_days=common.still_handling_days,
                calendar=common.calendar,
            )
        except ValueError as exc:
            raise SettingsError(f"ASSIGNMENT_CATEGORY_DAYS: {exc}") from None
        escalation = EscalationRules(
            district_amount_cny=env.int("ASSIGNMENT_DISTRICT_AMOUNT_CNY", 50_000, minimum=1),
            city_amount_cny=env.int("ASSIGNMENT_CITY_AMOUNT_CNY", 500_000, minimum=1),
            repeat_count=env.int("ASSIGNMENT_REPEAT_COUNT", 3, minimum=2),
            repeat_window_days=env.int("ASSIGNMENT_REPEAT_WINDOW_DAYS", 365, minimum=1),
            overdue_grace_days=deadlines.supervision_grace_days,
        )
        if escalation.city_amount_cny <= escalation.district_amount_cny:
            raise SettingsError("ASSIGNMENT_CITY_AMOUNT_CNY: must be above ASSIGNMENT_DISTRICT_AMOUNT_CNY")
        serious = SeriousRules(
            amount_cny=env.int("ASSIGNMENT_SERIOUS_AMOUNT_CNY", 10_000, minimum=1),
            categories=SERIOUS_CATEGORIES,
        )
        return cls(
            common=common,
            session_key=_session_key(env, common.production),
            db=env.str("ASSIGNMENT_DB", "campaign_assignment"),
            port=env.int("ASSIGNMENT_PORT", 8002, minimum=1, maximum=65535),
            web_workers=env.int("WEB_WORKERS", 2, minimum=1, maximum=64),
            registry_path=env.str("ASSIGNMENT_REGISTRY", DEFAULT_REGISTRY),
            scheduler_interval_s=env.float("ASSIGNMENT_SCHEDULER_INTERVAL_S", 30.0, minimum=0.05),
            relay_poll_interval_s=env.float("ASSIGNMENT_RELAY_POLL_S", 1.0, minimum=0.05),
            registry_refresh_s=env.float("ASSIGNMENT_REGISTRY_REFRESH_S", 2.0, minimum=0.0),
            escalation=escalation,
            deadlines=deadlines,
            serious=serious,
        )
