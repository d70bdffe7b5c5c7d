"""Claiming and leading (workload.py and counters.py) on plain values: their stores are replaced by
in-memory stand-ins that keep the same promises (a claim lands only on a cadre as read)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import counters, workload
from services.assignment.workload_store import SlotState

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Slots:
    """workload_store's counters in memory; `meanwhile` runs once before the first claim lands."""

    def __init__(self, units: dict[str, list[SlotState]]) -> None:
        self.units = {unit: [s.id for s in states] for unit, states in units.items()}
        self.states = {s.id: s for states in units.values() for s in states}
        self.journal: dict[str, list[str]] = {}
        self.meanwhile = lambda: None
        self.keys = iter(range(1000))

    def unit_slots(self, unit):
        return [self.states[i] for i in self.units[unit]]

    def journal_key(self, _now, kind):
        return f"{kind}{next(self.keys)}"

    def claim(self, read, keyed, now):
        self.meanwhile()
        self.meanwhile = lambda: None
        taken = set()
        for key, (cadre_id, block) in keyed.items():
            was, now_is = read[cadre_id], self.states[cadre_id]
            if (now_is.load, now_is.capacity, now_is.active) == (was.load, was.capacity, True):
                load = (now_is.load or 0) + len(block)
                self.states[cadre_id] = dataclasses.replace(now_is, load=load, last_assigned_at=now)
                self.journal[key] = block
                taken.add(key)
        return taken

    def add_leads(self, led):
        for cadre_id, count in led.items():
            state = self.states[cadre_id]
            self.states[cadre_id] = dataclasses.replace(state, leads=state.leads + count)


@pytest.fixture
def slots(monkeypatch):
    fake = Slots({
        "u": [SlotState("a", 0, 2, last_assigned_at=T0 - timedelta(hours=1)),
              SlotState("b", 0, 2, last_assigned_at=T0 - timedelta(days=1))],
        "lead": [SlotState("l1", 0, 4, role="leader", leads=3), SlotState("l2", 1, 4, role="leader"),
                 SlotState("off", 0, 9, active=False, role="leader"), SlotState("s", 0, 9, role="staff")],
    })
    for name in ("unit_slots", "journal_key", "claim", "add_leads"):
        monkeypatch.setattr(workload.workload_store, name, getattr(fake, name))
    return fake


def test_cases_go_to_the_least_loaded_in_blocks_until_the_unit_is_full(slots):
    claims = workload.claim_for_cases("u", ["c1", "c2", "c3", "c4", "c5", "c6"], T0)
    assert sorted(claims.cadre_of) == ["c1", "c2", "c3", "c4"]  # the rest waits in the queue
    assert {c: claims.cadre_of[c] for c in ("c1", "c2")} == {"c1": "b", "c2": "a"}  # b waited longest
    assert sorted(len(keys) for keys in claims.keys.values()) == [1, 1]
    assert sorted(b for block in slots.journal.values() for b in block) == ["c1", "c2", "c3", "c4"]


def test_a_block_that_misses_is_planned_again_on_a_fresh_read(slots):
    def other_worker():
        slots.states["b"] = dataclasses.replace(slots.states["b"], load=2)  # b is full now

    slots.meanwhile = other_worker
    claims = workload.claim_for_cases("u", ["c1", "c2"], T0)
    assert claims.cadre_of == {"c1": "a", "c2": "a"} and len(claims.keys["a"]) == 2
    assert slots.states["a"].load == 2 and slots.states["b"].load == 2


def test_leads_go_by_open_and_led_cases_and_skip_the_handler_unless_alone(slots):
    # (load + leads) / capacity: l1 3/4, l2 1/4; then l2 2/4 and, with l2 excluded, l1
    assert workload.choose_leads("lead", T0, [(), ("l2",), ()]) == ["l2", "l1", "l2"]
    assert (slots.states["l1"].leads, slots.states["l2"].leads) == (4, 2)
    assert workload.choose_lead("lead", T0, exclude={"l1", "l2"}) in {"l1", "l2"}  # no other leader
    assert workload.choose_lead("u", T0) is None  # no leader at all


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
