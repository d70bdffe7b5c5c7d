"""What came of each clue, kept from the case-closed events (on the in-memory outcome store)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.intake import outcomes
from services.intake.outcome_store import MemoryOutcomeStore, use
from shared import events

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def store():
    mine = MemoryOutcomeStore()
    previous = use(mine)
    yield mine
    use(previous)


def closed(clue_id: str, at: datetime = T0, found: tuple[str, ...] = ("admonition_talk",)) -> events.Event:
    return events.decode(events.encode(events.make_event(events.CASE_CLOSED, {
        "case_id": "k-" + clue_id, "clue_id": clue_id, "disposition": "preliminary_verification",
        "outcomes": list(found), "reporter_summary": "", "closed_at": at}, source="/tests")))


def assigned(clue_id: str) -> events.Event:
    return events.decode(events.encode(events.make_event(events.CASE_ASSIGNED, {
        "case_id": "k-" + clue_id, "clue_id": clue_id, "unit": "foshan#commission", "cadre_id": "c",
        "status": "assigned", "due_at": T0 + timedelta(days=30), "assigned_at": T0}, source="/tests")))


def test_only_case_closed_events_are_kept_and_a_later_close_replaces_an_earlier(store):
    assert outcomes.record([assigned("c1"), closed("c1"), closed("c2")]) == 2
    assert set(outcomes.of_clues(["c1", "c2", "c3"])) == {"c1", "c2"}
    assert outcomes.record([closed("c1", T0 + timedelta(days=30), ("restitution",))]) == 1
    kept = outcomes.of_clues(["c1"])["c1"]
    assert kept.outcomes == ["restitution"] and kept.closed_at == T0 + timedelta(days=30)
    assert outcomes.record([assigned("c3")]) == 0 and outcomes.of_clues(["c3"]) == {}
