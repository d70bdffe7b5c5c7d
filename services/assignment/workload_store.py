"""The cadres' slot counters and claim journal as stored (the `cadres` collection): the only
module that reads or writes `load`, `leads`, `last_assigned_at`, `inflight` and `released`.

Every write here is a conditional atomic update (the rules of claiming, planning, settling and
sweeping are in workload.py). A journal key is `<kind><epoch ms>_<random hex>`: the sweep tells
an entry's age from it. Times cross this module's edge as datetimes; `last_assigned_at` is stored
as epoch milliseconds (see shared/times.py).

`MongoWorkloadStore` is the real store, `MemoryWorkloadStore` (memory_slots.py) its in-memory
twin for unit tests; tests/integration/assignment/test_workload_store.py runs the same contract
on both. The module functions act on the store in use (`workload_store()`, swapped with `use()`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo import UpdateOne

from shared.current import Current
from shared.mongo import exact
from shared.times import from_ms, to_ms

from .documents import CadreSlot

if TYPE_CHECKING:
    from .registry import Registry

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


@dataclass(frozen=True)
class RosterEntry:
    """One cadre of a unit as the workload answer shows them: `load` 0 if never set."""

    id: str
    name: str
    role: str
    active: bool
    capacity: int
    load: int
    leads: int


@dataclass(frozen=True)
class JournalEntry:
    """One claim not settled yet: the cadre (and unit) whose slots it took, its key, its cases."""

    cadre_id: str
    unit: str
    key: str
    case_ids: list[str]


def journal_key(now: datetime, kind: str) -> str:
    """A new journal key of `kind`, dated `now` (ASCII letters, digits, "_": a field name)."""
    return f"{kind}{to_ms(now)}_{secrets.token_hex(4)}"


def journal_ms(key: str) -> int:
    """The epoch ms a journal key is dated."""
    return int(key[1:].split("_")[0])


def slot_state(doc: Mapping) -> SlotState:
    """A cadre's counters from its stored document (`last_assigned_at` in epoch ms)."""
    return SlotState(
        doc["_id"], doc.get("load"), doc["capacity"], bool(doc.get("active", True)),
        from_ms(doc.get("last_assigned_at")), doc.get("role"), doc.get("leads") or 0,
    )


def roster_changes(registry: Registry) -> list[tuple[str, dict[str, Any]]]:
    """(cadre id, the registry's fields of the cadre with its position) for every cadre."""
    return [(c.id, {"name": c.name, "unit": c.unit, "role": c.role, "capacity": c.capacity,
                    "active": c.active, "position": pos})
            for pos, c in enumerate(registry.cadres())]


def taking_cases(key: str, case_ids: list[str]) -> set[str]:
    """Those of the cases that took the journal entry's slot, asked of the case store in use:
    stored at all (a new case), or stored with the key in `slot_keys` (an existing case's own
    update records it)."""
    from .store import case_store  # here: store.py imports workload.py, which imports this module

    return case_store().stored_ids(case_ids, key if key.startswith(EXISTING_CASE) else None)


def _guard(state: SlotState) -> dict:
    """Match the cadre only as it was read: same load, same capacity, still active."""
    return {"_id": state.id, "load": state.load, "capacity": state.capacity, "active": True}


class MongoWorkloadStore:
    """The cadres' counters and journals in MongoDB (`cadres`)."""

    def _slots(self):
        return CadreSlot._get_collection()

    def sync_roster(self, registry: Registry) -> None:
        """Write the registry's cadres (name, unit, role, capacity, active, position), their
        counters set to 0 where never set and kept otherwise; cadres no longer in the registry are
        deactivated, since they may still hold cases."""
        slots = self._slots()
        for cadre_id, fields in roster_changes(registry):
            slots.update_one({"_id": cadre_id}, {"$set": fields}, upsert=True)
            slots.update_one({"_id": cadre_id, "load": None}, {"$set": {"load": 0, "leads": 0}})
        slots.update_many({"_id": {"$nin": [c.id for c in registry.cadres()]}}, {"$set": {"active": False}})

    def roster(self, unit: str) -> list[RosterEntry]:
        """Every cadre of `unit`, in the registry's order."""
        return [
            RosterEntry(c.id, c.name, c.role, c.active, c.capacity, c.load, c.leads)
            for c in CadreSlot.objects(unit=unit).order_by("position")
        ]

    def unit_slots(self, unit: str) -> list[SlotState]:
        """The counters of every cadre of `unit`, one read."""
        return [slot_state(d) for d in self._slots().find(exact(unit=unit), _FIELDS)]

    def journal(self, cadre_id: str) -> dict[str, list[str]]:
        """The cadre's claim journal: key -> case ids, each claim not settled yet."""
        found = self._slots().find_one({"_id": cadre_id}, {"inflight": 1})
        return dict((found or {}).get("inflight") or {})

    def claim(
        self, read: Mapping[str, SlotState], keyed: Mapping[str, tuple[str, list[str]]], now: datetime
    ) -> set[str]:
        """Claim each block (journal key -> (cadre, case ids)) in one bulk write: the cadre's load goes
        up by the block's size and the block is journaled under its key, only if the cadre is still
        as `read`. The keys whose claims landed (read back from the journal after a miss)."""
        ops = []
        for key, (cadre_id, block) in keyed.items():
            changes = {"last_assigned_at": to_ms(now), f"inflight.{key}": block}
            ops.append(UpdateOne(_guard(read[cadre_id]), {"$inc": {"load": len(block)}, "$set": changes}))
        if not ops or self._slots().bulk_write(ops, ordered=False).matched_count == len(ops):
            return set(keyed)
        cadres = list({cadre_id for cadre_id, _ in keyed.values()})
        found = self._slots().find({"_id": {"$in": cadres}}, {"inflight": 1})
        held = {key for d in found for key in (d.get("inflight") or {})}
        return {key for key in keyed if key in held}

    def give_back_refused(self, cadre_id: str, keys: list[str], refused: int) -> None:
        """Give back `refused` slots of the cadre and clear its journal `keys`, only if the first key
        is still there (the sweep did not give them back already)."""
        self._slots().update_one(
            {"_id": cadre_id, f"inflight.{keys[0]}": {"$exists": True}},
            {"$inc": {"load": -refused}, "$unset": {f"inflight.{k}": "" for k in keys}},
        )

    def clear_journals(self, keys: Mapping[str, list[str]]) -> int:
        """Clear these journal keys (by cadre), the slots kept; how many cadres still had any."""
        if not keys:
            return 0
        done = self._slots().update_many(
            {"_id": {"$in": list(keys)}},
            {"$unset": {f"inflight.{k}": "" for cadre_keys in keys.values() for k in cadre_keys}},
        )
        return done.modified_count

    def settle_slot(self, cadre_id: str, key: str, taken: bool) -> bool:
        """Clear one journal entry, giving its slot back unless `taken`; False if the entry was gone."""
        update: dict = {"$unset": {f"inflight.{key}": ""}}
        if not taken:
            update["$inc"] = {"load": -1}
        done = self._slots().update_one({"_id": cadre_id, f"inflight.{key}": {"$exists": True}}, update)
        return bool(done.modified_count)

    def add_leads(self, led: Mapping[str, int]) -> None:
        """Count serious cases in each cadre's `leads` (cadre -> how many more)."""
        for cadre_id, count in led.items():
            self._slots().update_one({"_id": cadre_id}, {"$inc": {"leads": count}})

    def release_lead(self, cadre_id: str) -> None:
        """One serious case fewer led by the cadre (never below zero)."""
        self._slots().update_one({"_id": cadre_id, "leads": {"$gt": 0}}, {"$inc": {"leads": -1}})

    def give_back_once(self, cadre_id: str, counter: str, key: str, at: datetime | None) -> None:
        """One off the cadre's `counter` ("load" or "leads", never below zero) for the case release
        `key`, once only: the cadre keeps a mark of the key (dated `at`) until `unmark`."""
        self._slots().update_one(
            {"_id": cadre_id, counter: {"$gt": 0}, f"released.{key}": {"$exists": False}},
            {"$inc": {counter: -1}, "$set": {f"released.{key}": to_ms(at) or 0}},
        )

    def unmark(self, cadre_ids: list[str], key: str) -> None:
        """Clear the cadres' marks of the release `key`."""
        if cadre_ids:
            self._slots().update_many({"_id": {"$in": cadre_ids}}, {"$unset": {f"released.{key}": ""}})

    def stale_marks(self, older_than: datetime) -> list[tuple[str, str]]:
        """(cadre, release key) of the marks dated before then."""
        found = list(self._slots().find({"released": {"$exists": True}}, {"released": 1}))
        return [(cadre["_id"], key) for cadre in found
                for key, at in (cadre.get("released") or {}).items() if (at or 0) < to_ms(older_than)]

    def marks(self, cadre_id: str) -> set[str]:
        """The release keys the cadre is marked with."""
        found = self._slots().find_one({"_id": cadre_id}, {"released": 1})
        return set((found or {}).get("released") or {})

    def journal_entries(self) -> list[JournalEntry]:
        """Every claim journal entry not settled yet, of every cadre, one read."""
        found = list(self._slots().find({"inflight": {"$exists": True}}, {"inflight": 1, "unit": 1}))
        return [JournalEntry(d["_id"], d["unit"], key, case_ids)
                for d in found for key, case_ids in (d.get("inflight") or {}).items()]

    def sweep_entry(self, cadre_id: str, key: str, missing: int) -> bool:
        """Clear the cadre's journal entry `key`, giving back `missing` slots with it, only if the
        entry is still there; whether it was."""
        update: dict = {"$unset": {f"inflight.{key}": ""}}
        if missing:
            update["$inc"] = {"load": -missing}
        swept = self._slots().update_one({"_id": cadre_id, f"inflight.{key}": {"$exists": True}}, update)
        return bool(swept.modified_count)


_current: Current[Any] = Current(MongoWorkloadStore())


def workload_store() -> Any:
    """The slot store in use."""
    return _current.get()


def use(store: Any) -> Any:
    """Make `store` the slot store in use; returns the one it replaces."""
    return _current.use(store)


# ---- the store in use's methods, for workload.py, the case stores, queries.py and registry_store.py


def sync_roster(registry: Registry) -> None:
    """The registry's cadres written, those no longer in it deactivated (`sync_roster`)."""
    _current.get().sync_roster(registry)


def roster(unit: str) -> list[RosterEntry]:
    """Every cadre of `unit`, in the registry's order, counters never set as 0."""
    return _current.get().roster(unit)


def unit_slots(unit: str) -> list[SlotState]:
    """The counters of every cadre of `unit`, one read."""
    return _current.get().unit_slots(unit)


def journal(cadre_id: str) -> dict[str, list[str]]:
    """The cadre's claim journal: key -> case ids, each claim not settled yet."""
    return _current.get().journal(cadre_id)


def claim(
    read: Mapping[str, SlotState], keyed: Mapping[str, tuple[str, list[str]]], now: datetime
) -> set[str]:
    """The blocks claimed on the cadres still as `read`; the keys whose claims landed (`claim`)."""
    return _current.get().claim(read, keyed, now)


def give_back_refused(cadre_id: str, keys: list[str], refused: int) -> None:
    """`refused` slots given back and `keys` cleared, if the first key is still journaled."""
    _current.get().give_back_refused(cadre_id, keys, refused)


def clear_journals(keys: Mapping[str, list[str]]) -> int:
    """These journal keys cleared, the slots kept; how many cadres still had any."""
    return _current.get().clear_journals(keys)


def settle_slot(cadre_id: str, key: str, taken: bool) -> bool:
    """One journal entry cleared, its slot given back unless `taken`; False if it was gone."""
    return _current.get().settle_slot(cadre_id, key, taken)


def add_leads(led: Mapping[str, int]) -> None:
    """Serious cases counted in each cadre's `leads` (cadre -> how many more)."""
    _current.get().add_leads(led)


def release_lead(cadre_id: str) -> None:
    """One serious case fewer led by the cadre (never below zero)."""
    _current.get().release_lead(cadre_id)


def journal_entries() -> list[JournalEntry]:
    """Every claim journal entry not settled yet, of every cadre."""
    return _current.get().journal_entries()


def sweep_entry(cadre_id: str, key: str, missing: int) -> bool:
    """The journal entry cleared with `missing` slots given back, if still there; whether it was."""
    return _current.get().sweep_entry(cadre_id, key, missing)


def give_back_once(cadre_id: str, counter: str, key: str, at: datetime | None) -> None:
    """One off the cadre's `counter` ("load" or "leads") for the case release `key`, once only."""
    _current.get().give_back_once(cadre_id, counter, key, at)


def unmark(cadre_ids: list[str], key: str) -> None:
    """The cadres' marks of the release `key` cleared."""
    _current.get().unmark(cadre_ids, key)


def stale_marks(older_than: datetime) -> list[tuple[str, str]]:
    """(cadre, release key) of the marks dated before then."""
    return _current.get().stale_marks(older_than)


def marks(cadre_id: str) -> set[str]:
    """The release keys the cadre is marked with."""
    return _current.get().marks(cadre_id)
