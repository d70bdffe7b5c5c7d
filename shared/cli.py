"""The command line's shared commands (click): API keys, NDJSON import, dead letters, lag.

They are part of `campaign` (services/cli.py, which adds the registry and the services'
processes); `python -m shared.cli` runs them alone. Settings come from the environment like the
services' (`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `KAFKA_TOPIC_PREFIX`, `INTAKE_DB`,
`ASSIGNMENT_DB`, `NOTIFY_DB`). A bad setting is one line and exit 2; an unreachable broker or
database is one line and exit 3; a command that did its work but found a problem (a rejected
import line, an unknown key) exits 1.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import click

from shared.broker_commands import dlq, lag
from shared.entry import BadSetting, Unreachable
from shared.settings import CommonSettings, Env, SettingsError

SERVICES: tuple[str, ...] = ("intake", "assignment", "notify")
ROLE_SERVICES: dict[str, tuple[str, ...]] = {
    "frontline": ("intake",),
    "cadre": ("assignment",),
    "supervisor": ("intake", "assignment"),
    "admin": SERVICES,
}
DB_SETTINGS: dict[str, tuple[str, str]] = {
    "intake": ("INTAKE_DB", "campaign_intake"),
    "assignment": ("ASSIGNMENT_DB", "campaign_assignment"),
    "notify": ("NOTIFY_DB", "campaign_notify"),
}


@dataclass(frozen=True)
class CliSettings:
    """The shared settings plus each service's database name."""

    common: CommonSettings
    databases: dict[str, str]

    @classmethod
    def from_env(cls, env: Env | None = None) -> CliSettings:
        env = env or Env()
        return cls(common=CommonSettings.from_env(env),
                   databases={svc: env.str(name, default) for svc, (name, default) in DB_SETTINGS.items()})


def load_settings() -> CliSettings:
    """The settings from the environment, or a `BadSetting` (exit 2) naming the variable."""
    try:
        return CliSettings.from_env(Env())
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None


def services_for_role(role: str, wanted: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The services a key of `role` is issued to: `wanted`, or every service that accepts the role.

    Raises `click.BadParameter` for a service that does not accept that role.
    """
    accepting = ROLE_SERVICES[role]
    if not wanted:
        return accepting
    refused = [svc for svc in wanted if svc not in accepting]
    if refused:
        raise click.BadParameter(f"{', '.join(refused)} does not accept {role} keys "
                                 f"(only {', '.join(accepting)})", param_hint="'--service'")
    return tuple(dict.fromkeys(wanted))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Operate the campaign clue system: keys, imports, dead letters, consumer lag."""


# --- keys ------------------------------------------------------------------------------------

@cli.group()
def keys() -> None:
    """Issue, list and revoke API keys in the services' databases."""


class _Databases:
    """mongoengine connections (one alias per service database) for the key commands."""

    def __init__(self, settings: CliSettings, services: tuple[str, ...]) -> None:
        self.settings = settings
        self.services = services

    def __enter__(self) -> _Databases:
        from pymongo.errors import PyMongoError

        from shared import mongo

        try:
            for svc in self.services:
                client = mongo.connect(self.settings.common.mongodb_uri, self.settings.databases[svc],
                                       alias=self.alias(svc))
                client.admin.command("ping")
        except PyMongoError as exc:
            self.__exit__()
            raise Unreachable(f"MONGODB_URI: no MongoDB answers ({type(exc).__name__})") from None
        return self

    def __exit__(self, *_: object) -> None:
        import mongoengine as me

        for svc in self.services:
            me.disconnect(self.alias(svc))

    @staticmethod
    def alias(service: str) -> str:
        return f"cli-{service}"


@contextmanager
def bound_to(document: Any, alias: str) -> Iterator[Any]:
    """Point a mongoengine document class at connection `alias` inside the block.

    mongoengine's own `switch_db` first opens the default connection, which a command line that
    talks to three databases does not have.
    """
    saved_alias = document._meta.get("db_alias")
    saved_collection = getattr(document, "_collection", None)
    document._meta["db_alias"] = alias
    document._collection = None
    try:
        yield document
    finally:
        if saved_alias is None:
            document._meta.pop("db_alias", None)
        else:
            document._meta["db_alias"] = saved_alias
        document._collection = saved_collection


@keys.command("issue")
@click.argument("role", type=click.Choice(tuple(ROLE_SERVICES)), metavar="ROLE")
@click.argument("scope", default="")
@click.option("--service", "services", multiple=True, type=click.Choice(SERVICES),
              help="Issue into this service's database (repeatable). Default: every service "
                   "that accepts the role.")
@click.option("--token", help="Store this token instead of a new random one.")
@click.option("--label", default="", help="A note kept with the key (who or what holds it).")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None,
              help="The key stops working this many days from now (default: never).")
def keys_issue(role: str, scope: str, services: tuple[str, ...], token: str | None, label: str,
               expires_days: int | None) -> None:
    """Issue one key of ROLE bound to SCOPE and print it (the only time it is shown).

    SCOPE is the frontline unit code, the cadre id or the jurisdiction code; admin keys have none.
    A --token must be as strong as a random one (32+ characters, 16+ different).
    """
    from datetime import UTC, datetime, timedelta

    from shared.auth import ApiKey, KeyAuditEntry, check_token_strength, issue_key

    targets = services_for_role(role, services)
    if role != "admin" and not scope:
        raise click.BadParameter(f"a {role} key needs a SCOPE", param_hint="'SCOPE'")
    if role == "admin" and scope:
        raise click.BadParameter("an admin key has no SCOPE", param_hint="'SCOPE'")
    if token is not None:
        try:
            check_token_strength(token)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--token'") from None
    expires_at = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    settings = load_settings()
    with _Databases(settings, targets) as dbs:
        for svc in targets:
            with bound_to(ApiKey, dbs.alias(svc)), bound_to(KeyAuditEntry, dbs.alias(svc)):
                token = issue_key(role, scope, label=label, token=token, expires_at=expires_at,
                                  actor=_cli_actor())
            click.echo(f"issued {role} key {scope or '(no scope)'} in {svc} "
                       f"({settings.databases[svc]})", err=True)
    click.echo(token)


@keys.command("revoke")
@click.argument("token_or_digest")
def keys_revoke(token_or_digest: str) -> None:
    """Revoke a key (its token, or the SHA-256 digest that is its id) in every service's database.

    A token that starts with "-" (possible for keys issued before tokens were kept from doing so)
    goes after "--": `keys revoke -- -abc...`.
    """
    from shared.auth import ApiKey, KeyAuditEntry, revoke_key

    settings = load_settings()
    found = 0
    with _Databases(settings, SERVICES) as dbs:
        for svc in SERVICES:
            with bound_to(ApiKey, dbs.alias(svc)), bound_to(KeyAuditEntry, dbs.alias(svc)):
                revoked = revoke_key(token_or_digest, actor=_cli_actor())
            found += revoked
            click.echo(f"{svc}: {'revoked' if revoked else 'no such key'}")
    if not found:
        raise click.ClickException("no service knows that key")


def _cli_actor() -> str:
    from shared.auth import cli_actor

    return cli_actor()


def _when(ms: int | None) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ") if ms else "-"


@keys.command("list")
def keys_list() -> None:
    """List the keys of every service's database: id (digest), role, scope, state, expiry, last
    use and label; never a token."""
    from shared.auth import ApiKey, list_keys

    settings = load_settings()
    now_ms = int(time.time() * 1000)
    with _Databases(settings, SERVICES) as dbs:
        for svc in SERVICES:
            with bound_to(ApiKey, dbs.alias(svc)):
                rows = list_keys()
            for row in rows:
                state = ("revoked" if row["revoked"] else
                         "expired" if row["expires_ms"] and row["expires_ms"] <= now_ms else "active")
                click.echo("\t".join([svc, row["id"][:16], row["role"] or "", row["scope"] or "-", state,
                                      f"expires={_when(row['expires_ms'])}",
                                      f"last_used={_when(row['last_used_ms'])}", row["label"] or ""]))


# --- import ----------------------------------------------------------------------------------

@keys.command("webhook-secret")
@click.argument("url")
def keys_webhook_secret(url: str) -> None:
    """Print the secret a reporter's webhook at URL verifies X-Signature with (derived from
    NOTIFY_WEBHOOK_SECRET for that URL alone; give it to that recipient only)."""
    from shared.sealing import webhook_recipient_secret as recipient_secret

    try:
        master = Env().str("NOTIFY_WEBHOOK_SECRET", required=True)
    except SettingsError as exc:
        raise BadSetting(str(exc)) from None
    click.echo(recipient_secret(master.encode(), url).decode())


@cli.group("import")
def import_() -> None:
    """Bring records kept elsewhere into the services."""


@import_.command("clues")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default="http://127.0.0.1:8001", show_default=True, help="Intake's base URL.")
@click.option("--key", required=True, help="A frontline or supervisor key of intake.")
@click.option("--batch", "batch_size", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Lines per request.")
@click.option("--errors", "errors_file", type=click.File("w", encoding="utf-8"),
              help="Write rejected lines' errors here (NDJSON) instead of to stderr.")
@click.option("--review-batch", help="The review batch (大起底/回头看) these clues form; needs --deadline.")
@click.option("--deadline", help="The batch's 限期处置 deadline, ISO with offset: 2027-03-31T23:59:59+08:00.")
def import_clues(file: Path, url: str, key: str, batch_size: int, errors_file: TextIO | None,
                 review_batch: str | None = None, deadline: str | None = None) -> None:
    """Send an NDJSON FILE of old clues (one per line) to intake's POST /v1/clues:import.

    Prints the accepted, rejected and failed counts; each rejected or failed line's number and
    errors go to --errors or stderr. Exits 1 when any line was not accepted. Each batch carries an
    Idempotency-Key made from its content, so running the same file again with the same --batch
    re-sends failed lines without importing accepted ones twice.
    """
    from shared import clue_import

    if bool(review_batch) != bool(deadline):
        raise click.UsageError("--review-batch and --deadline go together")
    total = clue_import.count_lines(file)
    importer = clue_import.ClueImporter(url, key, review=(review_batch, deadline) if review_batch else None)
    try:
        with click.progressbar(length=total, label="importing", show_pos=True, file=sys.stderr) as bar:
            counts = clue_import.send_file(file, importer, batch_size, errors_file or sys.stderr,
                                           bar.update)
    except clue_import.ImportRefused as exc:
        raise click.ClickException(str(exc)) from None
    except clue_import.IntakeUnreachable as exc:
        raise Unreachable(str(exc)) from None
    finally:
        importer.close()
    failed = f", failed {counts['failed']} (run again to re-send them)" if counts["failed"] else ""
    click.echo(f"accepted {counts['accepted']}, rejected {counts['rejected']}{failed} "
               f"of {total} lines from {file}")
    if counts["rejected"] or counts["failed"]:
        click.get_current_context().exit(1)


cli.add_command(dlq)
cli.add_command(lag)


def main() -> None:
    cli(prog_name="python -m shared.cli")


if __name__ == "__main__":
    main()
