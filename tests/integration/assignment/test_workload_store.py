"""The cadres' slot store's contract (workload_store.py), run on the real database
(MongoWorkloadStore) and on its in-memory twin (MemoryWorkloadStore): the registry's cadres are
written with their counters kept, claims land only on a cadre as it was read, every give-back is
guarded by its journal entry, and the sweep frees only the slots no case took (asking the case
store in use)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import store as case_stores
from services.assignment import workload
from services.assignment import workload_store as slots
from services.assignment.documents import CadreSlot
from services.assignment.memory_slots import MemoryWorkloadStore
from services.assignment.memory_store import MemoryCaseStore
from services.assignment.registry import Cadre, Registry

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
UNIT = "foshan/d1/t1#commission"
OTHER = "other#commission"
A, B, L, X = (Cadre("a", "a", UNIT, "staff", 2), Cadre("b", "b", UNIT, "staff", 3),
              Cadre("l", "l", UNIT, "leader", 5), Cadre("x", "x", OTHER, "staff", 1))


@pytest.fixture(params=["mongo", "memory"])
def store(request):
    """The slot store under contract, made the one in use with a case store of its kind; the real
    ones on a fresh database."""
    if request.param == "mongo":
        request.getfixturevalue("mongo_db")
        made, cases = slots.MongoWorkloadStore(), case_stores.CaseStore()
    else:
        made, cases = MemoryWorkloadStore(), MemoryCaseStore()
    previous, previous_cases = slots.use(made), case_stores.use(cases)
    yield made
    slots.use(previous)
    case_stores.use(previous_cases)


def registry(*cadres: Cadre) -> Registry:
    return Registry([], [], [], cadres)


@pytest.fixture
def cadres(store):
    """Two staff of UNIT (capacity 2 and 3) and a leader, none holding a case; another unit's cadre."""
    slots.sync_roster(registry(A, B, L, X))


def read() -> dict[str, slots.SlotState]:
    return {s.id: s for s in slots.unit_slots(UNIT)}


def load(cadre_id: str) -> int | None:
    return next(s for s in slots.unit_slots(UNIT) if s.id == cadre_id).load


def test_a_unit_is_read_as_plain_values_with_times_as_datetimes(cadres):
    key = slots.journal_key(T0, "j")
    assert slots.claim(read(), {key: ("a", ["c1"])}, T0) == {key}
    found = read()
    assert set(found) == {"a", "b", "l"}
    assert found["a"] == slots.SlotState("a", 1, 2, True, T0, "staff", 0)
    assert found["l"].role == "leader" and found["b"].last_assigned_at is None
    assert [s.id for s in slots.unit_slots(OTHER)] == ["x"] and slots.unit_slots("nowhere") == []


def test_a_units_roster_comes_in_the_registrys_order_with_its_counters(store, cadres):
    key = slots.journal_key(T0, "j")
    assert slots.claim(read(), {key: ("b", ["c1", "c2"])}, T0) == {key}
    slots.add_leads({"b": 1})
    slots.sync_roster(registry(L, Cadre("b", "b", UNIT, "staff", 3, active=False), A, X))
    assert slots.roster(UNIT) == [
        slots.RosterEntry("l", "l", "leader", True, 5, 0, 0),
        slots.RosterEntry("b", "b", "staff", False, 3, 2, 1),
        slots.RosterEntry("a", "a", "staff", True, 2, 0, 0),
    ]
    assert slots.roster("nowhere#commission") == []
    if isinstance(store, slots.MongoWorkloadStore):  # a document whose counters were never set
        CadreSlot._get_collection().update_one({"_id": "a"}, {"$unset": {"load": "", "leads": ""}})
        assert slots.roster(UNIT)[2] == slots.RosterEntry("a", "a", "staff", True, 2, 0, 0)
        assert load("a") is None


def test_syncing_the_roster_keeps_counters_and_deactivates_cadres_no_longer_there(store, cadres):
    key = slots.journal_key(T0, "j")
    assert slots.claim(read(), {key: ("a", ["c1"])}, T0) == {key}
    slots.add_leads({"l": 2})
    moved = Cadre("a", "阿", UNIT, "leader", 4)
    slots.sync_roster(registry(Cadre("n", "n", UNIT, "staff", 1), moved, L))
    roster = slots.roster(UNIT)
    assert [e.id for e in roster if e.active] == ["n", "a", "l"]  # a removed cadre keeps its place
    assert {e.id: e for e in roster} == {
        "n": slots.RosterEntry("n", "n", "staff", True, 1, 0, 0),
        "a": slots.RosterEntry("a", "阿", "leader", True, 4, 1, 0),  # its open case kept
        "l": slots.RosterEntry("l", "l", "leader", True, 5, 0, 2),
        "b": slots.RosterEntry("b", "b", "staff", False, 3, 0, 0),  # no longer in the registry
    }
    assert read()["a"] == slots.SlotState("a", 1, 4, True, T0, "leader", 0)
    assert slots.journal("a") == {key: ["c1"]}
    assert [(s.id, s.active) for s in slots.unit_slots(OTHER)] == [("x", False)]
    slots.sync_roster(registry(A, B, L, X))  # back again
    assert {(e.id, e.active, e.load) for e in slots.roster(UNIT)} == {
        ("a", True, 1), ("b", True, 0), ("l", True, 0), ("n", False, 0)}
    assert [e.id for e in slots.roster(UNIT) if e.active] == ["a", "b", "l"]
    if isinstance(store, slots.MongoWorkloadStore):  # a cadre stored without counters gets them
        CadreSlot._get_collection().update_one({"_id": "b"}, {"$unset": {"load": "", "leads": ""}})
        slots.sync_roster(registry(A, B, L, X))
        assert load("b") == 0 and read()["b"].leads == 0


def test_a_claim_lands_only_on_a_cadre_as_read_and_journals_its_block(cadres):
    before = read()
    other = slots.journal_key(T0, "j")
    assert slots.claim(before, {other: ("b", ["o1"])}, T0) == {other}  # another worker claimed meanwhile
    first, second = slots.journal_key(T0, "j"), slots.journal_key(T0, "j")
    assert first != second and first.startswith(f"j{T0_MS}_")
    later = T0 + timedelta(seconds=1)
    assert slots.claim(before, {first: ("a", ["c1", "c2"]), second: ("b", ["c3"])}, later) == {first}
    assert load("a") == 2 and slots.journal("a") == {first: ["c1", "c2"]}
    assert read()["a"].last_assigned_at == later
    assert load("b") == 1 and slots.journal("b") == {other: ["o1"]}
    # the fresh read sees the claim; a claim on it lands
    assert slots.claim(read(), {second: ("b", ["c3"])}, T0) == {second}
    assert load("b") == 2 and set(slots.journal("b")) == {other, second}
    assert slots.claim(read(), {}, T0) == set()


def test_a_claim_misses_a_cadre_deactivated_or_resized_since_the_read(cadres):
    before = read()
    slots.sync_roster(registry(Cadre("a", "a", UNIT, "staff", 2, active=False),
                               Cadre("b", "b", UNIT, "staff", 4), L, X))
    ka, kb = slots.journal_key(T0, "j"), slots.journal_key(T0, "j")
    assert slots.claim(before, {ka: ("a", ["c1"]), kb: ("b", ["c2"])}, T0) == set()
    assert load("a") == 0 == load("b") and slots.journal("a") == {} == slots.journal("b")
    assert slots.claim(read(), {kb: ("b", ["c2"])}, T0) == {kb}
    assert slots.claim(read(), {ka: ("a", ["c1"])}, T0) == set()  # inactive, even as read


def test_give_backs_are_guarded_by_their_journal_entry(cadres):
    ka, kb = slots.journal_key(T0, "j"), slots.journal_key(T0, "s")
    assert slots.claim(read(), {ka: ("a", ["c1", "c2"]), kb: ("b", ["c3"])}, T0) == {ka, kb}
    slots.give_back_refused("a", [ka], 1)
    slots.give_back_refused("a", [ka], 1)  # the entry is gone: nothing given back twice
    assert load("a") == 1 and slots.journal("a") == {}
    assert slots.settle_slot("b", kb, taken=False) is True
    assert slots.settle_slot("b", kb, taken=False) is False
    assert load("b") == 0
    kc = slots.journal_key(T0, "j")
    assert slots.claim(read(), {kc: ("b", ["c4"])}, T0) == {kc}
    assert slots.clear_journals({"b": [kc]}) == 1 and slots.clear_journals({"b": [kc]}) == 0
    assert load("b") == 1 and slots.journal("b") == {} and slots.clear_journals({}) == 0
    kd = slots.journal_key(T0, "s")
    assert slots.claim(read(), {kd: ("a", ["c5"])}, T0) == {kd}
    assert slots.settle_slot("a", kd, taken=True) is True and load("a") == 2 and slots.journal("a") == {}


def test_slots_and_leads_never_go_below_zero(cadres):
    slots.give_back_once("a", "load", "r0", T0)
    assert load("a") == 0 and slots.marks("a") == set()  # nothing to give back: no mark either
    key = slots.journal_key(T0, "j")
    assert slots.claim(read(), {key: ("a", ["c1"])}, T0) == {key}
    slots.give_back_once("a", "load", "r1", T0)
    slots.give_back_once("a", "load", "r2", T0)
    assert load("a") == 0 and slots.marks("a") == {"r1"}
    slots.give_back_once("nobody", "load", "r3", T0)
    slots.add_leads({"l": 2})
    slots.release_lead("l")
    slots.release_lead("l")
    slots.release_lead("l")
    assert read()["l"].leads == 0
    slots.add_leads({"l": 1, "b": 2})
    assert read()["l"].leads == 1 and read()["b"].leads == 2


def test_a_release_gives_back_once_per_key_and_leaves_a_dated_mark(cadres):
    key = slots.journal_key(T0, "j")
    assert slots.claim(read(), {key: ("a", ["c1", "c2"])}, T0) == {key}
    slots.add_leads({"l": 1})
    slots.give_back_once("a", "load", "r1", T0)
    slots.give_back_once("a", "load", "r1", T0)  # the same release again: nothing more
    slots.give_back_once("l", "leads", "r1", T0)
    slots.give_back_once("l", "leads", "r2", T0 + timedelta(minutes=5))  # none left: no mark either
    assert load("a") == 1 and read()["l"].leads == 0
    assert slots.marks("a") == {"r1"} == slots.marks("l") and slots.marks("b") == set()
    assert sorted(slots.stale_marks(T0 + timedelta(minutes=1))) == [("a", "r1"), ("l", "r1")]
    assert slots.stale_marks(T0) == []
    slots.unmark(["a", "l"], "r1")
    slots.unmark([], "r1")
    assert slots.marks("a") == set() == slots.marks("l") and slots.stale_marks(T0 + timedelta(days=1)) == []
    slots.give_back_once("a", "load", "r1", T0)  # unmarked: the key counts again
    assert load("a") == 0 and slots.marks("a") == {"r1"}


def test_the_sweep_frees_only_old_slots_no_case_took(cadres):
    new_cases, existing, recent = (slots.journal_key(T0, "j"), slots.journal_key(T0, "s"),
                                   slots.journal_key(T0 + timedelta(minutes=5), "j"))
    claimed = slots.claim(read(), {new_cases: ("a", ["n1", "n2"]), existing: ("b", ["e1", "e2"])}, T0)
    assert claimed == {new_cases, existing}
    assert slots.claim(read(), {recent: ("l", ["r1"])}, T0) == {recent}
    case_stores.case_store().insert([
        {"_id": "n1", "clue_id": "q1"},  # stored: it took its slot
        {"_id": "e1", "clue_id": "q2", "slot_keys": {existing: True}},  # its update recorded the key
        {"_id": "e2", "clue_id": "q3"},  # an existing case whose update missed: the slot is not its
    ])
    freed = workload.release_stranded(T0 + timedelta(minutes=1))
    assert freed == {UNIT: 2}
    assert load("a") == 1 and slots.journal("a") == {}
    assert load("b") == 1 and slots.journal("b") == {}
    assert load("l") == 1 and set(slots.journal("l")) == {recent}  # too recent
    assert workload.release_stranded(T0 + timedelta(minutes=1)) == {}  # once only
    assert workload.release_stranded(T0 + timedelta(minutes=10)) == {UNIT: 1}
    assert load("l") == 0 and slots.journal("l") == {}
