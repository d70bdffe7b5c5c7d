"""The 30-day "still being handled" note for real-name reporters who heard nothing for a while.

Several deliverer processes may run this at once: each clue is claimed with a conditional update
(its quiet period must still be over), so exactly one of them queues the note for a period.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services.notify import progress as rules
from services.notify.documents import ClueContact, to_ms
from services.notify.handlers import queue_notification
from shared.consumer import PoisonRecord
from shared.mongo import exact, utcnow
from shared.workdays import DEFAULT, WorkCalendar

log = logging.getLogger(__name__)


def send_still_handling(days: int = 30, now: datetime | None = None, limit: int = 500,
                        calendar: WorkCalendar = DEFAULT) -> int:
    """Queue one note per real-name, unclosed clue quiet for `days` (STILL_HANDLING_DAYS, calendar
    days in Shanghai); returns how many it queued."""
    now = now or utcnow()
    cutoff = to_ms(calendar.add_days(now, -days))
    queued = 0
    candidates = ClueContact.objects(__raw__={**exact(anonymous=False, closed=False),
                                              "last_update_ms": {"$lte": cutoff}})
    for contact in candidates.only("id", "last_update_ms", "channel", "lang", "anonymous").limit(limit):
        claimed = ClueContact.objects(id=contact.id, closed=False, last_update_ms__lte=cutoff).update_one(
            set__last_update_ms=to_ms(now), set__still_handling_sent_ms=to_ms(now))
        if not claimed:
            continue  # another instance took it, or the clue moved on meanwhile
        key = rules.still_handling_key(contact.id, contact.last_update_ms)
        try:
            queued += queue_notification(key, contact.id, "still_handling", now, "", {}, contact,
                                         now, closed=False)
        except PoisonRecord:
            log.error("still-handling note cannot be rendered", extra={"clue_id": contact.id})
    if queued:
        log.info("still-handling notes queued", extra={"count": queued})
    return queued
