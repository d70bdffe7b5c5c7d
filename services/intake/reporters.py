"""Use cases of a reporter holding a receipt: look the clue up, follow it up (a message or an
objection), and the staff's view of one clue (`find_clue`, `timeline`).

A wrong code and a wrong secret are the same ReceiptNotFound, and take the same time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from services.intake import receipts, status
from services.intake.clue_store import ClueStore
from services.intake.keys import Keys
from services.intake.model import Clue, ReceiptNotFound, iso, millis
from services.intake.receiving import Outbox
from shared import events

log = logging.getLogger(__name__)
FOLLOWED_UP = events.TYPES[events.CLUE_FOLLOWED_UP]


def find_clue(clue_id: str, store: ClueStore | None = None) -> Clue | None:
    """The clue (without reporter ciphertext or receipt digests), or None."""
    return (store or ClueStore()).get(clue_id)


def _render(at: datetime, update: status.Update, kind: str) -> dict[str, Any]:
    return {"at": iso(at), "kind": kind, "message": update.text,
            "message_zh": update.zh, "message_en": update.en}


def timeline(clue: Clue, now: datetime | None = None, quiet_days: int = status.STILL_HANDLING_AFTER_DAYS,
             store: ClueStore | None = None) -> list[dict[str, Any]]:
    """The clue's reporter-safe updates, oldest first, with the "still handling" note after
    `quiet_days` without news (the STILL_HANDLING_DAYS setting)."""
    items = [_render(clue.received_at, status.RECEIVED_UPDATE, "received")]
    last = clue.received_at
    for line in (store or ClueStore()).lines(clue.id):
        items.append(_render(line["at"], status.Update(line["message_zh"], line["message_en"]), line["kind"]))
        last = max(last, line["at"])
    now = now or datetime.now(UTC)
    note = status.still_handling(clue.status, (now - last) / timedelta(days=1), quiet_days)
    if note:
        items.append(_render(now, note, "still_handling"))
    return items


def _by_receipt(code: str, secret: str, keys: Keys, store: ClueStore) -> Clue:
    clue = store.by_receipt(receipts.code_digest(keys.receipt_key, code))
    stored = clue.receipt_secret_digest if clue else "0" * 64
    if not receipts.verify_secret(keys.receipt_key, secret, stored) or clue is None:
        raise ReceiptNotFound("no clue has this receipt")
    return clue


def lookup(code: str, secret: str, keys: Keys, now: datetime | None = None,
           quiet_days: int = status.STILL_HANDLING_AFTER_DAYS,
           store: ClueStore | None = None) -> dict[str, Any]:
    """The reporter-safe status and updates of the clue with this receipt; ReceiptNotFound otherwise."""
    store = store or ClueStore()
    clue = _by_receipt(code, secret, keys, store)
    return {"status": clue.status, "updates": timeline(clue, now, quiet_days, store)}


def move(clue: Clue, event_type: str, data: dict[str, Any], line_id: str, at: datetime,
         acknowledge: bool, store: ClueStore) -> str:
    """Apply one event to the clue's status and timeline; safe to run twice for the same event."""
    for _attempt in range(10):
        change = clue.take(event_type, data, line_id, at, acknowledge)
        if change.line is not None:
            store.add_lines([change.line])  # a re-delivery's line is there already
        if store.update(clue.id, change.changes, expected_status=clue.status):
            return change.status
        clue = store.get(clue.id)
    raise RuntimeError("the clue's status kept changing underneath")


def follow_up(code: str, secret: str, message: str, objection: bool, keys: Keys, *,
              outbox: Outbox | None = None, now: datetime | None = None,
              store: ClueStore | None = None) -> dict[str, Any]:
    """Store a reporter's message or objection with its clue-followed-up event, and note it.

    ReceiptNotFound for a wrong code or secret. An objection to a closed clue reopens it.
    The follow-up's insert is the one write the answer depends on: once it is stored, the
    reporter is told so even if noting it on the clue fails (the relay's `apply_follow_ups`
    finishes that), so no 503 ever makes a reporter send a stored message twice.
    """
    store = store or ClueStore()
    clue = _by_receipt(code, secret, keys, store)
    at = millis(now or datetime.now(UTC))
    item, event = clue.follow_up(message, objection, at)
    stored = store.add_follow_up(item, event)
    if outbox is not None:
        try:
            outbox.wake(store.follow_up_document, stored)
        except Exception:  # noqa: BLE001 - the relay's polling round publishes it
            log.warning("follow-up left to the relay's round", extra={"clue_id": clue.id})
    predicted, _ = status.apply(clue.status, FOLLOWED_UP, {"objection": objection})
    try:
        new_status = _apply_follow_up(clue, item["_id"], objection, at, store)
    except Exception:  # noqa: BLE001 - stored already; apply_follow_ups notes it on the clue later
        log.warning("follow-up stored, noting it on the clue is left to the relay",
                    extra={"clue_id": clue.id})
        new_status = predicted
    return {"status": new_status, "at": iso(at)}


def _apply_follow_up(clue: Clue, follow_up_id: str, objection: bool, at: datetime, store: ClueStore) -> str:
    new_status = move(clue, FOLLOWED_UP, {"objection": objection}, follow_up_id, at, False, store)
    store.follow_up_applied(follow_up_id)
    return new_status


def apply_follow_ups(limit: int = 200, store: ClueStore | None = None) -> int:
    """Note on their clues the follow-ups stored whose noting failed (the backstop of `follow_up`);
    each is applied once whatever happens (its timeline line's id is the follow-up's id)."""
    store = store or ClueStore()
    done = 0
    for item in store.unapplied_follow_ups(limit):
        clue = store.get(item["clue_id"])
        if clue is not None:
            _apply_follow_up(clue, item["_id"], item.get("objection", False), item["at"], store)
        done += 1
    return done
