"""Cadre load counters: claimed and released only by conditional atomic updates.

`claim_cadre` tries the unit's cadres in `cadre_preference` order with
`find_one_and_update({_id, capacity, load < capacity, active}, {$inc load +1})`, so any number of
workers claiming at once never put anyone over capacity. `release_slot` gives a slot back.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from pymongo import ReturnDocument

from shared.mongo import exact

from .documents import CadreSlot
from .routing import CadreLoad, cadre_preference
from .timestamps import from_ms, to_ms

_FIELDS = {"load": 1, "capacity": 1, "active": 1, "last_assigned_at": 1, "role": 1, "leads": 1}


def _slots():
    return CadreSlot._get_collection()


def unit_loads(unit: str) -> list[dict]:
    """The unit's cadre documents (id, load, capacity, active, last_assigned_at, role, leads)."""
    return list(_slots().find(exact(unit=unit), _FIELDS))


def claim_cadre(unit: str, now: datetime, exclude: Collection[str] = ()) -> str | None:
    """Take one slot of the best cadre of `unit` who has room, atomically; None if all are full."""
    docs = [d for d in unit_loads(unit) if d["_id"] not in exclude]
    capacity = {d["_id"]: d["capacity"] for d in docs}
    loads = [
        CadreLoad(
            d["_id"],
            d.get("load") or 0,
            d["capacity"],
            bool(d.get("active", True)),
            from_ms(d.get("last_assigned_at")),
        )
        for d in docs
    ]
    for cadre_id in cadre_preference(loads):
        cap = capacity[cadre_id]
        got = _slots().find_one_and_update(
            {"_id": cadre_id, "capacity": cap, "load": {"$lt": cap}, "active": True},
            {"$inc": {"load": 1}, "$set": {"last_assigned_at": to_ms(now)}},
            projection={"_id": 1},
            return_document=ReturnDocument.AFTER,
        )
        if got is not None:
            return cadre_id
    return None


def release_slot(cadre_id: str | None) -> bool:
    """Give back one slot of `cadre_id` (never below zero); True if a slot was freed."""
    if not cadre_id:
        return False
    got = _slots().find_one_and_update(
        {"_id": cadre_id, "load": {"$gt": 0}}, {"$inc": {"load": -1}}, projection={"_id": 1}
    )
    return got is not None


def choose_lead(unit: str, now: datetime, exclude: Collection[str] = ()) -> str | None:
    """The lead cadre (包案领导) for a serious case: the unit's active leader with the lowest
    (open cases + led cases) / capacity, least recently assigned first; their `leads` counter
    goes up atomically. Leading is oversight, so it takes no handling slot. None if the unit
    has no active leader (a leader who also handles the case is used only if no other exists)."""
    leaders = [d for d in unit_loads(unit) if d.get("role") == "leader" and d.get("active", True)]
    if not leaders:
        return None
    others = [d for d in leaders if d["_id"] not in exclude] or leaders
    loads = [
        CadreLoad(
            d["_id"],
            (d.get("load") or 0) + (d.get("leads") or 0),
            d["capacity"] * 1_000_000,
            True,
            from_ms(d.get("last_assigned_at")),
        )
        for d in others
    ]
    order = cadre_preference(loads)
    if not order:
        return None
    _slots().update_one({"_id": order[0]}, {"$inc": {"leads": 1}})
    return order[0]


def release_lead(cadre_id: str | None) -> None:
    if cadre_id:
        _slots().update_one({"_id": cadre_id, "leads": {"$gt": 0}}, {"$inc": {"leads": -1}})
