"""How far a clue has come, and which feedback its next event earns (plain Python, no I/O).

Stages only move forward: received < accepted < transferred/supervised < closed. An event for a
stage the clue has already passed sends nothing (a close that arrived before the assign means no
"accepted" afterwards). A case event that happened after the close, or that says the case was
reopened, is new work: a new generation, whose stages start again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from shared.times import to_ms

STAGE = {"received": 0, "accepted": 1, "reviewing": 1, "transferred": 2, "supervised": 2, "closed": 3}
NONE_YET = -1
CLOSED = STAGE["closed"]
# Escalations are told once per escalation event; the other kinds once per clue and generation.
PER_EVENT_KINDS = ("transferred", "supervised")
ESCALATION_KIND = {"direct_investigation": "transferred", "supervised": "supervised"}


@dataclass(frozen=True)
class Progress:
    """The highest stage a clue reached in its current generation."""

    stage: int = NONE_YET
    generation: int = 0
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """Whether to tell the reporter, under which notification key, and the progress afterwards."""

    send: bool
    progress: Progress
    key: str = ""


def decide(progress: Progress, kind: str, at: datetime, *, clue_id: str, event_id: str,
           reopened: bool = False) -> Decision:
    """The feedback an event of `kind` (happened `at`) earns given the clue's `progress`.

    Raises ValueError for a kind that has no stage.
    """
    if kind not in STAGE:
        raise ValueError(f"no stage for kind {kind!r}")
    stage = STAGE[kind]
    if progress.stage == CLOSED and kind != "received":
        later = progress.closed_at is not None and at > progress.closed_at
        if later or (reopened and kind != "closed"):
            progress = Progress(stage=NONE_YET, generation=progress.generation + 1)
    if kind == "closed":
        if progress.stage == CLOSED:
            return Decision(False, progress)
        after = replace(progress, stage=CLOSED, closed_at=at)
    elif kind in PER_EVENT_KINDS:
        if progress.stage >= CLOSED:
            return Decision(False, progress)
        after = replace(progress, stage=max(progress.stage, stage))
    else:
        if progress.stage >= stage:
            return Decision(False, progress)
        after = replace(progress, stage=stage)
    return Decision(True, after, notification_key(kind, clue_id, after.generation, event_id))


def notification_key(kind: str, clue_id: str, generation: int, event_id: str) -> str:
    """The deterministic natural key of one notification, so duplicate events collapse on it.

    One clue has exactly one reporter, so the clue id stands for (clue, reporter_ref): a
    notification made before the reporter's contact arrived gets the same key as one made after.
    """
    if kind in PER_EVENT_KINDS:
        return f"{kind}|{clue_id}|event:{event_id}"
    return f"{kind}|{clue_id}|gen:{generation}"


def still_handling_key(clue_id: str, quiet_since: datetime) -> str:
    """The key of the "still being handled" note for the quiet period that began `quiet_since`
    (in epoch milliseconds: the keys' format, unchanged)."""
    return f"still_handling|{clue_id}|since:{to_ms(quiet_since)}"


def notification_id(key: str) -> str:
    """A short, stable document id for a notification key."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]
