"""What notify tells the rest of the system about its notifications: clue-notified events.

A notification that reaches a final status (sent, or failed for good) is flagged
`outcome_pending` in the same write; `publish_outcomes` publishes one clue-notified event per
flagged notification (its id derived from the notification and status, so a repeat is a
duplicate consumers drop) and only then clears the flag: at least once, never lost. The event
says which notification of which clue, its kind, delivered or failed, the channel and notify's
fixed reason phrase: never a name, address, number or URL.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from services.notify.notification_store import notifications
from shared import events
from shared.kafka import Publisher
from shared.mongo import utcnow
from shared.outbox import entry, publish_entries

log = logging.getLogger(__name__)
SOURCE = "/services/notify"
FINAL = {"sent": "delivered", "failed": "failed"}


def outcome_event(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    outcome = FINAL[doc["status"]]
    at = doc.get("sent_at") if outcome == "delivered" else None
    data = {
        "clue_id": doc["clue_id"], "notification_id": doc["_id"], "kind": doc["kind"],
        "outcome": outcome, "channel": doc.get("channel") or None,
        "reason": None if outcome == "delivered" else doc.get("last_reason"), "at": at or now,
    }
    return events.make_event(events.CLUE_NOTIFIED, data, source=SOURCE,
                             event_id=f"{doc['_id']}:{doc['status']}", at=now)


def publish_outcomes(publisher: Publisher, now: datetime | None = None, limit: int = 500) -> int:
    """Publish the pending outcomes (up to `limit`), then clear their flags; how many."""
    now = now or utcnow()
    store = notifications()
    docs = [d for d in store.pending_outcomes(limit) if d.get("status") in FINAL]
    if not docs:
        return 0
    publish_entries(publisher, [entry(outcome_event(d, now)) for d in docs])
    for doc in docs:  # a status changed since (a reopened clue's new try) keeps its flag
        store.outcome_told(doc["_id"], doc["status"])
    log.info("notification outcomes published", extra={"count": len(docs)})
    return len(docs)
