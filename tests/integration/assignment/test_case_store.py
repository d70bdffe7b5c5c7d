"""The case store's contract, on the real database and on the in-memory twin the unit tests use:
the same calls give the same answers on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import workload_store
from services.assignment.documents import Case
from services.assignment.memory_slots import MemoryWorkloadStore
from services.assignment.memory_store import MemoryCaseStore
from services.assignment.model import Transition
from services.assignment.registry import Cadre, Registry
from services.assignment.store import CaseStore, cases, escalation_entry
from shared import events

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
DUE = T0 + timedelta(days=90)
UNIT = "foshan/chancheng/shiwan#commission"


@pytest.fixture(params=["database", "memory"])
def store(request):
    """The store on the database or in memory, the cadres' slot store (workload_store.py) in use
    of the same kind: k1 holds a case and leads one, k2 leads one."""
    cadres = Registry([], [], [], [Cadre("k1", "甲", UNIT, "officer", 5),
                                   Cadre("k2", "乙", UNIT, "leader", 5)])
    if request.param == "memory":
        made, slots = MemoryCaseStore(), MemoryWorkloadStore()
    else:
        request.getfixturevalue("mongo_db")
        Case.ensure_indexes()
        made, slots = CaseStore(), workload_store.MongoWorkloadStore()
    previous = workload_store.use(slots)
    workload_store.sync_roster(cadres)
    key = workload_store.journal_key(T0, "j")
    read = {s.id: s for s in workload_store.unit_slots(UNIT)}
    assert workload_store.claim(read, {key: ("k1", ["held"])}, T0) == {key}
    workload_store.clear_journals({"k1": [key]})
    workload_store.add_leads({"k1": 1, "k2": 1})
    yield made
    workload_store.use(previous)


def case(case_id: str, clue_id: str, **fields) -> dict:
    doc = {"_id": case_id, "clue_id": clue_id, "linked_clue_ids": [], "unit": UNIT, "status": "assigned",
           "cadre_id": None, "lead_cadre_id": None, "subject_key": "s1", "category": "solicitation",
           "open_key": f"s1|{clue_id}", "received_at": T0, "due_at": DUE, "assigned_at": T0,
           "supervised_at": None, "triage_reason": None, "watched_by": None, "outbox_version": 0}
    return {**doc, **fields}


def event(case_id: str) -> dict:
    return events.make_event(events.CASE_ESCALATED, {
        "case_id": case_id, "clue_id": "c1", "from_unit": UNIT, "to_unit": "foshan#commission",
        "mode": "supervised", "reasons": ["manual"], "escalated_at": T0}, source="/test", at=T0)


def load(cadre: str) -> tuple[int, int]:
    found = next(s for s in workload_store.unit_slots(UNIT) if s.id == cadre)
    return found.load, found.leads


def test_cases_are_stored_and_found_with_their_times(store):
    refused, error = store.insert([case("a", "c1"), case("b", "c2", linked_clue_ids=["c3"])])
    assert (refused, error) == ([], None)
    found = store.get("a")
    assert found["due_at"] == DUE and found["assigned_at"] == T0 and found["supervised_at"] is None
    assert store.by_clue("c1")["_id"] == "a" and store.by_clue("c3")["_id"] == "b"
    assert store.by_clue("nothing") is None and store.get("nothing") is None
    assert store.open_key_taken("s1|c1") and not store.open_key_taken("s1|c9")
    assert set(store.get("a", {"unit": 1})) == {"_id", "unit"}


def test_insert_refuses_a_taken_clue_or_open_key_by_position(store):
    store.insert([case("a", "c1")])
    refused, error = store.insert([case("b", "c1"), case("c", "c5"), case("d", "c6", open_key="s1|c1")])
    assert (refused, error) == ([0, 2], None)
    assert store.get("c") is not None and store.get("b") is None and store.get("d") is None


def test_select_filters_sorts_and_limits_with_times_as_datetimes(store):
    store.insert([
        case("a", "c1", due_at=T0 + timedelta(days=1), status="queued"),
        case("b", "c2", due_at=T0 + timedelta(days=3), cadre_id="k1", linked_clue_ids=["c9"]),
        case("c", "c3", due_at=T0 + timedelta(days=2), status="closed"),
    ])
    ids = lambda docs: [d["_id"] for d in docs]  # noqa: E731
    open_ = {"$in": ["queued", "assigned"]}
    assert ids(store.select({"status": open_}, sort=("due_at", 1))) == ["a", "b"]
    before = {"due_at": {"$lt": T0 + timedelta(days=2, hours=1)}}
    assert ids(store.select(before, sort=("due_at", -1))) == ["c", "a"]
    assert ids(store.select({"due_at": {"$lte": T0 + timedelta(days=2)}, "status": "closed"})) == ["c"]
    assert ids(store.select({"cadre_id": None}, sort=("_id", 1))) == ["a", "c"]
    assert ids(store.select({"cadre_id": "k1"})) == ["b"] == ids(store.select({"linked_clue_ids": "c9"}))
    assert ids(store.select({"_id": {"$lt": "c"}}, sort=("_id", -1), limit=1)) == ["b"]
    assert ids(store.select({"open_key": {"$exists": False}})) == []
    [only] = store.select({"_id": "b"}, {"due_at": 1})
    assert only == {"_id": "b", "due_at": T0 + timedelta(days=3)}
    assert "outbox_version" not in store.select({"_id": "a"}, {"outbox_version": 0})[0]


def test_an_update_is_one_conditional_write_with_its_events(store):
    store.insert([case("a", "c1")])
    doc = store.get("a")
    later = T0 + timedelta(days=1)
    updated = store.update(doc, {"status": "supervised", "supervised_at": later}, [event("a")],
                           expect={"supervised_at": None}, unset=("open_key",))
    assert updated["status"] == "supervised" and updated["supervised_at"] == later
    assert updated["outbox_version"] == 1 and [e["topic"] for e in updated["outbox"]] == ["case-escalated"]
    assert "open_key" not in updated and store.get("a") == updated
    assert store.update(doc, {"status": "queued"}, []) is None  # read before: the version moved on
    assert store.update(updated, {"status": "queued"}, [], expect={"supervised_at": None}) is None
    done = Transition({"status": "closed", "closed_at": later}, [event("a")])
    assert store.save(updated, done, {"status": {"$in": ["supervised"]}})["closed_at"] == later
    assert store.select({"closed_at": {"$lte": later}})[0]["_id"] == "a"


def test_a_release_gives_the_slot_and_lead_back_once(store):
    store.insert([case("a", "c1", cadre_id="k1", lead_cadre_id="k2")])
    doc = store.get("a")
    updated = store.update(doc, {"cadre_id": None, "status": "queued"}, [], release=("k1", "k2"), now=T0)
    assert load("k1") == (0, 1) and load("k2") == (0, 0)
    assert updated["release_slot"] == "k1" and store.get("a")["release_key"] is None  # journal cleared
    assert workload_store.marks("k1") == set() == workload_store.marks("k2")
    store.finish_release({**doc, "release_key": "r-old", "release_slot": "k1", "release_lead": "k2"})
    assert load("k1") == (0, 1) and load("k2") == (0, 0)  # never below nothing


def test_a_release_left_half_done_is_finished_by_the_sweep(store, monkeypatch):
    store.insert([case("a", "c1", cadre_id="k1")])
    monkeypatch.setattr(store, "finish_release", lambda _doc: None)  # the worker died after the write
    store.update(store.get("a"), {"cadre_id": None}, [], release=("k1", None), now=T0)
    monkeypatch.undo()
    assert load("k1") == (1, 1) and store.get("a")["release_key"]
    assert store.finish_stranded_releases(T0 - timedelta(minutes=1)) == set()  # too recent
    assert store.finish_stranded_releases(T0 + timedelta(minutes=5)) == {UNIT}
    assert load("k1") == (0, 1) and store.get("a")["release_key"] is None
    assert store.finish_stranded_releases(T0 + timedelta(minutes=5)) == set() and load("k1") == (0, 1)


def test_open_keys_are_given_to_open_cases_without_one(store):
    old, closed = case("a", "c1", status="queued"), case("c", "c3", status="closed")
    del old["open_key"], closed["open_key"]
    store.insert([old, case("b", "c2", open_key="taken"), closed])
    assert not store.give_open_key("c", "s1|c3")  # closed cases have none
    assert not store.give_open_key("a", "taken")
    assert store.give_open_key("a", "s1|c1") and store.get("a")["open_key"] == "s1|c1"
    assert not store.give_open_key("a", "s1|other")  # it has one now
    assert not store.give_open_key("nothing", "k")


def test_clues_of_a_case(store):
    store.keep_clue("a", {"clue_id": "c1", "summary": "收受红包", "received_at": T0})
    store.keep_clue("b", {"clue_id": "c1", "summary": "收受红包", "received_at": T0})  # moved to b
    store.keep_clue("a", {"clue_id": "c2", "summary": "拖延"})
    assert set(store.clues_of("a")) == {"c2"} and store.clues_of("b")["c1"]["summary"] == "收受红包"
    assert store.clues_of("nothing") == {}


def test_the_audit_trail(store):
    store.audit("a", "k1", "closed", T0 + timedelta(hours=2), entry_id="e1", disposition="concluded")
    store.audit("a", "k1", "closed", T0 + timedelta(hours=3), entry_id="e1")  # once per id
    store.audit_lines("a", "system", T0, [("assigned", {"cadre_id": "k1"})])
    store.record_reads(["a", "b"], "sup", "listed", T0 + timedelta(hours=1))
    store.audit("a", "reporter", "objection", T0 + timedelta(hours=4), message="不服")
    trail = store.audit_of("a")
    assert [e["action"] for e in trail] == ["assigned", "listed", "closed", "objection"]
    assert trail[2]["details"] == {"disposition": "concluded"} and trail[0]["actor"] == "system"
    assert store.has_audit("e1") and not store.has_audit("e2")
    [line] = store.follow_ups("a")
    assert line["message"] == "不服" and line["objection"]
    assert [e["action"] for e in store.audit_of("b")] == ["listed"]


def test_the_escalation_log(store):
    doc = case("a", "c1")
    city = "foshan#commission"
    entry = escalation_entry(doc, UNIT, city, "supervised", ["manual"], T0, "sup", "限期", DUE)
    assert store.add_escalation(entry) and not store.add_escalation(entry)
    later = escalation_entry({**doc, "outbox_version": 1}, city, "x#commission", "direct_investigation",
                             ["overdue"], T0 + timedelta(days=1), "system", None, None)
    store.add_escalation(later)
    [first, second] = store.escalations_of("a")
    assert first["due_at"] == DUE and first["note"] == "限期" and second["mode"] == "direct_investigation"
    assert [e["_id"] for e in store.escalations_touching([UNIT])] == ["a:0"]
    assert [e["_id"] for e in store.escalations_touching(["foshan#commission"])] == ["a:1", "a:0"]
    assert store.escalations_touching(["foshan#commission"], limit=1)[0]["_id"] == "a:1"


def test_follow_ups_waiting_for_their_case(store):
    store.keep_waiting("e1", {"clue_id": "c1", "message": "补充", "at": T0}, T0 + timedelta(minutes=1))
    store.keep_waiting("e1", {"clue_id": "c1", "message": "again"}, T0 + timedelta(minutes=2))  # once
    store.keep_waiting("e2", {"clue_id": "c2", "objection": True}, T0)
    assert store.waiting_clue_ids() == ["c1", "c2"] or store.waiting_clue_ids() == ["c2", "c1"]
    [kept] = store.waiting_for(["c1", "c9"])
    assert (kept["_id"], kept["message"], kept["objection"]) == ("e1", "补充", False)
    store.done_waiting("e1")
    assert store.waiting_for(["c1"]) == [] and store.waiting_clue_ids() == ["c2"]


def test_the_database_keeps_the_times_a_case_changes_as_epoch_milliseconds(mongo_db):
    """The local database's workaround (shared/times.py) stays inside the store."""
    store = CaseStore()
    store.insert([case("a", "c1")])
    store.update(store.get("a"), {"closed_at": T0 + timedelta(days=1)}, [])
    raw = cases().find_one({"_id": "a"})
    assert isinstance(raw["due_at"], int) and isinstance(raw["closed_at"], int)
    assert store.get("a")["closed_at"] == T0 + timedelta(days=1)


def test_stored_ids_tell_which_cases_are_stored_and_which_hold_a_slot_key(store):
    store.insert([case("a", "c1"), case("b", "c2")])
    store.update(store.get("b"), {"status": "queued"}, [], slot=("k1", "s1_x"))  # records the key
    assert store.stored_ids(["a", "b", "z"]) == {"a", "b"}
    assert store.stored_ids(["a", "b", "z"], "s1_x") == {"b"}
    assert store.stored_ids(["a"], "s1_other") == set() and store.stored_ids([]) == set()


def test_the_sweep_clears_a_cadres_mark_left_by_a_release_whose_case_is_done(store):
    store.insert([case("a", "c1", cadre_id="k1")])
    workload_store.give_back_once("k1", "load", "r-gone", T0)  # the worker died before unmarking
    assert workload_store.marks("k1") == {"r-gone"} and load("k1") == (0, 1)
    assert store.finish_stranded_releases(T0 - timedelta(minutes=1)) == set()
    assert workload_store.marks("k1") == {"r-gone"}  # too recent
    assert store.finish_stranded_releases(T0 + timedelta(minutes=5)) == set()
    assert workload_store.marks("k1") == set() and load("k1") == (0, 1)
