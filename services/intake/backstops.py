"""Use cases of the relay's rounds: publish again the clue-received of clues assignment has not
acknowledged, and erase Idempotency-Key replay data after 24 h."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from services.intake.clue_store import clues
from services.intake.model import received_event
from shared.kafka import Publisher
from shared.outbox import entry, publish_entries

log = logging.getLogger(__name__)

RECONCILE_BATCH = 500


def reconcile(after_s: float, publisher: Publisher, now: datetime | None = None,
              limit: int = RECONCILE_BATCH) -> list[str]:
    """Publish clue-received again (the same event) for clues still unacknowledged `after_s`
    seconds after it last went out, then note when; returns the ids of those clues.

    The backstop of the relay's one publish: it covers an event lost by a broker, and one never
    sent because the process stopped first. Consumers drop the repeats by event id. A publish
    that fails raises before anything is noted, so the next round tries again.
    """
    now = now or datetime.now(UTC)
    due = clues().unacknowledged(now - timedelta(seconds=after_s), limit)
    if not due:
        return []
    publish_entries(publisher, [entry(received_event(clue)) for clue in due])
    ids = [clue["_id"] for clue in due]
    clues().note_staged(ids, now)
    log.info("republished unacknowledged clues", extra={"count": len(ids)})
    return ids


def expire_replays(now: datetime | None = None, batch: int = 500) -> int:
    """Erase the request digest and the sealed receipt of clues posted more than 24 h ago with an
    Idempotency-Key (their key's digest stays, so the key still cannot post twice); returns how
    many. In batches of `batch`, so a large backlog never holds one long write."""
    return clues().expire_replays(now or datetime.now(UTC), batch)
