"""What intake's entrypoints call, by the names they always used: the use cases live in
`receiving` (a clue is received), `reporters` (lookup and follow-up by receipt), `case_news`
(case events from assignment) and `backstops` (the relay's rounds), on the `model.Clue`
aggregate and its `clue_store.ClueStore`. Nothing is defined here.
"""

from services.intake.backstops import RECONCILE_BATCH, expire_replays, reconcile
from services.intake.case_news import apply_case_event, apply_case_events, note_conflicts
from services.intake.keys import Keys, body_hash, purpose_key
from services.intake.model import (
    REPLAY_TTL,
    REVIEW_FIELDS,
    SOURCE,
    BatchConflict,
    IdempotencyConflict,
    ReceiptNotFound,
    received_event,
    unit_jurisdiction,
)
from services.intake.model import iso as _iso
from services.intake.receiving import Outbox, post_clue, review_batch
from services.intake.reporters import apply_follow_ups, find_clue, follow_up, lookup, timeline

__all__ = [
    "RECONCILE_BATCH", "REPLAY_TTL", "REVIEW_FIELDS", "SOURCE", "BatchConflict", "IdempotencyConflict",
    "Keys", "Outbox", "ReceiptNotFound", "_iso", "apply_case_event", "apply_case_events", "apply_follow_ups",
    "body_hash", "expire_replays", "find_clue", "follow_up", "lookup", "note_conflicts", "post_clue",
    "purpose_key", "received_event", "reconcile", "review_batch", "timeline", "unit_jurisdiction",
]
