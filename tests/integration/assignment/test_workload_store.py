"""The cadres' slot counters and claim journal (workload_store.py) on the real database: claims
land only on a cadre as it was read, every give-back is guarded by its journal entry, and the
sweep frees only the slots no case took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import workload_store as slots
from services.assignment.documents import CadreSlot, Case

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
UNIT = "foshan/d1/t1#commission"


@pytest.fixture
def cadres(mongo_db):
    """Two staff of UNIT (capacity 2 and 3) and a leader, none holding a case; another unit's cadre."""
    for cadre_id, role, capacity, unit in [("a", "staff", 2, UNIT), ("b", "staff", 3, UNIT),
                                           ("l", "leader", 5, UNIT), ("x", "staff", 1, "other#commission")]:
        CadreSlot(id=cadre_id, name=cadre_id, unit=unit, role=role, capacity=capacity).save()


def stored(cadre_id: str) -> dict:
    return CadreSlot._get_collection().find_one({"_id": cadre_id})


def test_a_unit_is_read_as_plain_values_with_times_as_datetimes(cadres):
    CadreSlot.objects(id="a").update_one(set__last_assigned_at=int(T0.timestamp() * 1000))
    read = {s.id: s for s in slots.unit_slots(UNIT)}
    assert set(read) == {"a", "b", "l"}
    assert read["a"] == slots.SlotState("a", 0, 2, True, T0, "staff", 0)
    assert read["l"].role == "leader" and read["b"].last_assigned_at is None


def test_a_claim_lands_only_on_a_cadre_as_read_and_journals_its_block(cadres):
    read = {s.id: s for s in slots.unit_slots(UNIT)}
    CadreSlot.objects(id="b").update_one(inc__load=1)  # another worker claimed meanwhile
    first, second = slots.journal_key(T0, "j"), slots.journal_key(T0, "j")
    assert first != second and first.startswith(f"j{int(T0.timestamp() * 1000)}_")
    taken = slots.claim(read, {first: ("a", ["c1", "c2"]), second: ("b", ["c3"])}, T0 + timedelta(seconds=1))
    assert taken == {first}
    a, b = stored("a"), stored("b")
    assert a["load"] == 2 and a["inflight"] == {first: ["c1", "c2"]}
    assert a["last_assigned_at"] == int(T0.timestamp() * 1000) + 1000
    assert b["load"] == 1 and not b.get("inflight")
    # the fresh read sees the claim; a claim on it lands
    again = {s.id: s for s in slots.unit_slots(UNIT)}
    assert slots.claim(again, {second: ("b", ["c3"])}, T0) == {second}


def test_give_backs_are_guarded_by_their_journal_entry(cadres):
    read = {s.id: s for s in slots.unit_slots(UNIT)}
    ka, kb = slots.journal_key(T0, "j"), slots.journal_key(T0, "s")
    assert slots.claim(read, {ka: ("a", ["c1", "c2"]), kb: ("b", ["c3"])}, T0) == {ka, kb}
    slots.give_back_refused("a", [ka], 1)
    slots.give_back_refused("a", [ka], 1)  # the entry is gone: nothing given back twice
    assert stored("a")["load"] == 1 and stored("a")["inflight"] == {}
    assert slots.settle_slot("b", kb, taken=False) is True
    assert slots.settle_slot("b", kb, taken=False) is False
    assert stored("b")["load"] == 0
    kc = slots.journal_key(T0, "j")
    assert slots.claim({s.id: s for s in slots.unit_slots(UNIT)}, {kc: ("b", ["c4"])}, T0) == {kc}
    assert slots.clear_journals({"b": [kc]}) == 1 and slots.clear_journals({"b": [kc]}) == 0
    assert stored("b")["load"] == 1 and slots.clear_journals({}) == 0


def test_slots_and_leads_never_go_below_zero(cadres):
    assert slots.release_slot("a") is False
    CadreSlot.objects(id="a").update_one(set__load=1)
    assert slots.release_slot("a") is True and stored("a")["load"] == 0
    slots.add_leads({"l": 2})
    slots.release_lead("l")
    slots.release_lead("l")
    slots.release_lead("l")
    assert stored("l")["leads"] == 0
    slots.add_leads({"l": 1})
    assert next(s for s in slots.unit_slots(UNIT) if s.id == "l").leads == 1


def test_the_sweep_frees_only_old_slots_no_case_took(cadres):
    read = {s.id: s for s in slots.unit_slots(UNIT)}
    new_cases, existing, recent = (slots.journal_key(T0, "j"), slots.journal_key(T0, "s"),
                                   slots.journal_key(T0 + timedelta(minutes=5), "j"))
    claimed = slots.claim(read, {new_cases: ("a", ["n1", "n2"]), existing: ("b", ["e1", "e2"])}, T0)
    assert claimed == {new_cases, existing}
    assert slots.claim({s.id: s for s in slots.unit_slots(UNIT)}, {recent: ("l", ["r1"])}, T0) == {recent}
    cases = Case._get_collection()
    cases.insert_one({"_id": "n1"})  # stored: it took its slot
    cases.insert_one({"_id": "e1", "slot_keys": {existing: True}})  # its update recorded the key
    cases.insert_one({"_id": "e2"})  # an existing case whose update missed: the slot is not its
    freed = slots.release_stranded(T0 + timedelta(minutes=1))
    assert freed == {UNIT: 2}
    assert stored("a")["load"] == 1 and stored("a")["inflight"] == {}
    assert stored("b")["load"] == 1 and stored("b")["inflight"] == {}
    assert stored("l")["load"] == 1 and set(stored("l")["inflight"]) == {recent}  # too recent
    assert slots.release_stranded(T0 + timedelta(minutes=1)) == {}  # once only
