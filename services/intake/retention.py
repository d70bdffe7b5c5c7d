"""Retention: a closed clue's sealed reporter identity and contact are erased once the objection
window (OBJECTION_WINDOW_DAYS, default 180) has passed since the result notice.

What stays: the clue (its receipt digests, so the reporter can still look it up), its timeline,
its status and every field statistics count. What goes: `reporter_sealed` and `contact_sealed`,
the only things that could name the reporter, even to someone holding intake's vault key. A clue
reopened by an objection is no longer `closed`, so its window starts again at its next closing.
Erased in batches, so a backlog never holds one long write.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.intake import status
from services.intake.documents import Clue
from shared.mongo import exact, utcnow

BATCH = 500


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def erase_expired(window_days: int, now: datetime | None = None, batch: int = BATCH) -> int:
    """Erase the sealed identity and contact of clues closed more than `window_days` ago and not
    erased yet; returns how many clues it erased."""
    now = now or utcnow()
    cutoff = _ms(now - timedelta(days=window_days))
    clues = Clue._get_collection()
    erased = 0
    while True:
        due = {**exact(status=status.CLOSED), "closed_ms": {"$lt": cutoff},
               "reporter_sealed": {"$type": "string"}}
        ids = [d["_id"] for d in clues.find(due, {"_id": 1}).limit(batch)]
        if not ids:
            return erased
        # Guarded by status, so a clue reopened since the read keeps its identity.
        result = clues.update_many({"_id": {"$in": ids}, **exact(status=status.CLOSED)},
                                   {"$unset": {"reporter_sealed": "", "contact_sealed": ""},
                                    "$set": {"erased_ms": _ms(now)}})
        erased += result.modified_count
        if len(ids) < batch:
            return erased
