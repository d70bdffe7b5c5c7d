"""The queue's drain killed on either side of the case's update, on the real database: the sweep
gives back a slot no case took, and keeps one a case did."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.assignment import handlers
from services.assignment.documents import CadreSlot
from services.assignment.registry_store import RegistryCache
from shared import events
from shared.auth import Principal
from tests.unit.assignment.kills import draining, killed_at_update, killed_before_settling

from .test_concurrency import UNIT, prepare
from .workers import clue_event

pytestmark = pytest.mark.stack


def one_assigned_one_queued(settings, tmp_path):
    prepare(tmp_path, settings, [1])
    ctx = handlers.Context(registry=RegistryCache(0).get)
    batch = [events.decode(events.encode(clue_event(i, name=f"人{i}"))) for i in ("c1", "c2")]
    handlers.clues_received(batch, ctx)
    first = handlers.cases().find_one({"clue_id": "c1"})
    assert handlers.cases().find_one({"clue_id": "c2"})["status"] == "queued"
    return ctx, first


def close(ctx, case):
    handlers.close_case(case["_id"], Principal("cadre", case["cadre_id"], "k"), "concluded", [], "x", ctx)


def loads() -> dict[str, int]:
    return {c.id: c.load for c in CadreSlot.objects(unit=UNIT)}


def holders() -> dict[str, int]:
    held = {c.id: 0 for c in CadreSlot.objects(unit=UNIT)}
    for doc in handlers.cases().find({"holds_slot": True}, {"cadre_id": 1}):
        held[doc["cadre_id"]] += 1
    return held


def test_killed_before_the_case_took_the_slot(settings, mongo_db, tmp_path, monkeypatch):
    ctx, first = one_assigned_one_queued(settings, tmp_path)
    with killed_at_update(monkeypatch, draining):
        close(ctx, first)
    assert loads() != holders()  # the stranded slot
    later = events.now() + timedelta(minutes=3)
    assert handlers.sweep_stranded_slots(ctx, later) == 1
    assert handlers.cases().find_one({"clue_id": "c2"})["status"] == "assigned"
    assert loads() == holders()
    assert handlers.sweep_stranded_slots(ctx, later) == 0


def test_killed_after_the_case_took_the_slot(settings, mongo_db, tmp_path, monkeypatch):
    ctx, first = one_assigned_one_queued(settings, tmp_path)
    with killed_before_settling(monkeypatch):
        close(ctx, first)
    assert handlers.cases().find_one({"clue_id": "c2"})["status"] == "assigned"
    assert any(c.inflight for c in CadreSlot.objects(unit=UNIT))
    assert handlers.sweep_stranded_slots(ctx, events.now() + timedelta(minutes=3)) == 0
    assert loads() == holders() and not any(c.inflight for c in CadreSlot.objects(unit=UNIT))
