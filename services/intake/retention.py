"""Retention: a closed clue's sealed reporter identity and contact are erased once the objection
window (OBJECTION_WINDOW_DAYS, default 180) has passed since the result notice.

What stays: the clue (its receipt digests, so the reporter can still look it up), its timeline,
its status and every field statistics count. What goes: `reporter_sealed` and `contact_sealed`,
the only things that could name the reporter, even to someone holding intake's vault key. A clue
reopened by an objection is no longer `closed`, so its window starts again at its next closing.
Erased in batches, so a backlog never holds one long write.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.intake.clue_store import clues

BATCH = 500


def erase_expired(window_days: int, now: datetime | None = None, batch: int = BATCH) -> int:
    """Erase the sealed identity and contact of clues closed more than `window_days` ago and not
    erased yet (never a clue reopened since: the store's write is guarded by status); returns how
    many clues it erased."""
    now = now or datetime.now(UTC)
    return clues().erase_sealed(now - timedelta(days=window_days), now, batch)
