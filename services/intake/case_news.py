"""Use cases: assignment's case events about intake's clues (case-assigned, -escalated, -closed)
move each clue's reporter-facing status, add its timeline lines and acknowledge it; a conflict
escalation notes where the clue went, so supervisors below never see it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from services.intake.clue_store import ClueStore
from services.intake.model import conflict_destination, event_time, fold, moved
from services.intake.reporters import move
from shared import events
from shared.mongo import ProcessedEvents

log = logging.getLogger(__name__)


def note_conflicts(batch: list[events.Event], store: ClueStore | None = None) -> None:
    """Remember where conflict escalations took their clues, highest level last (idempotent)."""
    store = store or ClueStore()
    for event in batch:
        to = conflict_destination(event)
        if to is None:
            continue
        clue = store.get(event.data["clue_id"])
        if clue is not None and clue.takes_conflict_move(to):
            store.update(clue.id, {"conflict_moved_to": to})


def apply_case_event(event: events.Event, store: ClueStore | None = None) -> None:
    """Move the clue's reporter-facing status for a case event and mark the clue acknowledged."""
    store = store or ClueStore()
    note_conflicts([event], store)
    clue_id = event.data["clue_id"]
    clue = store.get(clue_id)
    if clue is None:
        log.warning("case event for a clue intake does not hold", extra={"clue_id": clue_id})
        return
    move(clue, event.type, event.data, event.id, event_time(event), True, store)


def apply_case_events(batch: list[events.Event], processed: ProcessedEvents,
                      store: ClueStore | None = None) -> None:
    """`apply_case_event` for a poll's case events, skipping those `processed` has seen and
    marking the rest, in a few writes whatever the batch's size: one read of the marks, one of the
    clues, one insert of the timeline lines, one guarded update per clue, one insert of the marks.

    A clue whose status changed since the read (a reporter's objection) takes its events one by
    one again; each line's id is its event id, so nothing is written twice.
    """
    store = store or ClueStore()
    seen = processed.seen_many([e.id for e in batch])
    fresh = list({e.id: e for e in batch if e.id not in seen}.values())
    if not fresh:
        return
    note_conflicts(fresh, store)
    read = store.statuses(sorted({e.data["clue_id"] for e in fresh}))
    after, lines, by_clue = fold(read, fresh)
    store.add_lines(lines)
    now = datetime.now(UTC)
    moves = [(clue_id, read[clue_id], moved(read[clue_id], after[clue_id], clue_events, now))
             for clue_id, clue_events in by_clue.items()]
    if store.update_many(moves) < len(moves):
        for clue_events in by_clue.values():  # rare: redo them all, one by one (idempotent)
            for event in clue_events:
                apply_case_event(event, store)
    processed.mark_many([e.id for e in fresh])
