"""Case events (case-assigned, case-escalated, case-closed) move the clues they are about:
their reporter-facing status and timeline, their acknowledgement (which settles the clue's
clue-received), and where a conflict escalation took them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from services.intake import status
from services.intake.documents import Clue, ClueUpdate
from services.intake.timeline import move_clue
from shared import events
from shared.mongo import ProcessedEvents, insert_new, utcnow
from shared.times import to_ms

log = logging.getLogger(__name__)

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
    for event in batch:
        data = event.data
        if event.topic != events.CASE_ESCALATED or "conflict" not in (data.get("reasons") or []):
            continue
        to = unit_jurisdiction(data.get("to_unit") or "")
        clue = Clue.objects(id=data["clue_id"]).only("conflict_moved_to").first()
        if clue is not None and (clue.conflict_moved_to is None or len(to) < len(clue.conflict_moved_to)):
            Clue.objects(id=clue.id).update_one(set__conflict_moved_to=to)


def apply_case_event(event: events.Event) -> None:
    """Move the clue's reporter-facing status for a case event and mark the clue acknowledged."""
    note_conflicts([event])
    clue_id = event.data["clue_id"]
    clue = Clue.objects(id=clue_id).only("id", "status").first()
    if clue is None:
        log.warning("case event for a clue intake does not hold", extra={"clue_id": clue_id})
        return
    move_clue(clue, event.type, event.data, event.id, event_time(event), acknowledge=True)


def apply_case_events(batch: list[events.Event], processed: ProcessedEvents) -> None:
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
    clues = Clue._get_collection()
    wanted = sorted({e.data["clue_id"] for e in fresh})
    read = {d["_id"]: d["status"] for d in clues.find({"_id": {"$in": wanted}}, {"status": 1})}
    after, lines, by_clue = _fold(read, fresh)
    if lines:
        insert_new(ClueUpdate._get_collection(), lines)  # a re-delivery's lines are there already
    if by_clue:
        moves = [UpdateOne({"_id": clue_id, "status": read[clue_id]},
                           {"$set": _moved(read[clue_id], after[clue_id], by_clue[clue_id])})
                 for clue_id in by_clue]
        if clues.bulk_write(moves, ordered=False).matched_count < len(moves):
            for clue_events in by_clue.values():  # rare: redo them all, one by one (idempotent)
                for event in clue_events:
                    apply_case_event(event)
    processed.mark_many([e.id for e in fresh])


def _moved(before: str, after: str, clue_events: list[events.Event]) -> dict[str, Any]:
    """The $set of a clue moved from `before` to `after` by its events: a clue newly closed notes
    when (its case-closed event's time), which starts the objection window of `retention`."""
    changes: dict[str, Any] = {"status": after, "acknowledged": True}
    if after == status.CLOSED and before != status.CLOSED:
        closing = [e for e in clue_events if e.topic == events.CASE_CLOSED]
        changes["closed_ms"] = to_ms(event_time(closing[-1]) if closing else utcnow())
    return changes


def _fold(read: dict[str, str], fresh: list[events.Event]) -> tuple[
        dict[str, str], list[dict[str, Any]], dict[str, list[events.Event]]]:
    """Each clue's status after its events in the order given (statuses only move forward), the
    timeline lines those events add, and the events by clue; events about clues intake does not
    hold (not in `read`) are logged and left out."""
    after = dict(read)
    lines: list[dict[str, Any]] = []
    by_clue: dict[str, list[events.Event]] = {}
    for event in fresh:
        clue_id = event.data["clue_id"]
        if clue_id not in read:
            log.warning("case event for a clue intake does not hold", extra={"clue_id": clue_id})
            continue
        by_clue.setdefault(clue_id, []).append(event)
        after[clue_id], update = status.apply(after[clue_id], event.type, event.data)
        if update is not None:
            lines.append({"_id": event.id, "clue_id": clue_id, "at": event_time(event),
                          "kind": events.TOPIC_OF_TYPE.get(event.type, event.type),
                          "message_zh": update.zh, "message_en": update.en})
    return after, lines, by_clue
