"""Cadre load counters: claimed and released only by conditional atomic updates.

`claim_for_cases` plans its picks on one read of the unit's loads (`routing.plan_picks`), then
takes each picked cadre's slots with one conditional update that matches the load it read and
the capacity: if another worker moved that cadre in between, the update misses and the rest is
planned again on a fresh read. So any number of workers claiming at once never put anyone over
capacity, and every pick is the least-loaded one. `release_slot` gives a slot back.

Every claim is journaled in the claiming update itself (all the blocks of a round in one bulk
write): the cadre document keeps `inflight.<key>: [case ids]` until the cases' own write is done
(`settle` for a batch of new cases, `settle_slot` for one existing case). If the worker dies in
between, `release_stranded` later gives back the slots whose cases never took them: new cases
that were never stored (`j` keys), or existing cases whose update does not carry the key in
`slot_keys` (`s` keys, from `claim_cadre`: the queue's drain, an escalation's move). So a crash
between a claim and its write strands nothing for good.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pymongo import UpdateOne

from shared.mongo import exact
from shared.times import from_ms, to_ms

from .documents import CadreSlot, Case
from .routing import CadreLoad, plan_picks

log = logging.getLogger(__name__)
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


@dataclass
class Claims:
    """Slots claimed for cases: the cadre of each case that got one, and the journal keys each
    cadre holds for them until `settle` (or `settle_slot`)."""

    cadre_of: dict[str, str] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)


NEW_CASES, EXISTING_CASE = "j", "s"  # the journal keys' kinds (see the module's docstring)


def _journal_key(now: datetime, kind: str) -> str:
    # epoch ms after the kind, so the sweep can tell the entry's age; ASCII letters, digits, "_"
    return f"{kind}{to_ms(now)}_{secrets.token_hex(4)}"


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
        docs = {d["_id"]: d for d in unit_loads(unit) if d["_id"] not in exclude}
        picks = plan_picks([_load(d) for d in docs.values()], len(waiting), now)
        if not picks:
            break
        blocks = {
            cadre_id: [case_id for case_id, pick in zip(waiting, picks, strict=False) if pick == cadre_id]
            for cadre_id in dict.fromkeys(picks)
        }
        taken = _claim_journaled(docs, blocks, now, kind)
        for cadre_id, (key, block) in taken.items():
            claims.cadre_of.update(dict.fromkeys(block, cadre_id))
            claims.keys.setdefault(cadre_id, []).append(key)
        if len(taken) == len(blocks):
            break  # no miss: the plan held
    return claims


def _guard(doc: dict) -> dict:
    """Match the cadre only as it was read: same load, same capacity, still active."""
    return {"_id": doc["_id"], "load": doc.get("load"), "capacity": doc["capacity"], "active": True}


def _claim_journaled(
    docs: dict[str, dict], blocks: dict[str, list[str]], now: datetime, kind: str
) -> dict[str, tuple[str, list[str]]]:
    """Claim every block in one bulk write, each journaled under a key of its own; the blocks
    taken. A partial result is read back from the journal keys (a miss writes none)."""
    keyed = {_journal_key(now, kind): (cadre_id, block) for cadre_id, block in blocks.items()}
    ops = []
    for key, (cadre_id, block) in keyed.items():
        changes = {"last_assigned_at": to_ms(now), f"inflight.{key}": block}
        ops.append(UpdateOne(_guard(docs[cadre_id]), {"$inc": {"load": len(block)}, "$set": changes}))
    if _slots().bulk_write(ops, ordered=False).matched_count < len(ops):
        held = {
            key
            for d in _slots().find({"_id": {"$in": list(blocks)}}, {"inflight": 1})
            for key in (d.get("inflight") or {})
        }
        keyed = {key: taken for key, taken in keyed.items() if key in held}
    return {cadre_id: (key, block) for key, (cadre_id, block) in keyed.items()}


def settle(claims: Claims, stored: Collection[str]) -> None:
    """The claimed cases are inserted (those in `stored`; the others were refused): give back the
    refused cases' slots and clear the journal, each cadre in one update guarded by its journal
    entry, so a slot the sweep already gave back is never given back twice."""
    clean = []
    for cadre_id, keys in claims.keys.items():
        refused = sum(1 for i, c in claims.cadre_of.items() if c == cadre_id and i not in stored)
        if not refused:
            clean.append(cadre_id)
            continue
        _slots().update_one(
            {"_id": cadre_id, f"inflight.{keys[0]}": {"$exists": True}},
            {"$inc": {"load": -refused}, "$unset": {f"inflight.{k}": "" for k in keys}},
        )
    if not clean:
        return
    done = _slots().update_many(
        {"_id": {"$in": clean}},
        {"$unset": {f"inflight.{k}": "" for c in clean for k in claims.keys[c]}},
    )
    if done.modified_count < len(clean):
        log.error(
            "claim journal swept before its cases were stored: cadres may hold cases over capacity",
            extra={"cadres": clean},
        )


def release_stranded(older_than: datetime) -> dict[str, int]:
    """Give back slots journaled before `older_than` that their cases never took (the worker died
    between the claim and the case's write: see the module's docstring), and clear those entries;
    slots freed by unit."""
    freed: Counter[str] = Counter()
    cutoff = to_ms(older_than)
    for doc in list(_slots().find({"inflight": {"$exists": True}}, {"inflight": 1, "unit": 1})):
        for key, case_ids in (doc.get("inflight") or {}).items():
            if int(key[1:].split("_")[0]) >= cutoff:
                continue
            took = {"_id": {"$in": case_ids}}
            if key.startswith(EXISTING_CASE):  # the case's own update records the key
                took[f"slot_keys.{key}"] = {"$exists": True}
            stored = {d["_id"] for d in Case._get_collection().find(took, {"_id": 1})}
            missing = len(set(case_ids) - stored)
            update: dict = {"$unset": {f"inflight.{key}": ""}}
            if missing:
                update["$inc"] = {"load": -missing}
            swept = _slots().update_one({"_id": doc["_id"], f"inflight.{key}": {"$exists": True}}, update)
            if swept.modified_count and missing:
                freed[doc["unit"]] += missing
                log.warning("stranded slots given back", extra={"cadre_id": doc["_id"], "slots": missing})
    return dict(freed)


def claim_cadre(
    unit: str, now: datetime, case_id: str, exclude: Collection[str] = ()
) -> tuple[str, str] | None:
    """One slot of the best cadre of `unit` who has room, for the existing case `case_id`:
    (cadre, journal key), or None if all are full. The case's update must set
    `slot_keys.<key>`, and `settle_slot` follow it (`handlers.update_case(..., slot=)` does both)."""
    claims = claim_for_cases(unit, [case_id], now, exclude, kind=EXISTING_CASE)
    cadre = claims.cadre_of.get(case_id)
    return (cadre, claims.keys[cadre][0]) if cadre else None


def settle_slot(cadre_id: str, key: str, taken: bool) -> None:
    """The case's update after `claim_cadre` is done: clear the journal entry, and give the slot
    back if the update did not take it. Guarded by the entry, so the sweep never frees it too."""
    update: dict = {"$unset": {f"inflight.{key}": ""}}
    if not taken:
        update["$inc"] = {"load": -1}
    done = _slots().update_one({"_id": cadre_id, f"inflight.{key}": {"$exists": True}}, update)
    if not done.modified_count and taken:
        log.error(
            "claim journal swept before its case took the slot: the cadre may hold a case over capacity",
            extra={"cadre_id": cadre_id},
        )


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
