"""The clue as intake holds it after receiving it: its reporter-facing status and timeline, in plain
Python. An event (a case event, a reporter's follow-up) is a `Step`; `Clue.take` says what the
steps do to the clue, as a `Move` that a `ClueStore` saves in one guarded write. The status rules
are status.py's: forward only, an objection reopens a closed clue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake import status
from shared import events


@dataclass(frozen=True)
class Line:
    """One line of the reporter's timeline; its id is the id of the event that wrote it, so an
    event taken twice writes it once."""

    id: str
    clue_id: str
    at: datetime
    kind: str
    zh: str
    en: str


@dataclass(frozen=True)
class Step:
    """An event as a clue takes it: its type (topic or CloudEvents type), data, id and time."""

    type: str
    data: dict
    id: str
    at: datetime


@dataclass(frozen=True)
class Move:
    """What steps do to a clue: its status before and after, the lines they add, whether the clue
    is now acknowledged (a case event settles its clue-received), and, when the clue became
    closed, when (the objection window of retention starts then)."""

    clue_id: str
    before: str
    after: str
    lines: tuple[Line, ...]
    acknowledge: bool
    closed_at: datetime | None


@dataclass(frozen=True)
class Clue:
    id: str
    status: str
    received_at: datetime | None = None

    def take(self, steps: list[Step], acknowledge: bool) -> Move:
        """The move of these steps, in the order given."""
        after, lines, closed_at = self.status, [], None
        for step in steps:
            after, update = status.apply(after, step.type, step.data)
            if update is not None:
                kind = events.TOPIC_OF_TYPE.get(step.type, step.type)
                lines.append(Line(step.id, self.id, step.at, kind, update.zh, update.en))
            if events.TOPIC_OF_TYPE.get(step.type, step.type) == events.CASE_CLOSED:
                closed_at = step.at
        newly_closed = after == status.CLOSED and self.status != status.CLOSED
        return Move(self.id, self.status, after, tuple(lines), acknowledge,
                    (closed_at or steps[-1].at) if newly_closed else None)
