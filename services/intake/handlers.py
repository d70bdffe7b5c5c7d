"""What intake's use cases share (the keys, the outbox, the errors), and the names its routes,
pages and workers call them by. The use cases themselves: receiving.py (post a clue, replay an
Idempotency-Key, the review batches, one clue's view), backstops.py (the reconciler, replay
expiry), follow_ups.py (a reporter's look-up and follow-ups), timeline.py (a clue's status and
timeline), case_events.py (the case events that move clues); the rules are model.py's, the
storage clue_store.py's.

Every write that announces something is one single-document write holding its event: a
follow-up in its outbox, a clue as itself (it holds everything its clue-received says, see
`documents`). `outbox.wake(doc)` and `outbox.announce(event)` then ask the relay to publish it at
once; a clue is settled when a case event acknowledges it, and `reconcile` is its backstop.
"""

from __future__ import annotations

from services.intake.backstops import RECONCILE_BATCH, expire_replays, reconcile
from services.intake.keys import Keys, body_hash, purpose_key
from services.intake.model import (
    REPLAY_TTL,
    REVIEW_FIELDS,
    SOURCE,
    BatchConflict,
    IdempotencyConflict,
    ReceiptNotFound,
    iso,
    received_event,
)
from services.intake.receiving import Outbox, find_clue, post_clue, review_batch

__all__ = [
    "RECONCILE_BATCH", "REPLAY_TTL", "REVIEW_FIELDS", "SOURCE", "BatchConflict", "IdempotencyConflict",
    "Keys", "Outbox", "ReceiptNotFound", "body_hash", "expire_replays", "find_clue", "iso",
    "post_clue", "purpose_key", "received_event", "reconcile", "review_batch",
]
