"""Notify's settings, read once from the environment and validated."""

from __future__ import annotations

from dataclasses import dataclass

from shared.sealing import load_key
from shared.settings import CommonSettings, Env, SettingsError


def _key(env: Env, name: str) -> bytes:
    try:
        return load_key(env.str(name, required=True), name)
    except ValueError as exc:  # SettingsError is a ValueError too; both name the variable only
        raise SettingsError(str(exc)) from None


def deliverable_channels(sms_gateway_url: str | None) -> list[str]:
    """The channels notify can deliver with this configuration: SMS only with a gateway. `make run`
    gives intake this list (INTAKE_REPORTER_CHANNELS), so the reporter page offers no other."""
    return ["inbox", "email", "webhook"] + (["sms"] if sms_gateway_url else [])


@dataclass(frozen=True)
class NotifySettings:
    """What the notify web app, consumer and deliverer need. Secrets are bytes, never logged."""

    common: CommonSettings
    private_key: bytes
    webhook_secret: bytes
    db: str = "campaign_notify"
    port: int = 8003
    web_workers: int = 2
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "notify@campaign.local"
    smtp_timeout: float = 10.0
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    sms_gateway_url: str | None = None
    sms_api_key: str = ""
    sms_timeout: float = 10.0
    webhook_timeout: float = 10.0
    webhook_allow_private_hosts: bool = False
    max_attempts: int = 6
    retry_base_s: float = 2.0
    retry_cap_s: float = 600.0
    lease_s: float = 120.0
    batch_size: int = 200
    channel_workers: int = 4
    poll_interval_s: float = 0.5
    contact_wait_s: float = 7 * 24 * 3600.0
    contact_recheck_s: float = 30.0
    still_handling_days: int = 30
    scheduler_interval_s: float = 3600.0
    retention_days: int = 180

    def __repr__(self) -> str:
        return f"NotifySettings(db={self.db!r}, port={self.port}, secrets=<hidden>)"

    @classmethod
    def from_env(cls, env: Env | None = None) -> NotifySettings:
        env = env or Env()
        if env.optional("SMTP_USERNAME") and not env.bool("SMTP_STARTTLS", False):
            raise SettingsError("SMTP_USERNAME: an SMTP login needs SMTP_STARTTLS=true "
                                "(no password in the clear)")
        common = CommonSettings.from_env(env)
        return cls(
            common=common,
            private_key=_key(env, "NOTIFY_PRIVATE_KEY"),
            webhook_secret=env.str("NOTIFY_WEBHOOK_SECRET", required=True).encode(),
            db=env.str("NOTIFY_DB", "campaign_notify"),
            port=env.int("NOTIFY_PORT", 8003, minimum=1, maximum=65535),
            web_workers=env.int("WEB_WORKERS", 2, minimum=1, maximum=64),
            smtp_host=env.str("SMTP_HOST", "127.0.0.1"),
            smtp_port=env.int("SMTP_PORT", 25, minimum=1, maximum=65535),
            smtp_sender=env.str("SMTP_SENDER", "notify@campaign.local"),
            smtp_timeout=env.float("SMTP_TIMEOUT_S", 10.0, minimum=0.1),
            smtp_starttls=env.bool("SMTP_STARTTLS", False),
            smtp_username=env.optional("SMTP_USERNAME"),
            smtp_password=env.optional("SMTP_PASSWORD"),
            sms_gateway_url=env.optional("SMS_GATEWAY_URL"),
            sms_api_key=env.str("SMS_API_KEY", ""),
            sms_timeout=env.float("SMS_TIMEOUT_S", 10.0, minimum=0.1),
            webhook_timeout=env.float("WEBHOOK_TIMEOUT_S", 10.0, minimum=0.1),
            webhook_allow_private_hosts=env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", False),
            max_attempts=env.int("NOTIFY_MAX_ATTEMPTS", 6, minimum=1, maximum=100),
            retry_base_s=env.float("NOTIFY_RETRY_BASE_S", 2.0, minimum=0.0),
            retry_cap_s=env.float("NOTIFY_RETRY_CAP_S", 600.0, minimum=0.0),
            lease_s=env.float("NOTIFY_LEASE_S", 120.0, minimum=1.0),
            batch_size=env.int("NOTIFY_BATCH_SIZE", 200, minimum=1, maximum=5000),
            channel_workers=env.int("NOTIFY_CHANNEL_WORKERS", 4, minimum=1, maximum=256),
            poll_interval_s=env.float("NOTIFY_POLL_INTERVAL_S", 0.5, minimum=0.01),
            contact_wait_s=env.float("NOTIFY_CONTACT_WAIT_S", 7 * 24 * 3600.0, minimum=1.0),
            contact_recheck_s=env.float("NOTIFY_CONTACT_RECHECK_S", 30.0, minimum=0.1),
            still_handling_days=common.still_handling_days,  # STILL_HANDLING_DAYS, shared
            scheduler_interval_s=env.float("NOTIFY_SCHEDULER_INTERVAL_S", 3600.0, minimum=1.0),
            retention_days=env.int("OBJECTION_WINDOW_DAYS", 180, minimum=1, maximum=36500),
        )
