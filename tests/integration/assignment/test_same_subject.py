"""Two workers racing on clues about the same people, against the real database: one open case
per subject and category, every other clue linked to it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.assignment import handlers
from services.assignment.documents import CadreSlot
from services.assignment.registry_store import RegistryCache
from shared import events

from .test_concurrency import UNIT, prepare
from .workers import clue_event

pytestmark = pytest.mark.stack

PEOPLE = 40


def clues_about_each(tag: str) -> list[events.Event]:
    envelopes = [clue_event(f"{tag}{i:03d}", name=f"同一人{i}") for i in range(PEOPLE)]
    return [events.decode(events.encode(e)) for e in envelopes]


def assert_one_case_per_person(tags: tuple[str, ...]) -> None:
    docs = list(handlers.cases().find({}))
    assert len(docs) == PEOPLE
    for doc in docs:
        person = doc["subject_name"].removeprefix("同一人")
        assert sorted(handlers.clue_ids(doc)) == [f"{tag}{int(person):03d}" for tag in tags]
    held = handlers.cases().count_documents({"unit": UNIT, "holds_slot": True})
    assert sum(c.load for c in CadreSlot.objects(unit=UNIT)) == held == PEOPLE


def test_two_batches_about_the_same_people_at_once_make_one_case_each(settings, mongo_db, tmp_path):
    """Both batches read "no case yet" for every person, then insert: the second insert of each
    person is refused by the database and its clue linked to the first's case."""
    prepare(tmp_path, settings, [50, 50])
    batches = {tag: clues_about_each(tag) for tag in ("a", "b")}
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def worker(batch: list[events.Event]) -> None:
        ctx = handlers.Context(registry=RegistryCache(0).get)
        start.wait()
        try:
            handlers.clues_received(batch, ctx)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures
    assert_one_case_per_person(("a", "b"))


def test_open_cases_from_before_the_key_get_it_once(settings, mongo_db, tmp_path):
    prepare(tmp_path, settings, [50, 50])
    handlers.clues_received(clues_about_each("a")[:3], handlers.Context(registry=RegistryCache(0).get))
    handlers.cases().update_many({}, {"$unset": {"open_key": ""}})
    twin = {**handlers.cases().find_one({"clue_id": "a000"}), "_id": "twin", "clue_id": "z000"}
    twin["received_at"] = twin["received_at"] + timedelta(hours=1)  # newer: it gets no key
    handlers.cases().insert_one(twin)
    assert handlers.backfill_open_keys() == 3
    assert "open_key" not in handlers.cases().find_one({"_id": "twin"})
    assert handlers.cases().count_documents({"open_key": {"$exists": True}}) == 3
    assert handlers.backfill_open_keys() == 0


def test_a_reopened_case_leaves_the_key_to_a_newer_open_case(settings, mongo_db, tmp_path):
    """An objection reopens a closed case while a newer case on the same person is open: the
    database refuses the key to the reopened case, which is reopened all the same."""
    from shared.auth import Principal

    prepare(tmp_path, settings, [50, 50])
    ctx = handlers.Context(registry=RegistryCache(0).get)
    first, second = (events.decode(events.encode(clue_event(i, name="同一人"))) for i in ("c1", "c2"))
    handlers.clues_received([first], ctx)
    old = handlers.cases().find_one({"clue_id": "c1"})
    handlers.close_case(old["_id"], Principal("cadre", old["cadre_id"], "k"), "concluded", [], "x", ctx)
    handlers.clues_received([second], ctx)
    said = {"clue_id": "c1", "message": "不服", "objection": True, "at": events.now()}
    objection = events.make_event(events.CLUE_FOLLOWED_UP, said, source="/t")
    handlers.clue_followed_up(events.decode(events.encode(objection)), ctx)
    reopened, newer = (handlers.cases().find_one({"clue_id": i}) for i in ("c1", "c2"))
    assert reopened["status"] == "reopened" and "open_key" not in reopened
    assert newer["status"] == "assigned" and newer["open_key"]
