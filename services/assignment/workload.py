"""Cadre load counters: claimed and released only by conditional atomic updates.

`claim_for_cases` plans its picks on one read of the unit's loads (`routing.plan_picks`), then
takes each picked cadre's slots with one conditional update that matches the load it read and
the capacity: if another worker moved that cadre in between, the update misses and the rest is
planned again on a fresh read. So any number of workers claiming at once never put anyone over
capacity, and every pick is the least-loaded one. A case gives its slot back through the release
journal of its own write (store.py `CaseWrites.update`, workload_store.give_back_once).

Every claim is journaled in the claiming update itself (all the blocks of a round in one bulk
write): the cadre document keeps `inflight.<key>: [case ids]` until the cases' own write is done
(`settle` for a batch of new cases, `settle_slot` for one existing case). If the worker dies in
between, `release_stranded` later gives back the slots whose cases never took them: new cases
that were never stored (`j` keys), or existing cases whose update does not carry the key in
`slot_keys` (`s` keys, from `claim_cadre`: the queue's drain, an escalation's move). So a crash
between a claim and its write strands nothing for good.

The counters and the journal are read and written by workload_store.py alone; this module plans
on the plain values it reads.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.times import to_ms

from . import workload_store
from .routing import CadreLoad, plan_picks
from .workload_store import SlotState

log = logging.getLogger(__name__)
# Rounds of read-plan-claim before giving up on the rest: each miss means another worker took a
# slot in this unit meanwhile, so giving up early only queues cases that the drain then assigns.
MAX_ROUNDS = 32


def unit_loads(unit: str) -> list[SlotState]:
    """The unit's cadres' counters (id, load, capacity, active, last_assigned_at, role, leads)."""
    return workload_store.unit_slots(unit)


def _load(state: SlotState, extra: int = 0, capacity_scale: int = 1) -> CadreLoad:
    load = (state.load or 0) + extra
    return CadreLoad(state.id, load, state.capacity * capacity_scale, state.active, state.last_assigned_at)


@dataclass
class Claims:
    """Slots claimed for cases: the cadre of each case that got one, and the journal keys each
    cadre holds for them until `settle` (or `settle_slot`)."""

    cadre_of: dict[str, str] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)


NEW_CASES, EXISTING_CASE = "j", workload_store.EXISTING_CASE  # the journal keys' kinds (see above)


def claim_for_cases(
    unit: str, case_ids: Sequence[str], now: datetime, exclude: Collection[str] = (), kind: str = NEW_CASES
) -> Claims:
    """Slots of `unit` for cases, as least-loaded claims one after another would take them, in
    the order of `case_ids` (the last ones go without when the unit fills up). Each cadre's block
    is claimed by an update that matches the load read and journals the block's case ids under a
    key of `kind`; all the blocks of a round go in one bulk write."""
    claims = Claims()
    for _ in range(MAX_ROUNDS):
        waiting = [i for i in case_ids if i not in claims.cadre_of]
        if not waiting:
            break
        read = {s.id: s for s in unit_loads(unit) if s.id not in exclude}
        picks = plan_picks([_load(s) for s in read.values()], len(waiting), now)
        if not picks:
            break
        blocks = {
            cadre_id: [case_id for case_id, pick in zip(waiting, picks, strict=False) if pick == cadre_id]
            for cadre_id in dict.fromkeys(picks)
        }
        keyed = {workload_store.journal_key(now, kind): pair for pair in blocks.items()}
        taken = workload_store.claim(read, keyed, now)
        for key in (k for k in keyed if k in taken):
            cadre_id, block = keyed[key]
            claims.cadre_of.update(dict.fromkeys(block, cadre_id))
            claims.keys.setdefault(cadre_id, []).append(key)
        if len(taken) == len(blocks):
            break  # no miss: the plan held
    return claims


def settle(claims: Claims, stored: Collection[str]) -> None:
    """The claimed cases are inserted (those in `stored`; the others were refused): give back the
    refused cases' slots and clear the journal, each cadre in one update guarded by its journal
    entry, so a slot the sweep already gave back is never given back twice."""
    clean = {}
    for cadre_id, keys in claims.keys.items():
        refused = sum(1 for i, c in claims.cadre_of.items() if c == cadre_id and i not in stored)
        if refused:
            workload_store.give_back_refused(cadre_id, keys, refused)
        else:
            clean[cadre_id] = keys
    if clean and workload_store.clear_journals(clean) < len(clean):
        log.error(
            "claim journal swept before its cases were stored: cadres may hold cases over capacity",
            extra={"cadres": list(clean)},
        )


def release_stranded(older_than: datetime) -> dict[str, int]:
    """Give back slots journaled before `older_than` that their cases never took (the worker died
    between the claim and the case's write: see the module's docstring), and clear those entries,
    each in an update guarded by the entry; slots freed by unit."""
    freed: Counter[str] = Counter()
    cutoff = to_ms(older_than)
    for entry in workload_store.journal_entries():
        if workload_store.journal_ms(entry.key) >= cutoff:
            continue
        missing = len(set(entry.case_ids) - workload_store.taking_cases(entry.key, entry.case_ids))
        if workload_store.sweep_entry(entry.cadre_id, entry.key, missing) and missing:
            freed[entry.unit] += missing
            log.warning("stranded slots given back", extra={"cadre_id": entry.cadre_id, "slots": missing})
    return dict(freed)


def claim_cadre(
    unit: str, now: datetime, case_id: str, exclude: Collection[str] = ()
) -> tuple[str, str] | None:
    """One slot of the best cadre of `unit` who has room, for the existing case `case_id`:
    (cadre, journal key), or None if all are full. The case's update must set
    `slot_keys.<key>`, and `settle_slot` follow it (`CaseStore.save(..., slot=)` does both)."""
    claims = claim_for_cases(unit, [case_id], now, exclude, kind=EXISTING_CASE)
    cadre = claims.cadre_of.get(case_id)
    return (cadre, claims.keys[cadre][0]) if cadre else None


def settle_slot(cadre_id: str, key: str, taken: bool) -> None:
    """The case's update after `claim_cadre` is done: clear the journal entry, and give the slot
    back if the update did not take it. Guarded by the entry, so the sweep never frees it too."""
    if not workload_store.settle_slot(cadre_id, key, taken) and taken:
        log.error(
            "claim journal swept before its case took the slot: the cadre may hold a case over capacity",
            extra={"cadre_id": cadre_id},
        )


def choose_leads(unit: str, now: datetime, excludes: Sequence[Collection[str]]) -> list[str | None]:
    """A lead cadre (包案领导) for each of several serious cases of `unit`, one read for all: the
    unit's active leader with the lowest (open cases + led cases) / capacity, least recently
    assigned first, each choice counted in before the next; their `leads` counters go up
    atomically. Leading is oversight, so it takes no handling slot. A case's `excludes` entry
    (its handler) is skipped unless no other leader exists; None if the unit has no active
    leader."""
    leaders = [s for s in unit_loads(unit) if s.role == "leader" and s.active]
    if not leaders:
        return [None] * len(excludes)
    led: Counter[str] = Counter()
    chosen: list[str | None] = []
    for exclude in excludes:
        others = [s for s in leaders if s.id not in exclude] or leaders
        # capacity scaled up: a leader is never "full" for leading, only compared by ratio
        loads = [_load(s, s.leads + led[s.id], 1_000_000) for s in others]
        picks = plan_picks(loads, 1, now)
        chosen.append(picks[0] if picks else None)
        if picks:
            led[picks[0]] += 1
    workload_store.add_leads(led)
    return chosen


def choose_lead(unit: str, now: datetime, exclude: Collection[str] = ()) -> str | None:
    """The lead cadre for one serious case (see `choose_leads`)."""
    return choose_leads(unit, now, [exclude])[0]


def release_lead(cadre_id: str | None) -> None:
    if cadre_id:
        workload_store.release_lead(cadre_id)
