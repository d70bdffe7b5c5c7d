"""A real consumer taking a backlog in batches (one poll: up to 200 clues), against the real broker
and database: repeats and a redelivery inside the batch end as they would one by one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.assignment import handlers
from services.assignment.documents import CadreSlot
from shared import events
from tests.integration.shared.helpers import wait_for

from .test_concurrency import UNIT, counts, prepare
from .workers import Workers, clue_event, isolated, publish_clues, worker_env

pytestmark = pytest.mark.stack


def test_a_backlog_with_repeats_and_a_redelivery_in_one_poll(stack, settings, mongo_db, tmp_path):
    mine = isolated(settings)
    path = prepare(tmp_path, mine, [40, 40])
    start = events.now()
    others = [clue_event(f"o{i:03d}", name=f"另一人{i}") for i in range(50)]
    repeats = [clue_event(f"r{i}", name="许某", received_at=start + timedelta(minutes=i)) for i in range(3)]
    publish_clues(mine, [*others[:20], repeats[0], *others[20:35], repeats[1], repeats[0], *others[35:],
                         repeats[2]])
    workers = Workers(worker_env(stack, mine, mongo_db, path), tmp_path)
    workers.start(1)  # after publishing: the first poll holds the whole backlog
    try:
        wait_for(lambda: handlers.cases().count_documents({}) >= 51, timeout=60, message="51 cases")
        wait_for(lambda: handlers.cases().count_documents({"outbox_pending": True}) == 0, timeout=30,
                 message="every event published")
        assert handlers.cases().count_documents({}) == 51
        [case] = list(handlers.cases().find({"subject_name": "许某"}))
        assert sorted([case["clue_id"], *case["linked_clue_ids"]]) == ["r0", "r1", "r2"]
        assert "repeat" in case["escalation_reasons"]  # the third clue about the same person
        assert counts() == {"assigned": 51}
        loads = {c.id: (c.load, c.inflight) for c in CadreSlot.objects(unit=UNIT)}
        held = handlers.cases().count_documents({"unit": UNIT, "holds_slot": True})
        assert sum(load for load, _ in loads.values()) == held and held == 50
        assert all(not inflight for _, inflight in loads.values())
    finally:
        codes = workers.stop()
    assert codes == [0], workers.logs()
