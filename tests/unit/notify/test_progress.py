"""The feedback rules: which event earns which notification, given how far the clue has come."""

from datetime import UTC, datetime, timedelta

import pytest

from services.notify.progress import (
    CLOSED,
    NONE_YET,
    Progress,
    decide,
    notification_id,
    notification_key,
    still_handling_key,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)
EARLY = T0 - timedelta(days=1)
LATE = T0 + timedelta(days=1)


def at_stage(stage: int, closed_at=None) -> Progress:
    return Progress(stage=stage, generation=0, closed_at=closed_at)


@pytest.mark.parametrize(
    ("before", "kind", "at", "send", "stage_after"),
    [
        (Progress(), "received", T0, True, 0),
        (at_stage(0), "received", T0, False, 0),
        (Progress(), "accepted", T0, True, 1),          # a case event before clue-received
        (at_stage(0), "accepted", T0, True, 1),
        (at_stage(1), "accepted", T0, False, 1),        # queued then assigned: one "accepted"
        (at_stage(1), "received", T0, False, 1),        # late clue-received: no "received"
        (at_stage(1), "transferred", T0, True, 2),
        (at_stage(2), "supervised", T0, True, 2),       # every escalation event is told
        (at_stage(2), "accepted", T0, False, 2),
        (at_stage(2), "closed", T0, True, CLOSED),
        (at_stage(CLOSED, T0), "accepted", EARLY, False, CLOSED),   # close before assign
        (at_stage(CLOSED, T0), "transferred", EARLY, False, CLOSED),
        (at_stage(CLOSED, T0), "closed", T0, False, CLOSED),        # duplicate close
        (at_stage(CLOSED, T0), "received", LATE, False, CLOSED),
        (at_stage(CLOSED, T0), "accepted", LATE, True, 1),          # reopened: new work
        (at_stage(CLOSED, T0), "closed", LATE, True, CLOSED),       # closed again after a reopen
    ],
)
def test_decide(before, kind, at, send, stage_after):
    decision = decide(before, kind, at, clue_id="01HCLUE", event_id="e1")
    assert decision.send is send
    assert decision.progress.stage == stage_after
    assert bool(decision.key) is send


def test_reopen_flag_starts_a_new_generation_with_its_own_key():
    closed = at_stage(CLOSED, T0)
    decision = decide(closed, "accepted", EARLY, clue_id="C1", event_id="e9", reopened=True)
    assert decision.send and decision.progress.generation == 1
    first = decide(Progress(), "accepted", EARLY, clue_id="C1", event_id="e1")
    assert decision.key != first.key


def test_reopen_flag_does_not_resend_a_duplicate_close():
    decision = decide(at_stage(CLOSED, T0), "closed", T0, clue_id="C1", event_id="e2", reopened=True)
    assert not decision.send


def test_keys_collapse_duplicates_and_separate_escalation_events():
    assert notification_key("accepted", "C1", 0, "e1") == notification_key("accepted", "C1", 0, "e2")
    assert notification_key("transferred", "C1", 0, "e1") != notification_key("transferred", "C1", 0, "e2")
    assert notification_key("closed", "C1", 0, "e1") != notification_key("closed", "C1", 1, "e1")
    assert notification_id("a") == notification_id("a") != notification_id("b")
    assert len(notification_id("a")) == 32


def test_still_handling_key_is_per_quiet_period():
    assert still_handling_key("C1", T0) != still_handling_key("C1", LATE)
    assert still_handling_key("C1", T0) == still_handling_key("C1", T0)


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError):
        decide(Progress(), "still_handling", T0, clue_id="C1", event_id="e1")
    assert NONE_YET < 0
