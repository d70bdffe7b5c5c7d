"""THE concurrency test: four real consumer processes in one group against the local stack."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from services.assignment import handlers
from services.assignment.documents import CadreSlot, ensure_indexes
from services.assignment.registry_file import parse_registry
from services.assignment.registry_store import RegistryCache, save_registry
from shared.auth import Principal
from shared.mongo import utcnow
from tests.integration.shared.helpers import wait_for
from tests.unit.assignment.sample_registries import small_registry_yaml

from .workers import Workers, clue_event, isolated, publish_clues, worker_env

pytestmark = pytest.mark.stack

UNIT = "foshan/d1/t1#commission"
CAPACITIES = [25, 25, 25, 25, 50, 50, 50, 50, 100, 100]  # 500 in all


def prepare(tmp_path, settings, capacities):
    text = small_registry_yaml(capacities)
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    ensure_indexes()
    save_registry(parse_registry(text, str(path)), str(path))
    return path


def counts() -> dict[str, int]:
    out: dict[str, int] = {}
    for doc in handlers.cases().find({}, {"status": 1}):
        out[doc["status"]] = out.get(doc["status"], 0) + 1
    return out


def check_loads(capacities_by_id: dict[str, int]) -> dict[str, int]:
    """Every cadre at or under capacity, and each load equal to the open cases they hold."""
    open_by_cadre: dict[str, int] = {}
    for doc in handlers.cases().find(
        {"status": {"$ne": "closed"}, "cadre_id": {"$ne": None}}, {"cadre_id": 1}
    ):
        open_by_cadre[doc["cadre_id"]] = open_by_cadre.get(doc["cadre_id"], 0) + 1
    loads = {c.id: c.load for c in CadreSlot.objects(unit=UNIT)}
    for cadre_id, load in loads.items():
        assert load <= capacities_by_id[cadre_id], (cadre_id, load)
        assert open_by_cadre.get(cadre_id, 0) <= capacities_by_id[cadre_id]
    return {cid: loads[cid] - open_by_cadre.get(cid, 0) for cid in loads}


def test_four_workers_2000_clues_into_capacity_500(stack, settings, mongo_db, tmp_path):
    mine = isolated(settings)
    path = prepare(tmp_path, mine, CAPACITIES)
    workers = Workers(worker_env(stack, mine, mongo_db, path), tmp_path)
    workers.start(4)
    try:
        clues = [clue_event(f"k{i:05d}") for i in range(2000)]
        publish_clues(mine, clues)
        wait_for(
            lambda: handlers.cases().count_documents({}) >= 2000,
            timeout=150,
            interval=0.5,
            message="2,000 cases",
        )
        time.sleep(1)  # let any duplicate delivery in flight finish, to catch a second case
        assert handlers.cases().count_documents({}) == 2000
        assert len(handlers.cases().distinct("clue_id")) == 2000
        assert {c["clue_id"] for c in handlers.cases().find({}, {"clue_id": 1})} == {
            e["subject"] for e in clues
        }
        assert counts() == {"assigned": 500, "queued": 1500}
        capacity = {f"t-{i + 1:03d}": cap for i, cap in enumerate(CAPACITIES)}
        assert set(check_loads(capacity).values()) == {0}
        assert {c.load for c in CadreSlot.objects(unit=UNIT)} == set(CAPACITIES)

        # close 100 cases, four closers at once: exactly 100 queued cases get the freed slots
        ctx = handlers.Context(registry=RegistryCache(0).get)
        to_close = list(handlers.cases().find({"status": "assigned"}, {"cadre_id": 1}).limit(100))
        oldest_queued = [
            d["_id"]
            for d in handlers.cases().find({"status": "queued"}, {"_id": 1}).sort("received_at", 1).limit(100)
        ]
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda d: handlers.close_case(
                        d["_id"],
                        Principal("cadre", d["cadre_id"], "k"),
                        "concluded",
                        ["unfounded"],
                        "查无实据",
                        ctx,
                    ),
                    to_close,
                )
            )
        assert counts() == {"assigned": 500, "queued": 1400, "closed": 100}
        assert set(check_loads(capacity).values()) == {0}
        newly = {
            d["_id"]
            for d in handlers.cases().find({"_id": {"$in": oldest_queued}}, {"status": 1})
            if d["status"] == "assigned"
        }
        assert len(newly) >= 90  # queue order by received time (same-millisecond ties may swap)
        wait_for(
            lambda: handlers.cases().count_documents({"outbox_pending": True}) == 0,
            timeout=60,
            message="every staged event published",
        )
    finally:
        codes = workers.stop()
    assert codes == [0, 0, 0, 0], workers.logs()


def test_sigkill_of_one_worker_loses_nothing_and_duplicates_nothing(stack, settings, mongo_db, tmp_path):
    """600 clues (fewer than the 2,000 above, to stay bounded) into capacity 200; one of four
    workers is SIGKILLed mid-stream."""
    mine = isolated(settings)
    capacities = [20, 30, 50, 100]
    path = prepare(tmp_path, mine, capacities)
    workers = Workers(worker_env(stack, mine, mongo_db, path), tmp_path)
    workers.start(4)
    try:
        clues = [clue_event(f"s{i:05d}") for i in range(600)]
        publish_clues(mine, clues)
        wait_for(
            lambda: handlers.cases().count_documents({}) >= 60,
            timeout=90,
            interval=0.05,
            message="work under way",
        )
        workers.kill(0)
        wait_for(
            lambda: handlers.cases().count_documents({}) >= 600,
            timeout=150,
            interval=0.5,
            message="600 cases after the kill",
        )
        time.sleep(1)
        assert handlers.cases().count_documents({}) == 600
        assert {c["clue_id"] for c in handlers.cases().find({}, {"clue_id": 1})} == {
            e["subject"] for e in clues
        }
        capacity = {f"t-{i + 1:03d}": cap for i, cap in enumerate(capacities)}
        # A kill between claiming slots and inserting the batch's cases strands those slots until
        # the scheduler's sweep gives them back (journaled claims older than two minutes; here the
        # survivors are idle, so everything journaled is the dead worker's).
        stranded = sum(check_loads(capacity).values())
        assert counts() == {"assigned": 200 - stranded, "queued": 400 + stranded}
        ctx = handlers.Context(registry=RegistryCache(0).get)
        assert handlers.sweep_stranded_slots(ctx, utcnow() + timedelta(seconds=1)) == stranded
        assert set(check_loads(capacity).values()) == {0}
        assert counts() == {"assigned": 200, "queued": 400}
        assert all(not c.inflight for c in CadreSlot.objects(unit=UNIT))
    finally:
        codes = workers.stop()
    assert codes[1:] == [0, 0, 0], workers.logs()
