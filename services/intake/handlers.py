"""Intake's clue-receiving use cases (post a clue, replay an Idempotency-Key, the review batches,
the reconciler) and what every use case of intake shares (the keys, the outbox, the errors).
The reporter's look-up and follow-ups are in follow_ups.py, a clue's status and timeline in
timeline.py, the case events that move clues in case_events.py.

Every write that announces something is one single-document write holding its event: a
follow-up in its outbox, a clue as itself (it holds everything its clue-received says, see
`documents`). `outbox.wake(doc)` and `outbox.announce(event)` then ask the relay to publish it at
once; a clue is settled when a case event acknowledges it, and `reconcile` is its backstop.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from services.intake import receipts, status
from services.intake.documents import Clue, ImportBatch
from shared import events
from shared.kafka import Publisher
from shared.mongo import exact, new_id, utcnow
from shared.outbox import OutboxDocument, entry, publish_entries
from shared.sealing import ReporterVault, contact_for_notify, seal_for_notify
from shared.times import to_ms

log = logging.getLogger(__name__)

SOURCE = "/services/intake"
_SUBJECT_FIELDS = ("name", "position", "employer", "rank", "party_member")


class Outbox(Protocol):
    """What handlers need of the relay: publish a just-written document's events now."""

    def announce(self, envelope: dict[str, Any]) -> None: ...

    def wake(self, document: type[OutboxDocument], stored: Mapping[str, Any]) -> None: ...


class ReceiptNotFound(LookupError):
    """No clue has this receipt (wrong code or wrong secret: the caller cannot tell which)."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different body."""


@dataclass(frozen=True)
class Keys:
    """The secrets handlers use: receipt digests, the at-rest vault, notify's public key."""

    receipt_key: bytes
    vault: ReporterVault
    notify_public_key: bytes

    def __repr__(self) -> str:
        return "Keys(<hidden>)"

    @functools.cached_property
    def request_key(self) -> bytes:
        """The key of request digests (Idempotency-Key and body), derived for that purpose alone
        from the receipt key: a database copy without it cannot test guesses of a body."""
        return purpose_key(self.receipt_key, b"idempotency-request-digest")


def purpose_key(key: bytes, purpose: bytes) -> bytes:
    """A key of its own for `purpose`, derived from a server secret (HMAC-SHA256 as a KDF)."""
    return hmac.new(key, b"campaign/" + purpose, hashlib.sha256).digest()


REPLAY_TTL = timedelta(hours=24)


def body_hash(payload: Any, key: bytes) -> str:
    """A keyed digest (HMAC-SHA256 under `Keys.request_key`) of a JSON body that ignores key order
    and whitespace (same body, same digest); never a plain hash of reporter data."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _key_digest(idempotency_key: str, key: bytes) -> str:
    digest = hmac.new(key, b"key\0" + idempotency_key.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "hkey:" + digest.hexdigest()


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def millis(value: datetime) -> datetime:
    """`value` cut to milliseconds, the precision MongoDB keeps, so a rebuilt event is identical."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def received_event(clue: Mapping[str, Any]) -> dict[str, Any]:
    """The clue-received event of a clue as stored: the same id and content every time.

    Built JSON-ready and not checked against the event's schema here (6 % of the service's Python
    time): every field comes from a body ClueSchema accepted, and the fuzz test over POST /v1/clues
    decodes the event of each accepted body as a consumer would."""
    subject = {k: clue["subject"].get(k) for k in _SUBJECT_FIELDS}
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


REVIEW_FIELDS = ("original_received_at", "original_unit", "prior_disposition", "file_number", "batch")


class BatchConflict(Exception):
    """A review batch of this name exists with another deadline."""


def review_batch(frontline_unit: str, name: str, deadline: datetime) -> dict[str, str]:
    """The review batch (大起底/回头看) `name` of the posting unit, made on first use: its id, name
    and 限期处置 deadline as the clues' events carry them. BatchConflict if the name is taken with
    another deadline."""
    batch_id = "b_" + hashlib.sha256(f"{frontline_unit}\n{name}".encode()).hexdigest()[:24]
    wanted = {"name": name, "deadline": iso(deadline), "frontline_unit": frontline_unit}
    collection = ImportBatch._get_collection()
    collection.update_one({"_id": batch_id}, {"$set": {"seen": True}, "$setOnInsert": wanted}, upsert=True)
    stored = collection.find_one({"_id": batch_id}) or {}
    if not stored.get("deadline"):  # a database that ignores $setOnInsert on upsert
        collection.update_one({"_id": batch_id, "deadline": None}, {"$set": wanted})
        stored = collection.find_one({"_id": batch_id}) or {}
    if stored.get("deadline") != wanted["deadline"]:
        raise BatchConflict(f"batch {name!r} has another deadline")
    return {"id": batch_id, "name": name, "deadline": wanted["deadline"]}


def _review_fields(data: dict[str, Any]) -> dict[str, Any]:
    original = data.get("original_received_at")
    return {"original_received_at": iso(original) if original else None,
            "original_unit": data.get("original_unit"), "prior_disposition": data.get("prior_disposition"),
            "file_number": data.get("file_number"), "batch": data.get("batch")}


def _new_clue(data: dict[str, Any], frontline_unit: str, keys: Keys, receipt: receipts.Receipt,
              idempotency_key: str | None, request_hash: str | None, now: datetime,
              extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The new clue's document as `Clue` stores it (built directly: this is the hot path)."""
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
        "idempotency_key": (_key_digest(idempotency_key, keys.request_key) if idempotency_key
                            else f"none:{clue_id}"),
        "request_hash": request_hash, "parties": data.get("parties") or None, **_review_fields(data),
        "replay_until_ms": to_ms(now + REPLAY_TTL) if idempotency_key else None,
        **(extra or {}),  # a card's or an observer's reference (cards.py, observers.py)
    }
    # As mongoengine stores a document: no key for a field that is None.
    return {key: value for key, value in doc.items() if value is not None}


def post_clue(data: dict[str, Any], frontline_unit: str, keys: Keys, *,
              idempotency_key: str | None = None, request_hash: str | None = None,
              outbox: Outbox | None = None, now: datetime | None = None,
              extra: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
    """Store a clue validated by ClueSchema with its clue-received event, in one insert (`extra`:
    fields only intake keeps, such as the card or observer it came through).

    Returns (the 202 body, replayed): with an Idempotency-Key used in the last 24 h with the same
    body (`request_hash`, the body's keyed `body_hash`, which only a key needs), the first answer
    again and replayed=True. Raises IdempotencyConflict for a different body, or a key older than
    24 h (its replay data is erased by then, see `expire_replays`).
    """
    if idempotency_key and request_hash is None:
        raise ValueError("an Idempotency-Key needs the request's body_hash")
    received_at = millis(now or utcnow())
    for _attempt in range(3):
        receipt = receipts.new_receipt()
        clue = _new_clue(data, frontline_unit, keys, receipt, idempotency_key, request_hash, received_at,
                         extra)
        response = {"clue_id": clue["_id"], "status": clue["status"], "received_at": iso(received_at),
                    "receipt": {"code": receipt.code, "secret": receipt.secret}}
        if idempotency_key:
            clue["replay_sealed"] = keys.vault.seal(response)
        try:
            # One insert of the clue, which holds its event; pymongo directly (mongoengine's
            # document bookkeeping cost more than the rest of the request, and the schema already
            # validated).
            Clue._get_collection().insert_one(clue)
        except (me.NotUniqueError, DuplicateKeyError):
            replay = _replay(frontline_unit, idempotency_key, request_hash, keys, received_at)
            if replay is not None:
                return replay, True
            continue  # a receipt code collided (80 random bits): draw another
        if outbox is not None:
            outbox.announce(received_event(clue))
        return response, False
    raise RuntimeError("could not store the clue: unique keys kept colliding")


def _replay(frontline_unit: str, idempotency_key: str | None, request_hash: str | None,
            keys: Keys, now: datetime) -> dict[str, Any] | None:
    if not idempotency_key:
        return None
    first = Clue._get_collection().find_one(
        exact(frontline_unit=frontline_unit, idempotency_key=_key_digest(idempotency_key, keys.request_key)),
        {"request_hash": 1, "replay_sealed": 1, "replay_until_ms": 1})
    if first is None:
        return None
    if not first.get("replay_sealed") or first.get("replay_until_ms", 0) <= to_ms(now):
        raise IdempotencyConflict("this Idempotency-Key was used more than 24 hours ago")
    if not hmac.compare_digest(first.get("request_hash") or "", request_hash or ""):
        raise IdempotencyConflict("this Idempotency-Key was used with a different body")
    return keys.vault.open(first["replay_sealed"])


def expire_replays(now: datetime | None = None, batch: int = 500) -> int:
    """Erase the request digest and the sealed receipt of clues posted more than 24 h ago with an
    Idempotency-Key (their key's digest stays, so the key still cannot post twice); returns how
    many. In batches of `batch`, so a large backlog never holds one long write."""
    clues = Clue._get_collection()
    cutoff = to_ms(now or utcnow())
    erased = 0
    # Clues stored before the digests were keyed hold a plain SHA-256 of the body and no expiry:
    # their replay data goes at once (its key's old digest then matches no new request).
    due = {"$or": [{"replay_until_ms": {"$lt": cutoff}},
                   {"request_hash": {"$type": "string"}, "replay_until_ms": {"$exists": False}}]}
    while True:
        ids = [d["_id"] for d in clues.find(due, {"_id": 1}).limit(batch)]
        if not ids:
            return erased
        clues.update_many({"_id": {"$in": ids}},
                          {"$unset": {"request_hash": "", "replay_sealed": "", "replay_until_ms": ""}})
        erased += len(ids)


def find_clue(clue_id: str) -> Clue | None:
    """The clue (without reporter ciphertext or receipt digests), or None."""
    return Clue.objects(id=clue_id).exclude(
        "reporter_sealed", "contact_sealed", "receipt_code_digest", "receipt_secret_digest",
        "replay_sealed").first()


RECONCILE_BATCH = 500


def reconcile(after_s: float, publisher: Publisher, now: datetime | None = None,
              limit: int = RECONCILE_BATCH) -> list[str]:
    """Publish clue-received again (the same event) for clues still unacknowledged `after_s`
    seconds after it last went out, then note when; returns the ids of those clues.

    The backstop of the relay's one publish: it covers an event lost by a broker, and one never
    sent because the process stopped first. Consumers drop the repeats by event id. A publish
    that fails raises before anything is noted, so the next round tries again.
    """
    now = now or utcnow()
    cutoff = to_ms(now - timedelta(seconds=after_s))
    clues = Clue._get_collection()
    due = list(clues.find({**exact(acknowledged=False), "last_staged_ms": {"$lt": cutoff}},
                          {"reporter_sealed": 0, "replay_sealed": 0}).limit(limit))
    if not due:
        return []
    publish_entries(publisher, [entry(received_event(clue)) for clue in due])
    ids = [clue["_id"] for clue in due]
    clues.update_many({"_id": {"$in": ids}, **exact(acknowledged=False)},
                      {"$set": {"last_staged_ms": to_ms(now)}})
    log.info("republished unacknowledged clues", extra={"count": len(ids)})
    return ids
