"""The clues' outcome store's contract, on the real database and on the in-memory twin: the same
calls give the same answers on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.outcome_store import MemoryOutcomeStore, Outcome, OutcomeStore

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["database", "memory"])
def store(request, mongo_db):
    return OutcomeStore() if request.param == "database" else MemoryOutcomeStore()


def test_the_latest_close_of_a_clue_is_kept(store):
    assert store.of_clues([]) == {} and store.of_clues(["c1"]) == {}
    store.record([Outcome("c1", "concluded", ["admonition_talk"], T0),
                  Outcome("c2", "preliminary_verification", [], T0)])
    store.record([])
    later = T0 + timedelta(days=30)
    store.record([Outcome("c1", "preliminary_verification", ["restitution", "reassigned"], later)])
    found = store.of_clues(["c1", "c2", "c3"])
    assert set(found) == {"c1", "c2"}
    assert (found["c1"].disposition, found["c1"].outcomes) == ("preliminary_verification",
                                                              ["restitution", "reassigned"])
    assert found["c1"].closed_at == later.replace(microsecond=123000)  # kept to the millisecond
    assert (found["c2"].disposition, found["c2"].outcomes) == ("preliminary_verification", [])
