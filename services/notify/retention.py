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

from services.notify.notification_store import notifications
from shared.mongo import utcnow

BATCH = 500


def erase_expired(window_days: int, now: datetime | None = None, batch: int = BATCH) -> int:
    """Erase the sealed contacts past the window; returns how many it erased."""
    now = now or utcnow()
    return notifications().erase_contacts(now - timedelta(days=window_days), now, batch)
