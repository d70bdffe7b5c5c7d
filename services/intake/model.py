"""The clue as intake holds it after receiving it: its reporter-facing status and timeline, in plain
Python. An event (a case event, a reporter's follow-up) is a `Step`; `Clue.take` says what the
steps do to the clue, as a `Move` that a `ClueStore` saves in one guarded write. The status rules
are status.py's: forward only, an objection reopens a closed clue."""

from __future__ import annotations

import hashlib
import hmac
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

SOURCE = "/services/intake"
SUBJECT_FIELDS = ("name", "position", "employer", "rank", "party_member")
REVIEW_FIELDS = ("original_received_at", "original_unit", "prior_disposition", "file_number", "batch")
REPLAY_TTL = timedelta(hours=24)


class ReceiptNotFound(LookupError):
    """No clue has this receipt (wrong code or wrong secret: the caller cannot tell which)."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different body."""


class BatchConflict(Exception):
    """A review batch of this name exists with another deadline."""


def new_id() -> str:
    """A new string id (a ULID, as `shared.mongo.new_id`) without the storage layer."""
    return str(ULID())


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Line:
    """One line of the reporter's timeline; its id is the id of the event that wrote it, so an
    event taken twice writes it once."""

    id: str
    clue_id: str
    at: datetime
    kind: str
    zh: str
    en: str


@dataclass(frozen=True)
class Step:
    """An event as a clue takes it: its type (topic or CloudEvents type), data, id and time."""

    type: str
    data: dict
    id: str
    at: datetime


@dataclass(frozen=True)
class Move:
    """What steps do to a clue: its status before and after, the lines they add, whether the clue
    is now acknowledged (a case event settles its clue-received), and, when the clue became
    closed, when (the objection window of retention starts then)."""

    clue_id: str
    before: str
    after: str
    lines: tuple[Line, ...]
    acknowledge: bool
    closed_at: datetime | None


@dataclass(frozen=True)
class Clue:
    id: str
    status: str
    received_at: datetime | None = None

    def take(self, steps: list[Step], acknowledge: bool) -> Move:
        """The move of these steps, in the order given."""
        after, lines, closed_at = self.status, [], None
        for step in steps:
            after, update = status.apply(after, step.type, step.data)
            if update is not None:
                kind = events.TOPIC_OF_TYPE.get(step.type, step.type)
                lines.append(Line(step.id, self.id, step.at, kind, update.zh, update.en))
            if events.TOPIC_OF_TYPE.get(step.type, step.type) == events.CASE_CLOSED:
                closed_at = step.at
        newly_closed = after == status.CLOSED and self.status != status.CLOSED
        return Move(self.id, self.status, after, tuple(lines), acknowledge,
                    (closed_at or steps[-1].at) if newly_closed else None)


# ---- a clue being received ----------------------------------------------------------------------


def _review_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    original = data.get("original_received_at")
    return {"original_received_at": iso(original) if original else None,
            "original_unit": data.get("original_unit"), "prior_disposition": data.get("prior_disposition"),
            "file_number": data.get("file_number"), "batch": data.get("batch")}


def received_clue(data: Mapping[str, Any], frontline_unit: str, keys: Keys, receipt: receipts.Receipt,
                  idempotency_key: str | None, request_hash: str | None, now: datetime,
                  extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A clue received from a body ClueSchema accepted, as a ClueStore stores it: it holds
    everything its clue-received event says (`received_event`) and the reporter only sealed (built
    directly: this is the hot path). Its times are datetimes; `last_staged_at` (when its event last
    went out) and `replay_until` (the end of its Idempotency-Key's replay) are the store's to keep
    as it must. `extra`: a card's or an observer's reference (cards.py, observers.py)."""
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
        "acknowledged": False, "last_staged_at": now,
        "idempotency_key": (key_digest(idempotency_key, keys.request_key) if idempotency_key
                            else f"none:{clue_id}"),
        "request_hash": request_hash, "parties": data.get("parties") or None, **_review_fields(data),
        "replay_until": now + REPLAY_TTL if idempotency_key else None,
        **(extra or {}),
    }
    # As mongoengine stores a document: no key for a field that is None.
    return {key: value for key, value in doc.items() if value is not None}


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


def replayed_answer(first: Mapping[str, Any], request_hash: str | None, now: datetime,
                    vault: ReporterVault) -> dict[str, Any]:
    """The first answer again for a request with the Idempotency-Key of the clue `first` (its
    replay fields); IdempotencyConflict for another body, or a key used more than 24 h ago."""
    until = first.get("replay_until")
    if not first.get("replay_sealed") or until is None or until <= now:
        raise IdempotencyConflict("this Idempotency-Key was used more than 24 hours ago")
    if not hmac.compare_digest(first.get("request_hash") or "", request_hash or ""):
        raise IdempotencyConflict("this Idempotency-Key was used with a different body")
    return vault.open(first["replay_sealed"])


def review_batch_fields(frontline_unit: str, name: str, deadline: datetime) -> tuple[str, dict[str, str]]:
    """The id of the review batch (大起底/回头看) `name` of the posting unit, and its fields."""
    batch_id = "b_" + hashlib.sha256(f"{frontline_unit}\n{name}".encode()).hexdigest()[:24]
    return batch_id, {"name": name, "deadline": iso(deadline), "frontline_unit": frontline_unit}
