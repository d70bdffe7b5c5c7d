"""Retention: a reporter's sealed contact is erased once their clue is closed, its result notice
is no longer waiting to go out, and the objection window (OBJECTION_WINDOW_DAYS, default 180) has
passed since that notice was queued.

Kept: the contact's channel, language and anonymity (statistics), the notifications' reporter-safe
text and their delivery attempts. Erased: `contact_sealed`, the only field that could reach the
reporter. In batches, so a backlog never holds one long write. A clue reopened by an objection is
not `closed`, so its contact stays until it closes again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.notify.documents import ClueContact, Notification
from shared.mongo import exact, utcnow
from shared.times import to_ms

BATCH = 500
WAITING = ("pending", "sending")


def erase_expired(window_days: int, now: datetime | None = None, batch: int = BATCH) -> int:
    """Erase the sealed contacts past the window; returns how many it erased."""
    now = now or utcnow()
    cutoff = to_ms(now - timedelta(days=window_days))
    contacts = ClueContact._get_collection()
    erased, skip = 0, 0
    while True:
        ids = [d["_id"] for d in contacts.find(
            {**exact(closed=True), "last_update_ms": {"$lt": cutoff}, "contact_sealed": {"$type": "string"}},
            {"_id": 1}).sort("_id", 1).skip(skip).limit(batch)]
        if not ids:
            return erased
        waiting = {d["clue_id"] for d in Notification._get_collection().find(
            {"clue_id": {"$in": ids}, "status": {"$in": list(WAITING)}}, {"clue_id": 1})}
        done = [clue_id for clue_id in ids if clue_id not in waiting]
        skip += len(ids) - len(done)
        if done:
            result = contacts.update_many({"_id": {"$in": done}, **exact(closed=True)},
                                          {"$set": {"contact_sealed": None, "erased_ms": to_ms(now)}})
            erased += result.modified_count
        if len(ids) < batch:
            return erased
