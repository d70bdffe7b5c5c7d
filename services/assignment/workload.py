"""Cadre load counters: claimed and released only by conditional atomic updates.

`claim_cadres` plans its picks on one read of the unit's loads (`routing.plan_picks`), then takes
each picked cadre's slots with one `find_one_and_update` that matches the load it read and the
capacity: if another worker moved that cadre in between, the update misses and the rest is
planned again on a fresh read. So any number of workers claiming at once never put anyone over
capacity, and every pick is the least-loaded one. `release_slot` gives a slot back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime

from shared.mongo import exact

from .documents import CadreSlot
from .routing import CadreLoad, plan_picks
from .timestamps import from_ms, to_ms

_FIELDS = {"load": 1, "capacity": 1, "active": 1, "last_assigned_at": 1, "role": 1, "leads": 1}
# Rounds of read-plan-claim before giving up on the rest: each miss means another worker took a
# slot in this unit meanwhile, so giving up early only queues cases that the drain then assigns.
MAX_ROUNDS = 32


def _slots():
    return CadreSlot._get_collection()


def unit_loads(unit: str) -> list[dict]:
    """The unit's cadre documents (id, load, capacity, active, last_assigned_at, role, leads)."""
    return list(_slots().find(exact(unit=unit), _FIELDS))


def _load(doc: dict, extra: int = 0, capacity_scale: int = 1) -> CadreLoad:
    return CadreLoad(
        doc["_id"],
        (doc.get("load") or 0) + extra,
        doc["capacity"] * capacity_scale,
        bool(doc.get("active", True)),
        from_ms(doc.get("last_assigned_at")),
    )


def claim_cadres(unit: str, count: int, now: datetime, exclude: Collection[str] = ()) -> list[str]:
    """Up to `count` slots of `unit`, as `count` least-loaded claims one after another would take
    them: the cadre of each slot, in pick order; fewer when the unit is full."""
    got: list[str] = []
    for _ in range(MAX_ROUNDS):
        if len(got) >= count:
            break
        docs = {d["_id"]: d for d in unit_loads(unit) if d["_id"] not in exclude}
        picks = plan_picks([_load(d) for d in docs.values()], count - len(got), now)
        if not picks:
            break
        taken = set()
        for cadre_id, slots in Counter(picks).items():
            doc = docs[cadre_id]
            if _slots().find_one_and_update(
                {"_id": cadre_id, "load": doc.get("load"), "capacity": doc["capacity"], "active": True},
                {"$inc": {"load": slots}, "$set": {"last_assigned_at": to_ms(now)}},
                projection={"_id": 1},
            ):
                taken.add(cadre_id)
        got.extend(cadre_id for cadre_id in picks if cadre_id in taken)
        if len(taken) == len(set(picks)):
            break
    return got


def claim_cadre(unit: str, now: datetime, exclude: Collection[str] = ()) -> str | None:
    """Take one slot of the best cadre of `unit` who has room, atomically; None if all are full."""
    got = claim_cadres(unit, 1, now, exclude)
    return got[0] if got else None


def release_slot(cadre_id: str | None) -> bool:
    """Give back one slot of `cadre_id` (never below zero); True if a slot was freed."""
    if not cadre_id:
        return False
    got = _slots().find_one_and_update(
        {"_id": cadre_id, "load": {"$gt": 0}},
        {"$inc": {"load": -1}},
        projection={"_id": 1},
    )
    return got is not None


def choose_leads(unit: str, now: datetime, excludes: Sequence[Collection[str]]) -> list[str | None]:
    """A lead cadre (包案领导) for each of several serious cases of `unit`, one read for all: the
    unit's active leader with the lowest (open cases + led cases) / capacity, least recently
    assigned first, each choice counted in before the next; their `leads` counters go up
    atomically. Leading is oversight, so it takes no handling slot. A case's `excludes` entry
    (its handler) is skipped unless no other leader exists; None if the unit has no active
    leader."""
    leaders = [d for d in unit_loads(unit) if d.get("role") == "leader" and d.get("active", True)]
    if not leaders:
        return [None] * len(excludes)
    led: Counter[str] = Counter()
    chosen: list[str | None] = []
    for exclude in excludes:
        others = [d for d in leaders if d["_id"] not in exclude] or leaders
        # capacity scaled up: a leader is never "full" for leading, only compared by ratio
        loads = [_load(d, (d.get("leads") or 0) + led[d["_id"]], 1_000_000) for d in others]
        picks = plan_picks(loads, 1, now)
        chosen.append(picks[0] if picks else None)
        if picks:
            led[picks[0]] += 1
    for cadre_id, count in led.items():
        _slots().update_one({"_id": cadre_id}, {"$inc": {"leads": count}})
    return chosen


def choose_lead(unit: str, now: datetime, exclude: Collection[str] = ()) -> str | None:
    """The lead cadre for one serious case (see `choose_leads`)."""
    return choose_leads(unit, now, [exclude])[0]


def release_lead(cadre_id: str | None) -> None:
    if cadre_id:
        _slots().update_one({"_id": cadre_id, "leads": {"$gt": 0}}, {"$inc": {"leads": -1}})
