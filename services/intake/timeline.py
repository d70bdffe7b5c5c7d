"""A clue's reporter-facing status and timeline: an event moves both (`move_clue`), and the
reporter reads them (`timeline`), with the "still handling" note after a quiet spell."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from services.intake import status
from services.intake.documents import Clue, ClueUpdate
from services.intake.handlers import iso
from shared import events
from shared.mongo import exact, utcnow
from shared.times import to_ms


def _render(at: datetime, update: status.Update, kind: str) -> dict[str, Any]:
    return {"at": iso(at), "kind": kind, "message": update.text,
            "message_zh": update.zh, "message_en": update.en}


def timeline(clue: Clue, now: datetime | None = None,
             quiet_days: int = status.STILL_HANDLING_AFTER_DAYS) -> list[dict[str, Any]]:
    """The clue's reporter-safe updates, oldest first, with the "still handling" note after
    `quiet_days` without news (the STILL_HANDLING_DAYS setting)."""
    items = [_render(clue.received_at, status.RECEIVED_UPDATE, "received")]
    last = clue.received_at
    for line in ClueUpdate.objects(__raw__=exact(clue_id=clue.id)).order_by("at"):
        items.append(_render(line.at, status.Update(line.message_zh, line.message_en), line.kind))
        last = max(last, line.at)
    now = now or utcnow()
    note = status.still_handling(clue.status, (now - last) / timedelta(days=1), quiet_days)
    if note:
        items.append(_render(now, note, "still_handling"))
    return items


def move_clue(clue: Clue, event_type: str, data: dict[str, Any], update_id: str, at: datetime,
          acknowledge: bool) -> str:
    """Apply one event to the clue's status and timeline; safe to run twice for the same event."""
    for _attempt in range(10):
        new_status, update = status.apply(clue.status, event_type, data)
        if update is not None:
            try:
                ClueUpdate(id=update_id, clue_id=clue.id, at=at, kind=events.TOPIC_OF_TYPE.get(
                    event_type, event_type), message_zh=update.zh, message_en=update.en).save(
                    force_insert=True)
            except (me.NotUniqueError, DuplicateKeyError):
                pass  # a re-delivery: the line is there already
        changes: dict[str, Any] = {"set__status": new_status}
        if new_status == status.CLOSED and clue.status != status.CLOSED:
            changes["set__closed_ms"] = to_ms(at)  # the objection window starts (retention)
        if acknowledge:
            changes["set__acknowledged"] = True
        if Clue.objects(id=clue.id, status=clue.status).update_one(**changes):
            return new_status
        clue = Clue.objects(id=clue.id).only("id", "status").first()
    raise RuntimeError("the clue's status kept changing underneath")
