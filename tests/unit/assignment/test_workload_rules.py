"""Claiming and leading (workload.py and counters.py) on plain values: the slot store is its
in-memory twin (memory_slots.py: a claim lands only on a cadre as read), the counter store an
in-memory stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import counters, workload, workload_store
from services.assignment.memory_slots import MemoryWorkloadStore
from services.assignment.registry import Cadre, Registry

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Slots(MemoryWorkloadStore):
    """The slot store's in-memory twin; `meanwhile` runs once before the first claim lands."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile = lambda: None

    def claim(self, read, keyed, now):
        meanwhile, self.meanwhile = self.meanwhile, lambda: None
        meanwhile()
        return super().claim(read, keyed, now)

    def hold(self, cadre_id: str, at: datetime, keep: bool) -> None:
        """A case claimed for the cadre at `at`, kept or given back."""
        key = workload_store.journal_key(at, "j")
        read = {s.id: s for s in self.unit_slots(self.cadres[cadre_id]["unit"])}
        assert self.claim(read, {key: (cadre_id, ["old"])}, at) == {key}
        self.settle_slot(cadre_id, key, taken=keep)

    def load(self, cadre_id: str) -> int:
        return next(s.load for s in self.unit_slots(self.cadres[cadre_id]["unit"]) if s.id == cadre_id)


@pytest.fixture
def slots():
    """The slot store in use (restored after the test by conftest.py), seeded from a registry."""
    store = Slots()
    store.sync_roster(Registry([], [], [], [
        Cadre("a", "a", "u", "staff", 2), Cadre("b", "b", "u", "staff", 2),
        Cadre("l1", "l1", "lead", "leader", 4), Cadre("l2", "l2", "lead", "leader", 4),
        Cadre("off", "off", "lead", "leader", 9, active=False), Cadre("s", "s", "lead", "staff", 9)]))
    store.hold("a", T0 - timedelta(hours=1), keep=False)
    store.hold("b", T0 - timedelta(days=1), keep=False)
    store.hold("l2", T0 - timedelta(days=1), keep=True)
    store.add_leads({"l1": 3})
    workload_store.use(store)
    return store


def leads(store: Slots, cadre_id: str) -> int:
    return next(s.leads for s in store.unit_slots("lead") if s.id == cadre_id)


def test_cases_go_to_the_least_loaded_in_blocks_until_the_unit_is_full(slots):
    claims = workload.claim_for_cases("u", ["c1", "c2", "c3", "c4", "c5", "c6"], T0)
    assert sorted(claims.cadre_of) == ["c1", "c2", "c3", "c4"]  # the rest waits in the queue
    assert {c: claims.cadre_of[c] for c in ("c1", "c2")} == {"c1": "b", "c2": "a"}  # b waited longest
    assert sorted(len(keys) for keys in claims.keys.values()) == [1, 1]
    journaled = [b for cadre in ("a", "b") for block in slots.journal(cadre).values() for b in block]
    assert sorted(journaled) == ["c1", "c2", "c3", "c4"]
    assert slots.load("a") == 2 == slots.load("b")


def test_a_block_that_misses_is_planned_again_on_a_fresh_read(slots):
    def other_worker():  # b is full now
        slots.hold("b", T0, keep=True)
        slots.hold("b", T0, keep=True)

    slots.meanwhile = other_worker
    claims = workload.claim_for_cases("u", ["c1", "c2"], T0)
    assert claims.cadre_of == {"c1": "a", "c2": "a"} and len(claims.keys["a"]) == 2
    assert slots.load("a") == 2 and slots.load("b") == 2


def test_leads_go_by_open_and_led_cases_and_skip_the_handler_unless_alone(slots):
    # (load + leads) / capacity: l1 3/4, l2 1/4; then l2 2/4 and, with l2 excluded, l1
    assert workload.choose_leads("lead", T0, [(), ("l2",), ()]) == ["l2", "l1", "l2"]
    assert (leads(slots, "l1"), leads(slots, "l2")) == (4, 2)
    assert workload.choose_lead("lead", T0, exclude={"l1", "l2"}) in {"l1", "l2"}  # no other leader
    assert workload.choose_lead("u", T0) is None  # no leader at all


def test_the_twin_is_seeded_from_a_registry_with_no_database(foshan):
    store = MemoryWorkloadStore()
    store.sync_roster(foshan)
    workload_store.use(store)
    unit = "foshan/chancheng/shiwan#commission"
    assert [e.id for e in workload_store.roster(unit)] == [c.id for c in foshan.cadres_of(unit)]
    claims = workload.claim_for_cases(unit, ["c1", "c2"], T0)
    assert set(claims.cadre_of.values()) <= {c.id for c in foshan.cadres_of(unit) if c.active}
    assert sorted(claims.cadre_of) == ["c1", "c2"] and sum(e.load for e in workload_store.roster(unit)) == 2
    workload.settle(claims, stored={"c1"})  # c2 was refused: its slot comes back
    assert sum(e.load for e in workload_store.roster(unit)) == 1
    assert all(workload_store.journal(c.id) == {} for c in foshan.cadres_of(unit))


def test_facts_are_summed_per_quarter_basis_and_jurisdiction_once_each(monkeypatch):
    marked, added = set(), []

    def new_marks(marks):
        new = set(marks) - marked
        marked.update(marks)
        return new

    monkeypatch.setattr(counters.counter_store, "new_marks", new_marks)
    monkeypatch.setattr(counters.counter_store, "add", lambda sums: added.append(dict(sums)))
    march, april = T0, datetime(2026, 3, 31, 17, 0, tzinfo=UTC)  # 1 April in China: the next quarter
    closed = {"received": 1, "days_to_close": 2.5}
    facts = [counters.Fact("m1", march, {"received": "j1", "handled": None}, {"received": 1}),
             counters.Fact("m2", april, {"received": "j1", "handled": "j2"}, closed),
             counters.Fact("m3", april, {"received": "j1"}, {})]  # nothing to count
    assert counters.record(facts) == 2 and counters.record(facts[:1]) == 0
    assert added == [{("2026Q1", "received", "j1"): {"received": 1}, ("2026Q2", "received", "j1"): closed,
                      ("2026Q2", "handled", "j2"): closed}, {}]


def test_counting_trouble_never_stops_a_move(monkeypatch):
    def broken(_marks):
        raise ConnectionError("database down")

    monkeypatch.setattr(counters.counter_store, "new_marks", broken)
    assert counters.record([counters.Fact("m1", T0, {"received": "j1"}, {"received": 1})]) == 0
