"""The operator's command line (click): API keys, the registry file, NDJSON import, dead letters, lag.

Run as `python -m shared.cli --help`. Settings come from the environment like the services'
(`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, `KAFKA_TOPIC_PREFIX`, `INTAKE_DB`, `ASSIGNMENT_DB`,
`NOTIFY_DB`). A bad setting is one line and exit 2; an unreachable broker or database is one line
and exit 3; a command that did its work but found a problem (an invalid registry file, a rejected
import line, an unknown key) exits 1.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import click

from shared import events
from shared.entry import EXIT_DEPENDENCY, EXIT_SETTINGS
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
# The services' consumer groups and the topics each reads (services/*/consumer.py; a unit test
# holds this table to them).
CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    "intake": (events.CASE_ASSIGNED, events.CASE_ESCALATED, events.CASE_CLOSED),
    "assignment": (events.CLUE_RECEIVED, events.CLUE_FOLLOWED_UP),
    "notify": (events.CLUE_RECEIVED, events.CASE_ASSIGNED, events.CASE_ESCALATED, events.CASE_CLOSED),
}
REPLAY_GROUP = "campaign-dlq-replay"


class BadSetting(click.ClickException):
    exit_code = EXIT_SETTINGS

    def format_message(self) -> str:
        return f"bad setting: {self.message}"


class Unreachable(click.ClickException):
    exit_code = EXIT_DEPENDENCY


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
    """Operate the campaign clue system: keys, registry, imports, dead letters, consumer lag."""


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
    """How the audit trail names an operator at the command line (there is no acting key)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


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


# --- registry --------------------------------------------------------------------------------

@cli.group()
def registry() -> None:
    """Check registry files (jurisdictions, units, cadres)."""


@registry.command("validate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def registry_validate(path: Path) -> None:
    """Check a registry YAML file; print its counts, or the first problem as `file:line: reason`."""
    from services.assignment.registry import RegistryError, load_registry

    try:
        loaded = load_registry(path)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror or exc}") from None
    click.echo(f"OK {path}: {len(loaded.jurisdictions())} jurisdictions, {len(loaded.employers())} "
               f"employers, {len(loaded.units())} units, {len(loaded.cadres())} cadres")


# --- import ----------------------------------------------------------------------------------

def count_lines(path: Path) -> int:
    """The number of non-blank lines of an NDJSON file (what the progress bar counts)."""
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def batches(path: Path, size: int) -> Iterator[list[tuple[int, bytes]]]:
    """The file's non-blank lines as (line number in the file, bytes) in batches of `size`."""
    batch: list[tuple[int, bytes]] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            batch.append((number, line.rstrip(b"\r\n")))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def parse_results(body: bytes) -> list[dict[str, Any]]:
    """The per-line results of an import response.

    Intake answers NDJSON, one result per line: `line` (1-based within the request body),
    `result` (`accepted`, `rejected`, or `failed` when a dependency was down: send it again),
    `code` and `errors`. Also read: a JSON list, or an object holding it under `results` or
    `items`, with `status` for `result`. The outcome is returned as `status`.
    """
    text = body.decode("utf-8").strip()
    try:
        parsed: Any = json.loads(text) if text else []
    except json.JSONDecodeError:
        parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(parsed, dict):
        wrapped = parsed.get("results", parsed.get("items"))
        parsed = wrapped if wrapped is not None else [parsed] if "line" in parsed else None
    if not isinstance(parsed, list) or not all(isinstance(r, dict) for r in parsed):
        raise ValueError("the response is not a list of per-line results")
    out = []
    for index, result in enumerate(parsed, start=1):
        status = result.get("result", result.get("status"))
        if status not in ("accepted", "rejected", "failed"):
            status = "accepted" if result.get("accepted") is True else "rejected"
        out.append({**result, "line": int(result.get("line", index)), "status": status})
    return out


class _Importer:
    """Posts batches to intake's import endpoint, retrying 429/503 as the server asks."""

    RETRIABLE = (429, 502, 503, 504)

    def __init__(self, url: str, key: str, tries: int = 5, timeout: float = 300.0) -> None:
        import requests

        self.endpoint = url.rstrip("/") + "/v1/clues:import"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.tries = tries
        self.timeout = timeout

    def post(self, body: bytes) -> list[dict[str, Any]]:
        import requests

        headers = {"Content-Type": "application/x-ndjson",
                   # The same batch sent again (a re-run after a crash) is recognised as a repeat.
                   "Idempotency-Key": "import-" + hashlib.sha256(body).hexdigest()}
        for attempt in range(1, self.tries + 1):
            try:
                resp = self.session.post(self.endpoint, data=body, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                raise Unreachable(f"{self.endpoint}: {type(exc).__name__}") from None
            if resp.status_code in self.RETRIABLE and attempt < self.tries:
                time.sleep(min(30.0, float(resp.headers.get("Retry-After", "1") or 1)))
                continue
            if resp.status_code >= 400:
                detail = _problem_detail(resp)
                raise click.ClickException(f"{self.endpoint}: HTTP {resp.status_code}{detail}")
            try:
                return parse_results(resp.content)
            except ValueError as exc:
                raise click.ClickException(f"{self.endpoint}: {exc}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.session.close()


def _problem_detail(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        text = body.get("detail") or body.get("title")
        return f": {text}" if text else ""
    return ""


@cli.command("import-clues")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default="http://127.0.0.1:8001", show_default=True, help="Intake's base URL.")
@click.option("--key", required=True, help="A frontline or supervisor key of intake.")
@click.option("--batch", "batch_size", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Lines per request.")
@click.option("--errors", "errors_file", type=click.File("w", encoding="utf-8"),
              help="Write rejected lines' errors here (NDJSON) instead of to stderr.")
def import_clues(file: Path, url: str, key: str, batch_size: int, errors_file: TextIO | None) -> None:
    """Send an NDJSON FILE of old clues (one per line) to intake's POST /v1/clues:import.

    Prints the accepted, rejected and failed counts; each rejected or failed line's number and
    errors go to --errors or stderr. Exits 1 when any line was not accepted. Each batch carries an
    Idempotency-Key made from its content, so running the same file again with the same --batch
    re-sends failed lines without importing accepted ones twice.
    """
    total = count_lines(file)
    importer = _Importer(url, key)
    counts = {"accepted": 0, "rejected": 0, "failed": 0}
    out = errors_file or sys.stderr
    try:
        with click.progressbar(length=total, label="importing", show_pos=True,
                               file=sys.stderr) as bar:
            for batch in batches(file, batch_size):
                results = importer.post(b"\n".join(text for _, text in batch) + b"\n")
                if len(results) != len(batch):
                    raise click.ClickException(
                        f"the server answered {len(results)} results for {len(batch)} lines "
                        f"(lines {batch[0][0]}..{batch[-1][0]})")
                for result in results:
                    counts[result["status"]] += 1
                    if result["status"] == "accepted":
                        continue
                    file_line = batch[result["line"] - 1][0] if 1 <= result["line"] <= len(batch) else None
                    errors = result.get("errors", result.get("detail", result["status"]))
                    entry = {"line": file_line, "errors": errors}
                    if result["status"] == "failed":
                        entry["failed"] = True
                    out.write(json.dumps(entry, ensure_ascii=False) + "\n")
                bar.update(len(batch))
    finally:
        importer.close()
    failed = f", failed {counts['failed']} (run again to re-send them)" if counts["failed"] else ""
    click.echo(f"accepted {counts['accepted']}, rejected {counts['rejected']}{failed} "
               f"of {total} lines from {file}")
    if counts["rejected"] or counts["failed"]:
        click.get_current_context().exit(1)


# --- dead letters ----------------------------------------------------------------------------

@contextmanager
def broker_errors(settings: CommonSettings) -> Iterator[None]:
    """Turn any broker failure inside the block into one line and exit 3."""
    from kafka.errors import KafkaError

    try:
        yield
    except KafkaError as exc:
        raise Unreachable(f"KAFKA_BOOTSTRAP_SERVERS: the broker at {settings.kafka_bootstrap_servers} "
                          f"failed ({type(exc).__name__})") from None


def _kafka(settings: CommonSettings, **config: Any):
    from kafka import KafkaConsumer

    from shared.web import kafka_reachable

    if not kafka_reachable(settings.kafka_bootstrap_servers, timeout_s=3.0):
        raise Unreachable(f"KAFKA_BOOTSTRAP_SERVERS: no broker answers at {settings.kafka_bootstrap_servers}")
    return KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                         request_timeout_ms=30_000, fetch_max_wait_ms=100, **config)


def _partitions(consumer: Any, topic: str) -> list:
    from kafka import TopicPartition

    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise click.ClickException(f"topic {topic!r} does not exist")
    return [TopicPartition(topic, p) for p in sorted(parts)]


def end_offsets(consumer: Any, tps: list, wait_s: float = 5.0) -> dict:
    """The end offset of each partition (the offset the next record will get); assigns `tps`.

    ListOffsets alone comes up short on the local stand-in broker (it answers the start of the
    last record batch plus one), so the high watermark of a fetch from there counts too; on
    Apache Kafka both agree.
    """
    end = consumer.end_offsets(tps)
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, end[tp])
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        consumer.poll(timeout_ms=200)
        marks = {tp: consumer.highwater(tp) for tp in tps}
        if all(mark is not None for mark in marks.values()):
            return {tp: max(end[tp], marks[tp]) for tp in tps}
    return end


def read_partitions(consumer: Any, tps: list, start: dict, end: dict, limit: int | None) -> Iterator:
    """Records of `tps` from `start` up to (excluding) the `end` offsets, at most `limit` of them."""
    for tp in tps:
        consumer.seek(tp, start[tp])
    remaining = {tp for tp in tps if start[tp] < end[tp]}
    count = 0
    while remaining and (limit is None or count < limit):
        batch = consumer.poll(timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                if tp not in remaining or record.offset >= end[tp]:
                    continue
                yield record
                count += 1
                if record.offset + 1 >= end[tp]:
                    remaining.discard(tp)
                if limit is not None and count >= limit:
                    return
        for tp in list(remaining):
            if consumer.position(tp) >= end[tp]:
                remaining.discard(tp)


def _logical_topic(topic: str) -> str:
    base = topic.removesuffix(".dlq")
    if base not in events.TOPICS:
        raise click.BadParameter(f"{topic!r} is not one of {', '.join(events.TOPICS)}", param_hint="'TOPIC'")
    return base


def _headers(record: Any) -> dict[str, str]:
    return {k: (v or b"").decode("utf-8", errors="replace") for k, v in (record.headers or [])}


@cli.group()
def dlq() -> None:
    """Look at and replay the dead-letter topics (`<topic>.dlq`)."""


@dlq.command("show")
@click.argument("topic")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many records.")
def dlq_show(topic: str, limit: int | None) -> None:
    """Print each dead-lettered record of TOPIC: where it was, its key and its error header."""
    settings = load_settings().common
    name = settings.topic_prefix + events.dlq_topic(_logical_topic(topic))
    with broker_errors(settings):
        _show(settings, name, limit)


def _show(settings: CommonSettings, name: str, limit: int | None) -> None:
    consumer = _kafka(settings, group_id=None)
    try:
        tps = _partitions(consumer, name)
        start, end = consumer.beginning_offsets(tps), end_offsets(consumer, tps)
        shown = 0
        for record in read_partitions(consumer, tps, start, end, limit):
            h = _headers(record)
            key = record.key.decode(errors="replace") if record.key else ""
            click.echo(f"{record.partition}:{record.offset} key={key} group={h.get('consumer_group', '?')} "
                       f"from={h.get('original_topic', '?')}/{h.get('original_partition', '?')}:"
                       f"{h.get('original_offset', '?')} error={h.get('error', '')}")
            shown += 1
        click.echo(f"{shown} dead-lettered record(s) on {name}", err=True)
    finally:
        consumer.close()


@dlq.command("replay")
@click.argument("topic")
@click.option("--limit", type=click.IntRange(min=1), help="Replay at most this many records.")
@click.option("--dry-run", is_flag=True, help="List what would be replayed; publish and commit nothing.")
def dlq_replay(topic: str, limit: int | None, dry_run: bool) -> None:
    """Re-publish TOPIC's dead-lettered records (original bytes and key) to TOPIC, after a fix.

    Reads `<TOPIC>.dlq` from where consumer group `campaign-dlq-replay` stopped (the start, the
    first time) up to its end when the command started, and commits after each re-published
    record: running it again replays only what is new.
    """
    settings = load_settings().common
    logical = _logical_topic(topic)
    with broker_errors(settings):
        replayed = _replay(settings, logical, limit, dry_run)
    verb = "would replay" if dry_run else "replayed"
    click.echo(f"{verb} {replayed} record(s) from {settings.topic_prefix + events.dlq_topic(logical)} "
               f"to {settings.topic_prefix + logical}")


def _replay(settings: CommonSettings, logical: str, limit: int | None, dry_run: bool) -> int:
    from kafka import OffsetAndMetadata

    from shared.kafka import DependencyDown, EventProducer

    name = settings.topic_prefix + events.dlq_topic(logical)
    consumer = _kafka(settings, group_id=REPLAY_GROUP)
    producer = None if dry_run else EventProducer(settings, client_id="campaign-dlq-replay")
    replayed = 0
    try:
        tps = _partitions(consumer, name)
        end = end_offsets(consumer, tps)
        begin = consumer.beginning_offsets(tps)
        start = {tp: max(begin[tp], consumer.committed(tp) or 0) for tp in tps}
        for record in read_partitions(consumer, tps, start, end, limit):
            key = record.key.decode(errors="replace") if record.key else ""
            where = f"{name}:{record.partition}:{record.offset}"
            if dry_run:
                click.echo(f"would replay {where} key={key} error={_headers(record).get('error', '')}")
                replayed += 1
                continue
            try:
                producer.send(logical, key, record.value or b"",
                              headers=[("replayed_from", where.encode())])
            except DependencyDown as exc:
                raise Unreachable(f"KAFKA_BOOTSTRAP_SERVERS: {exc}") from None
            tp = next(t for t in tps if t.partition == record.partition)
            consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
            replayed += 1
    finally:
        consumer.close()
        if producer is not None:
            producer.close()
    return replayed


# --- lag -------------------------------------------------------------------------------------

def group_lag(consumer: Any, prefix: str, topics: tuple[str, ...], only_committed: bool) -> list[dict]:
    """Per topic: end offsets minus committed offsets (an uncommitted partition counts from its start)."""
    from kafka import TopicPartition

    rows = []
    for topic in topics:
        name = prefix + topic
        parts = consumer.partitions_for_topic(name)
        if not parts:
            continue
        tps = [TopicPartition(name, p) for p in sorted(parts)]
        end, begin = end_offsets(consumer, tps), consumer.beginning_offsets(tps)
        committed = {tp: consumer.committed(tp) for tp in tps}
        if only_committed and all(c is None for c in committed.values()):
            continue
        lag = sum(max(0, end[tp] - (committed[tp] if committed[tp] is not None else begin[tp])) for tp in tps)
        rows.append({"topic": topic, "partitions": len(tps), "end": sum(end.values()),
                     "committed": sum(c for c in committed.values() if c is not None), "lag": lag})
    return rows


@cli.command("lag")
@click.option("--group", "groups", multiple=True,
              help="A consumer group (repeatable). Default: the services' groups "
                   f"({', '.join(CONSUMER_GROUPS)}).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def lag(groups: tuple[str, ...], as_json: bool) -> None:
    """Show consumer lag per group and topic: records on the topic not yet committed by the group.

    A known group is shown on each topic it reads; any other group on each topic where it has
    committed an offset.
    """
    settings = load_settings().common
    rows = []
    for group in groups or tuple(CONSUMER_GROUPS):
        known = CONSUMER_GROUPS.get(group)
        with broker_errors(settings):
            consumer = _kafka(settings, group_id=settings.topic_prefix + group)
            try:
                found = group_lag(consumer, settings.topic_prefix, known or events.TOPICS,
                                  only_committed=known is None)
            finally:
                consumer.close()
        rows.extend({"group": group, **row} for row in found)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    click.echo(f"{'GROUP':<24} {'TOPIC':<20} {'PARTS':>5} {'END':>10} {'COMMITTED':>10} {'LAG':>8}")
    for r in rows:
        click.echo(f"{r['group']:<24} {r['topic']:<20} {r['partitions']:>5} {r['end']:>10} "
                   f"{r['committed']:>10} {r['lag']:>8}")


def main() -> None:
    cli(prog_name="python -m shared.cli")


if __name__ == "__main__":
    main()
