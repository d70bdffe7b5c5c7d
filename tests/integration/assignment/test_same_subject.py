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
