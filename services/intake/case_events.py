"""Case events (case-assigned, case-escalated, case-closed) move the clues they are about:
their reporter-facing status and timeline, their acknowledgement (which settles the clue's
clue-received), and where a conflict escalation took them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from services.intake.clue_store import clues
from services.intake.model import Step
from services.intake.timeline import move_clue
from shared import events

log = logging.getLogger(__name__)


class Processed(Protocol):
    """The consumer's record of the events it handled: shared.mongo.ProcessedEvents on the database,
    shared.fakes.MemoryProcessedEvents in unit tests."""

    def seen_many(self, event_ids: list[str]) -> set[str]: ...

    def mark_many(self, event_ids: list[str]) -> None: ...

_EVENT_TIME = {"case-assigned": "assigned_at", "case-escalated": "escalated_at",
               "case-closed": "closed_at"}


def event_time(event: events.Event) -> datetime:
    return event.data.get(_EVENT_TIME.get(event.topic, "")) or event.time


def unit_jurisdiction(unit: str) -> str:
    """The jurisdiction of a unit code: ``<jurisdiction>#commission``, ``<employer>#embedded``
    (an employer's code is its jurisdiction's plus a slug)."""
    code, _, kind = unit.partition("#")
    return code.rsplit("/", 1)[0] if kind == "embedded" else code


def note_conflicts(batch: list[events.Event]) -> None:
    """Remember where conflict escalations took their clues, highest level last (idempotent)."""
    store = clues()
    for event in batch:
        data = event.data
        if event.topic != events.CASE_ESCALATED or "conflict" not in (data.get("reasons") or []):
            continue
        to = unit_jurisdiction(data.get("to_unit") or "")
        held, before = store.conflict_moved_to(data["clue_id"])
        if held and (before is None or len(to) < len(before)):
            store.note_conflict(data["clue_id"], to)


def step_of(event: events.Event) -> Step:
    return Step(event.type, event.data, event.id, event_time(event))


def apply_case_event(event: events.Event) -> None:
    """Move the clue's reporter-facing status for a case event and mark the clue acknowledged."""
    note_conflicts([event])
    clue_id = event.data["clue_id"]
    clue = clues().get(clue_id)
    if clue is None:
        log.warning("case event for a clue intake does not hold", extra={"clue_id": clue_id})
        return
    move_clue(clue, [step_of(event)], acknowledge=True)


def apply_case_events(batch: list[events.Event], processed: Processed) -> None:
    """`apply_case_event` for a poll's case events, skipping those `processed` has seen and
    marking the rest, in a few writes whatever the batch's size: one read of the marks, one of the
    clues, one insert of the timeline lines, one guarded update per clue, one insert of the marks.

    A clue whose status changed since the read (a reporter's objection) takes its events one by
    one again; each line's id is its event id, so nothing is written twice.
    """
    seen = processed.seen_many([e.id for e in batch])
    fresh = list({e.id: e for e in batch if e.id not in seen}.values())
    if not fresh:
        return
    note_conflicts(fresh)
    store = clues()
    held = store.many(e.data["clue_id"] for e in fresh)
    by_clue: dict[str, list[events.Event]] = {}
    for event in fresh:
        clue_id = event.data["clue_id"]
        if clue_id not in held:
            log.warning("case event for a clue intake does not hold", extra={"clue_id": clue_id})
            continue
        by_clue.setdefault(clue_id, []).append(event)
    moves = [held[clue_id].take([step_of(e) for e in clue_events], acknowledge=True)
             for clue_id, clue_events in by_clue.items()]
    if not store.save(moves):
        for clue_events in by_clue.values():  # rare: redo them all, one by one (idempotent)
            for event in clue_events:
                apply_case_event(event)
    processed.mark_many([e.id for e in fresh])
