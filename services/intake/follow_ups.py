"""The reporter's side of a receipt: look the clue up (`lookup`), add information or object
(`follow_up`), and the backstop that notes on their clues the follow-ups whose noting failed."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from services.intake import receipts, status
from services.intake.clue_store import FOLLOW_UP_OUTBOX, clues
from services.intake.handlers import SOURCE, Keys, Outbox, ReceiptNotFound, iso
from services.intake.model import Clue, Step
from services.intake.timeline import move_clue, timeline
from shared import events
from shared.mongo import new_id, utcnow
from shared.times import to_stored_datetime

log = logging.getLogger(__name__)


def by_receipt(code: str, secret: str, keys: Keys) -> Clue:
    found = clues().by_receipt(receipts.code_digest(keys.receipt_key, code))
    stored = found[1] if found else "0" * 64
    if not receipts.verify_secret(keys.receipt_key, secret, stored) or found is None:
        raise ReceiptNotFound("no clue has this receipt")
    return found[0]


def lookup(code: str, secret: str, keys: Keys, now: datetime | None = None,
           quiet_days: int = status.STILL_HANDLING_AFTER_DAYS) -> dict[str, Any]:
    """The reporter-safe status and updates of the clue with this receipt; ReceiptNotFound otherwise."""
    clue = by_receipt(code, secret, keys)
    return {"status": clue.status, "updates": timeline(clue, now, quiet_days)}


def follow_up(code: str, secret: str, message: str, objection: bool, keys: Keys, *,
              outbox: Outbox | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Store a reporter's message or objection with its clue-followed-up event, and note it.

    ReceiptNotFound for a wrong code or secret. An objection to a closed clue reopens it.
    The follow-up's insert is the one write the answer depends on: once it is stored, the
    reporter is told so even if noting it on the clue fails (the relay's `apply_follow_ups`
    finishes that), so no 503 ever makes a reporter send a stored message twice.
    """
    clue = by_receipt(code, secret, keys)
    at = to_stored_datetime(now or utcnow())
    follow_up_id = new_id()
    event = events.make_event(events.CLUE_FOLLOWED_UP, {
        "clue_id": clue.id, "message": message, "objection": objection, "at": at}, source=SOURCE, at=at)
    stored = clues().add_follow_up(follow_up_id, clue.id, message, objection, at, event)
    if outbox is not None:
        try:
            outbox.wake(FOLLOW_UP_OUTBOX, stored)
        except Exception:  # noqa: BLE001 - the relay's polling round publishes it
            log.warning("follow-up left to the relay's round", extra={"clue_id": clue.id})
    predicted, _ = status.apply(clue.status, events.TYPES[events.CLUE_FOLLOWED_UP], {"objection": objection})
    try:
        new_status = apply_follow_up(clue, follow_up_id, objection, at)
    except Exception:  # noqa: BLE001 - stored already; apply_follow_ups notes it on the clue later
        log.warning("follow-up stored, noting it on the clue is left to the relay",
                    extra={"clue_id": clue.id})
        new_status = predicted
    return {"status": new_status, "at": iso(at)}


def apply_follow_up(clue: Clue, follow_up_id: str, objection: bool, at: datetime) -> str:
    step = Step(events.TYPES[events.CLUE_FOLLOWED_UP], {"objection": objection}, follow_up_id, at)
    new_status = move_clue(clue, [step], acknowledge=False)
    clues().follow_up_applied(follow_up_id)
    return new_status


def apply_follow_ups(limit: int = 200) -> int:
    """Note on their clues the follow-ups stored whose noting failed (the backstop of `follow_up`);
    each is applied once whatever happens (its timeline line's id is the follow-up's id)."""
    store, done = clues(), 0
    for follow_up_id, clue_id, objection, at in store.pending_follow_ups(limit):
        clue = store.get(clue_id)
        if clue is not None:
            apply_follow_up(clue, follow_up_id, objection, at)
        done += 1
    return done
