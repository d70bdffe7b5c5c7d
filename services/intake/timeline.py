"""A clue's reporter-facing status and timeline: steps move both (`move_clue`, through the clue
store), and the reporter reads them (`timeline`), with the "still handling" note after a quiet
spell."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.intake import status
from services.intake.clue_store import clues
from services.intake.handlers import iso
from services.intake.model import Clue, Step
from shared.mongo import utcnow


def _render(at: datetime, update: status.Update, kind: str) -> dict[str, Any]:
    return {"at": iso(at), "kind": kind, "message": update.text,
            "message_zh": update.zh, "message_en": update.en}


def timeline(clue: Any, now: datetime | None = None,
             quiet_days: int = status.STILL_HANDLING_AFTER_DAYS) -> list[dict[str, Any]]:
    """The reporter-safe updates of `clue` (anything with its id, status and received_at), oldest
    first, with the "still handling" note after `quiet_days` without news (STILL_HANDLING_DAYS)."""
    items = [_render(clue.received_at, status.RECEIVED_UPDATE, "received")]
    last = clue.received_at
    for line in clues().lines(clue.id):
        items.append(_render(line.at, status.Update(line.zh, line.en), line.kind))
        last = max(last, line.at)
    now = now or utcnow()
    note = status.still_handling(clue.status, (now - last) / timedelta(days=1), quiet_days)
    if note:
        items.append(_render(now, note, "still_handling"))
    return items


def move_clue(clue: Clue, steps: list[Step], acknowledge: bool) -> str:
    """Apply `steps` to the clue's status and timeline; safe to run twice for the same steps (a
    line's id is its event's). A clue whose status changed meanwhile takes them again on what it
    is now. Returns the status reached."""
    store = clues()
    for _attempt in range(10):
        move = clue.take(steps, acknowledge)
        if store.save([move]):
            return move.after
        found = store.get(clue.id)
        if found is None:
            break
        clue = found
    raise RuntimeError("the clue's status kept changing underneath")
