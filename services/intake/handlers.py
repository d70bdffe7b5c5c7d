"""Intake's commands and event handlers: load, call the domain, save with events staged in the outbox.

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
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from services.intake import receipts, status
from services.intake.documents import Clue, ClueUpdate, FollowUp, ImportBatch
from shared import events
from shared.kafka import Publisher
from shared.mongo import ProcessedEvents, exact, insert_new, new_id, utcnow
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


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _millis(value: datetime) -> datetime:
    """`value` cut to milliseconds, the precision MongoDB keeps, so a rebuilt event is identical."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def received_event(clue: Mapping[str, Any]) -> dict[str, Any]:
    """The clue-received event of a clue as stored: the same id and content every time.

    Built JSON-ready and not checked against the event's schema here (6 % of the service's Python
    time): every field comes from a body ClueSchema accepted, and the fuzz test over POST /v1/clues
    decodes the event of each accepted body as a consumer would."""
    subject = {k: clue["subject"].get(k) for k in _SUBJECT_FIELDS}
    data = {
        "clue_id": clue["_id"], "received_at": _iso(clue["received_at"]), "source": clue["source"],
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
    wanted = {"name": name, "deadline": _iso(deadline), "frontline_unit": frontline_unit}
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
    return {"original_received_at": _iso(original) if original else None,
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
    received_at = _millis(now or utcnow())
    for _attempt in range(3):
        receipt = receipts.new_receipt()
        clue = _new_clue(data, frontline_unit, keys, receipt, idempotency_key, request_hash, received_at,
                         extra)
        response = {"clue_id": clue["_id"], "status": clue["status"], "received_at": _iso(received_at),
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


def _render(at: datetime, update: status.Update, kind: str) -> dict[str, Any]:
    return {"at": _iso(at), "kind": kind, "message": update.text,
            "message_zh": update.zh, "message_en": update.en}


def timeline(clue: Clue, now: datetime | None = None,
             quiet_days: int = status.STILL_HANDLING_AFTER_DAYS) -> list[dict[str, Any]]:
    """The clue's reporter-safe updates, oldest first, with the "still handling" note after
    `quiet_days` without news (the STILL_HANDLING_DAYS setting)."""
    items = [_render(clue.received_at, status.RECEIVED_UPDATE, "received")]
    last = clue.received_at
    for line in ClueUpdate.objects(__raw__=exact(clue_id=clue.id)).order_by("at"):
        items.append(_render(line.at, status.Update(line.message_zh, line.message_en), line.kind))
        last = max(last, line.at)
    now = now or utcnow()
    note = status.still_handling(clue.status, (now - last) / timedelta(days=1), quiet_days)
    if note:
        items.append(_render(now, note, "still_handling"))
    return items


def _by_receipt(code: str, secret: str, keys: Keys) -> Clue:
    clue = Clue.objects(__raw__=exact(receipt_code_digest=receipts.code_digest(keys.receipt_key, code))).only(
        "id", "status", "received_at", "receipt_secret_digest").first()
    stored = clue.receipt_secret_digest if clue else "0" * 64
    if not receipts.verify_secret(keys.receipt_key, secret, stored) or clue is None:
        raise ReceiptNotFound("no clue has this receipt")
    return clue


def lookup(code: str, secret: str, keys: Keys, now: datetime | None = None,
           quiet_days: int = status.STILL_HANDLING_AFTER_DAYS) -> dict[str, Any]:
    """The reporter-safe status and updates of the clue with this receipt; ReceiptNotFound otherwise."""
    clue = _by_receipt(code, secret, keys)
    return {"status": clue.status, "updates": timeline(clue, now, quiet_days)}


def _move(clue: Clue, event_type: str, data: dict[str, Any], update_id: str, at: datetime,
          acknowledge: bool) -> str:
    """Apply one event to the clue's status and timeline; safe to run twice for the same event."""
    for _attempt in range(10):
        new_status, update = status.apply(clue.status, event_type, data)
        if update is not None:
            try:
                ClueUpdate(id=update_id, clue_id=clue.id, at=at, kind=events.TOPIC_OF_TYPE.get(
                    event_type, event_type), message_zh=update.zh, message_en=update.en).save(
                    force_insert=True)
            except (me.NotUniqueError, DuplicateKeyError):
                pass  # a re-delivery: the line is there already
        changes: dict[str, Any] = {"set__status": new_status}
        if new_status == status.CLOSED and clue.status != status.CLOSED:
            changes["set__closed_ms"] = to_ms(at)  # the objection window starts (retention)
        if acknowledge:
            changes["set__acknowledged"] = True
        if Clue.objects(id=clue.id, status=clue.status).update_one(**changes):
            return new_status
        clue = Clue.objects(id=clue.id).only("id", "status").first()
    raise RuntimeError("the clue's status kept changing underneath")


def follow_up(code: str, secret: str, message: str, objection: bool, keys: Keys, *,
              outbox: Outbox | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Store a reporter's message or objection with its clue-followed-up event, and note it.

    ReceiptNotFound for a wrong code or secret. An objection to a closed clue reopens it.
    The follow-up's insert is the one write the answer depends on: once it is stored, the
    reporter is told so even if noting it on the clue fails (the relay's `apply_follow_ups`
    finishes that), so no 503 ever makes a reporter send a stored message twice.
    """
    clue = _by_receipt(code, secret, keys)
    at = _millis(now or utcnow())
    item = FollowUp(id=new_id(), clue_id=clue.id, message=message, objection=objection, at=at,
                    applied=False)
    item.stage(events.make_event(events.CLUE_FOLLOWED_UP, {
        "clue_id": clue.id, "message": message, "objection": objection, "at": at},
        source=SOURCE, at=at))
    item.save(force_insert=True)
    if outbox is not None:
        try:
            outbox.wake(FollowUp, item.to_mongo())
        except Exception:  # noqa: BLE001 - the relay's polling round publishes it
            log.warning("follow-up left to the relay's round", extra={"clue_id": clue.id})
    predicted, _ = status.apply(clue.status, events.TYPES[events.CLUE_FOLLOWED_UP], {"objection": objection})
    try:
        new_status = _apply_follow_up(clue, item.id, objection, at)
    except Exception:  # noqa: BLE001 - stored already; apply_follow_ups notes it on the clue later
        log.warning("follow-up stored, noting it on the clue is left to the relay",
                    extra={"clue_id": clue.id})
        new_status = predicted
    return {"status": new_status, "at": _iso(at)}


def _apply_follow_up(clue: Clue, follow_up_id: str, objection: bool, at: datetime) -> str:
    new_status = _move(clue, events.TYPES[events.CLUE_FOLLOWED_UP], {"objection": objection},
                       follow_up_id, at, acknowledge=False)
    FollowUp.objects(id=follow_up_id).update_one(set__applied=True)
    return new_status


def apply_follow_ups(limit: int = 200) -> int:
    """Note on their clues the follow-ups stored whose noting failed (the backstop of `follow_up`);
    each is applied once whatever happens (its timeline line's id is the follow-up's id)."""
    done = 0
    pending = FollowUp.objects(__raw__=exact(applied=False)).only("id", "clue_id", "objection", "at")
    for item in pending.limit(limit):
        clue = Clue.objects(id=item.clue_id).only("id", "status").first()
        if clue is not None:
            _apply_follow_up(clue, item.id, item.objection, item.at)
        done += 1
    return done


_EVENT_TIME = {"case-assigned": "assigned_at", "case-escalated": "escalated_at",
               "case-closed": "closed_at"}


def _event_time(event: events.Event) -> datetime:
    return event.data.get(_EVENT_TIME.get(event.topic, "")) or event.time


def unit_jurisdiction(unit: str) -> str:
    """The jurisdiction of a unit code: ``<jurisdiction>#commission``, ``<employer>#embedded``
    (an employer's code is its jurisdiction's plus a slug)."""
    code, _, kind = unit.partition("#")
    return code.rsplit("/", 1)[0] if kind == "embedded" else code


def note_conflicts(batch: list[events.Event]) -> None:
    """Remember where conflict escalations took their clues, highest level last (idempotent)."""
    for event in batch:
        data = event.data
        if event.topic != events.CASE_ESCALATED or "conflict" not in (data.get("reasons") or []):
            continue
        to = unit_jurisdiction(data.get("to_unit") or "")
        clue = Clue.objects(id=data["clue_id"]).only("conflict_moved_to").first()
        if clue is not None and (clue.conflict_moved_to is None or len(to) < len(clue.conflict_moved_to)):
            Clue.objects(id=clue.id).update_one(set__conflict_moved_to=to)


def apply_case_event(event: events.Event) -> None:
    """Move the clue's reporter-facing status for a case event and mark the clue acknowledged."""
    note_conflicts([event])
    clue_id = event.data["clue_id"]
    clue = Clue.objects(id=clue_id).only("id", "status").first()
    if clue is None:
        log.warning("case event for a clue intake does not hold", extra={"clue_id": clue_id})
        return
    _move(clue, event.type, event.data, event.id, _event_time(event), acknowledge=True)


def apply_case_events(batch: list[events.Event], processed: ProcessedEvents) -> None:
    """`apply_case_event` for a poll's case events, skipping those `processed` has seen and
    marking the rest, in a few writes whatever the batch's size: one read of the marks, one of the
    clues, one insert of the timeline lines, one guarded update per clue, one insert of the marks.

    A clue whose status changed since the read (a reporter's objection) takes its events one by
    one again; each line's id is its event id, so nothing is written twice.
    """
    seen = processed.seen_many([e.id for e in batch])
    fresh = list({e.id: e for e in batch if e.id not in seen}.values())
    if not fresh:
        return
    note_conflicts(fresh)
    clues = Clue._get_collection()
    wanted = sorted({e.data["clue_id"] for e in fresh})
    read = {d["_id"]: d["status"] for d in clues.find({"_id": {"$in": wanted}}, {"status": 1})}
    after, lines, by_clue = _fold(read, fresh)
    if lines:
        insert_new(ClueUpdate._get_collection(), lines)  # a re-delivery's lines are there already
    if by_clue:
        moves = [UpdateOne({"_id": clue_id, "status": read[clue_id]},
                           {"$set": _moved(read[clue_id], after[clue_id], by_clue[clue_id])})
                 for clue_id in by_clue]
        if clues.bulk_write(moves, ordered=False).matched_count < len(moves):
            for clue_events in by_clue.values():  # rare: redo them all, one by one (idempotent)
                for event in clue_events:
                    apply_case_event(event)
    processed.mark_many([e.id for e in fresh])


def _moved(before: str, after: str, clue_events: list[events.Event]) -> dict[str, Any]:
    """The $set of a clue moved from `before` to `after` by its events: a clue newly closed notes
    when (its case-closed event's time), which starts the objection window of `retention`."""
    changes: dict[str, Any] = {"status": after, "acknowledged": True}
    if after == status.CLOSED and before != status.CLOSED:
        closing = [e for e in clue_events if e.topic == events.CASE_CLOSED]
        changes["closed_ms"] = to_ms(_event_time(closing[-1]) if closing else utcnow())
    return changes


def _fold(read: dict[str, str], fresh: list[events.Event]) -> tuple[
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
            lines.append({"_id": event.id, "clue_id": clue_id, "at": _event_time(event),
                          "kind": events.TOPIC_OF_TYPE.get(event.type, event.type),
                          "message_zh": update.zh, "message_en": update.en})
    return after, lines, by_clue


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
