"""The cadres' slot counters and claim journal as stored (the `cadres` collection): the only
module that reads or writes `load`, `leads`, `last_assigned_at` and `inflight`.

Every write here is a conditional atomic update (the rules of claiming, planning and settling
are in workload.py). A journal key is `<kind><epoch ms>_<random hex>`: the sweep tells an
entry's age from it. Times cross this module's edge as datetimes; `last_assigned_at` is stored
as epoch milliseconds (see shared/times.py).
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pymongo import UpdateOne

from shared.mongo import exact
from shared.times import from_ms, to_ms

from .documents import CadreSlot, Case

log = logging.getLogger(__name__)
_FIELDS = {"load": 1, "capacity": 1, "active": 1, "last_assigned_at": 1, "role": 1, "leads": 1}
EXISTING_CASE = "s"  # the kind of key an existing case's own update records (see workload.py)


@dataclass(frozen=True)
class SlotState:
    """One cadre's counters as read: `load` exactly as stored (None if never set), so a claim
    can match the cadre only as it was read."""

    id: str
    load: int | None
    capacity: int
    active: bool = True
    last_assigned_at: datetime | None = None
    role: str | None = None
    leads: int = 0


def _slots():
    return CadreSlot._get_collection()


def _state(doc: Mapping) -> SlotState:
    return SlotState(
        doc["_id"], doc.get("load"), doc["capacity"], bool(doc.get("active", True)),
        from_ms(doc.get("last_assigned_at")), doc.get("role"), doc.get("leads") or 0,
    )


def unit_slots(unit: str) -> list[SlotState]:
    """The counters of every cadre of `unit`, one read."""
    return [_state(d) for d in _slots().find(exact(unit=unit), _FIELDS)]


def journal_key(now: datetime, kind: str) -> str:
    """A new journal key of `kind`, dated `now` (ASCII letters, digits, "_": a field name)."""
    return f"{kind}{to_ms(now)}_{secrets.token_hex(4)}"


def _guard(state: SlotState) -> dict:
    """Match the cadre only as it was read: same load, same capacity, still active."""
    return {"_id": state.id, "load": state.load, "capacity": state.capacity, "active": True}


def claim(
    read: Mapping[str, SlotState], keyed: Mapping[str, tuple[str, list[str]]], now: datetime
) -> set[str]:
    """Claim each block (journal key -> (cadre, case ids)) in one bulk write: the cadre's load goes
    up by the block's size and the block is journaled under its key, only if the cadre is still
    as `read`. The keys whose claims landed (read back from the journal after a miss)."""
    ops = []
    for key, (cadre_id, block) in keyed.items():
        changes = {"last_assigned_at": to_ms(now), f"inflight.{key}": block}
        ops.append(UpdateOne(_guard(read[cadre_id]), {"$inc": {"load": len(block)}, "$set": changes}))
    if not ops or _slots().bulk_write(ops, ordered=False).matched_count == len(ops):
        return set(keyed)
    cadres = list({cadre_id for cadre_id, _ in keyed.values()})
    found = _slots().find({"_id": {"$in": cadres}}, {"inflight": 1})
    held = {key for d in found for key in (d.get("inflight") or {})}
    return {key for key in keyed if key in held}


def give_back_refused(cadre_id: str, keys: list[str], refused: int) -> None:
    """Give back `refused` slots of the cadre and clear its journal `keys`, only if the first key
    is still there (the sweep did not give them back already)."""
    _slots().update_one(
        {"_id": cadre_id, f"inflight.{keys[0]}": {"$exists": True}},
        {"$inc": {"load": -refused}, "$unset": {f"inflight.{k}": "" for k in keys}},
    )


def clear_journals(keys: Mapping[str, list[str]]) -> int:
    """Clear these journal keys (by cadre), the slots kept; how many cadres still had any."""
    if not keys:
        return 0
    done = _slots().update_many(
        {"_id": {"$in": list(keys)}},
        {"$unset": {f"inflight.{k}": "" for cadre_keys in keys.values() for k in cadre_keys}},
    )
    return done.modified_count


def settle_slot(cadre_id: str, key: str, taken: bool) -> bool:
    """Clear one journal entry, giving its slot back unless `taken`; False if the entry was gone."""
    update: dict = {"$unset": {f"inflight.{key}": ""}}
    if not taken:
        update["$inc"] = {"load": -1}
    done = _slots().update_one({"_id": cadre_id, f"inflight.{key}": {"$exists": True}}, update)
    return bool(done.modified_count)


def release_slot(cadre_id: str) -> bool:
    """Give back one slot of the cadre (never below zero); True if a slot was freed."""
    got = _slots().find_one_and_update(
        {"_id": cadre_id, "load": {"$gt": 0}}, {"$inc": {"load": -1}}, projection={"_id": 1}
    )
    return got is not None


def add_leads(led: Mapping[str, int]) -> None:
    """Count serious cases in each cadre's `leads` (cadre -> how many more)."""
    for cadre_id, count in led.items():
        _slots().update_one({"_id": cadre_id}, {"$inc": {"leads": count}})


def release_lead(cadre_id: str) -> None:
    """One serious case fewer led by the cadre (never below zero)."""
    _slots().update_one({"_id": cadre_id, "leads": {"$gt": 0}}, {"$inc": {"leads": -1}})


def _stored_cases(key: str, case_ids: list[str]) -> set[str]:
    """Those of the cases that took the journal entry's slot: stored at all (a new case), or
    stored with the key in `slot_keys` (an existing case's own update records it)."""
    took: dict = {"_id": {"$in": case_ids}}
    if key.startswith(EXISTING_CASE):
        took[f"slot_keys.{key}"] = {"$exists": True}
    return {d["_id"] for d in Case._get_collection().find(took, {"_id": 1})}


def release_stranded(older_than: datetime) -> dict[str, int]:
    """Give back the slots of journal entries dated before `older_than` that their cases never
    took, and clear those entries (each guarded by the entry); slots freed by unit."""
    freed: Counter[str] = Counter()
    cutoff = to_ms(older_than)
    for doc in list(_slots().find({"inflight": {"$exists": True}}, {"inflight": 1, "unit": 1})):
        entries: Iterable[tuple[str, list[str]]] = (doc.get("inflight") or {}).items()
        for key, case_ids in entries:
            if int(key[1:].split("_")[0]) >= cutoff:
                continue
            missing = len(set(case_ids) - _stored_cases(key, case_ids))
            update: dict = {"$unset": {f"inflight.{key}": ""}}
            if missing:
                update["$inc"] = {"load": -missing}
            swept = _slots().update_one({"_id": doc["_id"], f"inflight.{key}": {"$exists": True}}, update)
            if swept.modified_count and missing:
                freed[doc["unit"]] += missing
                log.warning("stranded slots given back", extra={"cadre_id": doc["_id"], "slots": missing})
    return dict(freed)
