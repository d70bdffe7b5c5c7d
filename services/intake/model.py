"""The clue (线索) aggregate: what a clue is as intake keeps it, its transitions, the events they
cause and the errors they raise.

Plain Python over the clue as stored (a dict): no storage, no HTTP, no broker. A clue is received
(it is its own clue-received event, see `received_event`), followed up by its reporter, moved by
the case events assignment sends back (which also acknowledge it), and its replay data and
sealed identity expire. A transition returns what changes (`Move`); the use case has `ClueStore`
write it. The reporter's identity only ever appears here sealed (ReporterVault ciphertext).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ulid import ULID

from services.intake import receipts, status
from services.intake.keys import Keys, key_digest
from shared import events
from shared.sealing import ReporterVault, contact_for_notify, seal_for_notify
from shared.times import to_ms

log = logging.getLogger(__name__)

SOURCE = "/services/intake"
SUBJECT_FIELDS = ("name", "position", "employer", "rank", "party_member")
REVIEW_FIELDS = ("original_received_at", "original_unit", "prior_disposition", "file_number", "batch")
REPLAY_TTL = timedelta(hours=24)
_EVENT_TIME = {"case-assigned": "assigned_at", "case-escalated": "escalated_at", "case-closed": "closed_at"}
# What a field left out of the stored document reads as (mongoengine's defaults).
_DEFAULTS: dict[str, Any] = {"details": "", "collusion": False, "anonymous": True, "acknowledged": False}


class ClueError(Exception):
    """A command the clue cannot take."""


class ReceiptNotFound(ClueError, LookupError):
    """No clue has this receipt (wrong code or wrong secret: the caller cannot tell which)."""


class IdempotencyConflict(ClueError):
    """The Idempotency-Key was used before with a different body."""


class BatchConflict(ClueError):
    """A review batch of this name exists with another deadline."""


def new_id() -> str:
    """A new string id (ULID, as `shared.mongo.new_id`), without importing the storage layer."""
    return str(ULID())


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def millis(value: datetime) -> datetime:
    """`value` cut to milliseconds, the precision MongoDB keeps, so a rebuilt event is identical."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def event_time(event: events.Event) -> datetime:
    return event.data.get(_EVENT_TIME.get(event.topic, "")) or event.time


def unit_jurisdiction(unit: str) -> str:
    """The jurisdiction of a unit code: ``<jurisdiction>#commission``, ``<employer>#embedded``
    (an employer's code is its jurisdiction's plus a slug)."""
    code, _, kind = unit.partition("#")
    return code.rsplit("/", 1)[0] if kind == "embedded" else code


def conflict_destination(event: events.Event) -> str | None:
    """Where a conflict-of-interest escalation took its clue (a jurisdiction), or None."""
    data = event.data
    if event.topic != events.CASE_ESCALATED or "conflict" not in (data.get("reasons") or []):
        return None
    return unit_jurisdiction(data.get("to_unit") or "")


def timeline_line(line_id: str, clue_id: str, at: datetime, event_type: str,
                  update: status.Update) -> dict[str, Any]:
    """One reporter-safe line of a clue's timeline as stored (its id is the event that caused it)."""
    kind = events.TOPIC_OF_TYPE.get(event_type, event_type)
    return {"_id": line_id, "clue_id": clue_id, "at": at, "kind": kind,
            "message_zh": update.zh, "message_en": update.en}


@dataclass
class Move:
    """What an event does to a clue: its new status, the fields to set (status included), and the
    timeline line it adds, if any."""

    status: str
    changes: dict[str, Any]
    line: dict[str, Any] | None


def _review_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    original = data.get("original_received_at")
    return {"original_received_at": iso(original) if original else None,
            "original_unit": data.get("original_unit"), "prior_disposition": data.get("prior_disposition"),
            "file_number": data.get("file_number"), "batch": data.get("batch")}


class Clue:
    """One clue as stored; transitions return what changes, never write. Fields read as
    attributes (`clue.status`, `clue.id`), as the routes and pages show them."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "id":
            return self.doc["_id"]
        return self.doc.get(name, _DEFAULTS.get(name))

    @classmethod
    def receive(cls, data: Mapping[str, Any], frontline_unit: str, keys: Keys, receipt: receipts.Receipt,
                idempotency_key: str | None, request_hash: str | None, now: datetime,
                extra: Mapping[str, Any] | None = None) -> Clue:
        """A new clue from a body ClueSchema accepted (built directly: this is the hot path)."""
        clue_id = new_id()
        reporter = data["reporter"]
        contact = contact_for_notify(reporter)
        occurred = data.get("occurred_on")
        code_digest, secret_digest = receipts.digests(keys.receipt_key, receipt)
        doc = {
            "_id": clue_id, "frontline_unit": frontline_unit, "source": data["source"],
            "category": data["category"], "summary": data["summary"], "details": data.get("details") or "",
            "jurisdiction": data["jurisdiction"], "subject": dict(data["subject"]),
            "amount_cny": data.get("amount_cny"), "occurred_on": occurred.isoformat() if occurred else None,
            "collusion": data.get("collusion", False), "anonymous": contact is None,
            "reporter_sealed": keys.vault.seal(reporter), "reporter_ref": "r_" + secrets.token_hex(16),
            "contact_sealed": seal_for_notify(contact, keys.notify_public_key) if contact else None,
            "receipt_code_digest": code_digest, "receipt_secret_digest": secret_digest,
            "status": status.INITIAL_STATUS, "received_at": now, "received_event_id": new_id(),
            "acknowledged": False, "last_staged_ms": to_ms(now),
            "idempotency_key": (key_digest(idempotency_key, keys.request_key) if idempotency_key
                                else f"none:{clue_id}"),
            "request_hash": request_hash, "parties": data.get("parties") or None, **_review_fields(data),
            "replay_until_ms": to_ms(now + REPLAY_TTL) if idempotency_key else None,
            **(extra or {}),  # a card's or an observer's reference (cards.py, observers.py)
        }
        # As mongoengine stores a document: no key for a field that is None.
        return cls({key: value for key, value in doc.items() if value is not None})

    def answer(self, receipt: receipts.Receipt) -> dict[str, Any]:
        """The 202 body of a just-received clue (the receipt is shown this once)."""
        return {"clue_id": self.id, "status": self.status, "received_at": iso(self.received_at),
                "receipt": {"code": receipt.code, "secret": receipt.secret}}

    def received_event(self) -> dict[str, Any]:
        return received_event(self.doc)

    def replayed_answer(self, request_hash: str | None, now: datetime,
                        vault: ReporterVault) -> dict[str, Any]:
        """The first answer again, for a request with this clue's Idempotency-Key; raises
        IdempotencyConflict for another body or a key older than 24 h."""
        if not self.replay_sealed or (self.replay_until_ms or 0) <= to_ms(now):
            raise IdempotencyConflict("this Idempotency-Key was used more than 24 hours ago")
        if not hmac.compare_digest(self.request_hash or "", request_hash or ""):
            raise IdempotencyConflict("this Idempotency-Key was used with a different body")
        return vault.open(self.replay_sealed)

    def take(self, event_type: str, data: Mapping[str, Any], line_id: str, at: datetime,
             acknowledge: bool) -> Move:
        """What one event (a case event, a follow-up) does to the clue's status and timeline."""
        new_status, update = status.apply(self.status, event_type, data)
        line = timeline_line(line_id, self.id, at, event_type, update) if update is not None else None
        changes: dict[str, Any] = {"status": new_status}
        if new_status == status.CLOSED and self.status != status.CLOSED:
            changes["closed_ms"] = to_ms(at)  # the objection window starts (retention)
        if acknowledge:
            changes["acknowledged"] = True
        return Move(new_status, changes, line)

    def follow_up(self, message: str, objection: bool, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        """A reporter's message or objection: the follow-up as stored and its clue-followed-up event."""
        item = {"_id": new_id(), "clue_id": self.id, "message": message, "objection": objection, "at": at,
                "applied": False}
        event = events.make_event(events.CLUE_FOLLOWED_UP, {
            "clue_id": self.id, "message": message, "objection": objection, "at": at}, source=SOURCE, at=at)
        return item, event

    def takes_conflict_move(self, to: str) -> bool:
        """Whether a conflict escalation to `to` is news: the highest level (shortest code) wins."""
        return self.conflict_moved_to is None or len(to) < len(self.conflict_moved_to)


def received_event(clue: Mapping[str, Any]) -> dict[str, Any]:
    """The clue-received event of a clue as stored: the same id and content every time.

    Built JSON-ready and not checked against the event's schema here (6 % of the service's Python
    time): every field comes from a body ClueSchema accepted, and the fuzz test over POST /v1/clues
    decodes the event of each accepted body as a consumer would."""
    subject = {k: clue["subject"].get(k) for k in SUBJECT_FIELDS}
    data = {
        "clue_id": clue["_id"], "received_at": iso(clue["received_at"]), "source": clue["source"],
        "category": clue["category"], "jurisdiction": clue["jurisdiction"], "subject": subject,
        "amount_cny": clue.get("amount_cny"), "collusion": clue.get("collusion", False),
        "reporter_ref": clue["reporter_ref"], "reporter_contact_sealed": clue.get("contact_sealed"),
        "summary": clue["summary"], "details": clue.get("details", ""),
        "occurred_on": clue.get("occurred_on"), "frontline_unit": clue["frontline_unit"],
        "anonymous": clue.get("anonymous", True), "parties": clue.get("parties") or [],
    }
    for name in REVIEW_FIELDS:  # an imported old clue's (大起底/回头看); absent on every other clue
        if clue.get(name) is not None:
            data[name] = clue[name]
    return events.make_event(events.CLUE_RECEIVED, data, source=SOURCE,
                             event_id=clue["received_event_id"], at=clue["received_at"], validate=False,
                             json_ready=True)


def review_batch(frontline_unit: str, name: str, deadline: datetime) -> tuple[str, dict[str, str]]:
    """The id of the review batch (大起底/回头看) `name` of the posting unit, and its fields."""
    batch_id = "b_" + hashlib.sha256(f"{frontline_unit}\n{name}".encode()).hexdigest()[:24]
    return batch_id, {"name": name, "deadline": iso(deadline), "frontline_unit": frontline_unit}


def fold(read: dict[str, str], fresh: list[events.Event]) -> tuple[
        dict[str, str], list[dict[str, Any]], dict[str, list[events.Event]]]:
    """Each clue's status after its events in the order given (statuses only move forward), the
    timeline lines those events add, and the events by clue; events about clues intake does not
    hold (not in `read`) are logged and left out."""
    after = dict(read)
    lines: list[dict[str, Any]] = []
    by_clue: dict[str, list[events.Event]] = {}
    for event in fresh:
        clue_id = event.data["clue_id"]
        if clue_id not in read:
            log.warning("case event for a clue intake does not hold", extra={"clue_id": clue_id})
            continue
        by_clue.setdefault(clue_id, []).append(event)
        after[clue_id], update = status.apply(after[clue_id], event.type, event.data)
        if update is not None:
            lines.append(timeline_line(event.id, clue_id, event_time(event), event.type, update))
    return after, lines, by_clue


def moved(before: str, after: str, clue_events: list[events.Event], now: datetime) -> dict[str, Any]:
    """The fields of a clue moved from `before` to `after` by its case events: acknowledged, and a
    clue newly closed notes when (its case-closed event's time), which starts the objection
    window of `retention`."""
    changes: dict[str, Any] = {"status": after, "acknowledged": True}
    if after == status.CLOSED and before != status.CLOSED:
        closing = [e for e in clue_events if e.topic == events.CASE_CLOSED]
        changes["closed_ms"] = to_ms(event_time(closing[-1]) if closing else now)
    return changes
