"""The 30-day "still being handled" note for real-name reporters who heard nothing for a while.

Several deliverer processes may run this at once: each clue is claimed with a conditional update
(its quiet period must still be over), so exactly one of them queues the note for a period.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services.notify import progress as rules
from services.notify.handlers import queue_notification
from services.notify.notification_store import notifications
from shared.consumer import PoisonRecord
from shared.mongo import utcnow
from shared.workdays import DEFAULT, WorkCalendar

log = logging.getLogger(__name__)


def send_still_handling(days: int = 30, now: datetime | None = None, limit: int = 500,
                        calendar: WorkCalendar = DEFAULT) -> int:
    """Queue one note per real-name, unclosed clue quiet for `days` (STILL_HANDLING_DAYS, calendar
    days in Shanghai); returns how many it queued."""
    now = now or utcnow()
    cutoff, store = calendar.add_days(now, -days), notifications()
    queued = 0
    for contact in store.quiet_contacts(cutoff, limit):
        if not store.claim_quiet(contact.id, cutoff, now):
            continue  # another instance took it, or the clue moved on meanwhile
        key = rules.still_handling_key(contact.id, contact.last_update)
        try:
            queued += queue_notification(key, contact.id, "still_handling", now, "", {}, contact,
                                         now, closed=False)
        except PoisonRecord:
            log.error("still-handling note cannot be rendered", extra={"clue_id": contact.id})
    if queued:
        log.info("still-handling notes queued", extra={"count": queued})
    return queued
