"""`MemoryWorkloadStore`: the cadres' slot store of workload_store.py kept in a dict, for the use
cases' unit tests (same contract: tests/integration/assignment/test_workload_store.py runs it on
both). Each cadre is kept in the shape of its stored document (`last_assigned_at` in epoch ms), so
it reads back as the database's does; every write checks what the database's conditional update
would match.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.times import to_ms

from .workload_store import JournalEntry, RosterEntry, SlotState, roster_changes, slot_state

if TYPE_CHECKING:
    from .registry import Registry

Doc = dict[str, Any]


def _as_read(doc: Doc, state: SlotState) -> bool:
    """What a claim's guard matches: same load (None: never set), same capacity, still active."""
    same = doc.get("load") == state.load and doc.get("capacity") == state.capacity
    return same and doc.get("active") is True


class MemoryWorkloadStore:
    """The cadres' counters and journals in `cadres` (id -> the cadre as stored)."""

    def __init__(self) -> None:
        self.cadres: dict[str, Doc] = {}

    def sync_roster(self, registry: Registry) -> None:
        present = set()
        for cadre_id, fields in roster_changes(registry):
            doc = self.cadres.setdefault(cadre_id, {"_id": cadre_id})
            doc.update(fields)
            if doc.get("load") is None:
                doc.update(load=0, leads=0)
            present.add(cadre_id)
        for cadre_id, doc in self.cadres.items():
            if cadre_id not in present:
                doc["active"] = False

    def roster(self, unit: str) -> list[RosterEntry]:
        found = sorted((d for d in self.cadres.values() if d.get("unit") == unit),
                       key=lambda d: d.get("position") or 0)
        return [RosterEntry(d["_id"], d["name"], d["role"], d.get("active", True), d["capacity"],
                            d.get("load") or 0, d.get("leads") or 0) for d in found]

    def unit_slots(self, unit: str) -> list[SlotState]:
        return [slot_state(d) for d in self.cadres.values() if d.get("unit") == unit]

    def journal(self, cadre_id: str) -> dict[str, list[str]]:
        return copy.deepcopy(self.cadres.get(cadre_id, {}).get("inflight") or {})

    def claim(
        self, read: Mapping[str, SlotState], keyed: Mapping[str, tuple[str, list[str]]], now: datetime
    ) -> set[str]:
        taken = set()
        for key, (cadre_id, block) in keyed.items():
            doc = self.cadres.get(cadre_id)
            if doc is None or not _as_read(doc, read[cadre_id]):
                continue
            doc["load"] = (doc.get("load") or 0) + len(block)
            doc["last_assigned_at"] = to_ms(now)
            doc.setdefault("inflight", {})[key] = list(block)
            taken.add(key)
        return taken

    def _entry_holder(self, cadre_id: str, key: str) -> Doc | None:
        """The cadre, if its journal holds `key` (what the database's guarded updates match)."""
        doc = self.cadres.get(cadre_id)
        return doc if doc is not None and key in (doc.get("inflight") or {}) else None

    def give_back_refused(self, cadre_id: str, keys: list[str], refused: int) -> None:
        doc = self._entry_holder(cadre_id, keys[0])
        if doc is not None:
            doc["load"] = (doc.get("load") or 0) - refused
            for key in keys:
                doc["inflight"].pop(key, None)

    def clear_journals(self, keys: Mapping[str, list[str]]) -> int:
        every = {key for cadre_keys in keys.values() for key in cadre_keys}
        cleared = 0
        for cadre_id in keys:
            journal = (self.cadres.get(cadre_id) or {}).get("inflight") or {}
            cleared += bool(every & set(journal))
            for key in every:
                journal.pop(key, None)
        return cleared

    def settle_slot(self, cadre_id: str, key: str, taken: bool) -> bool:
        doc = self._entry_holder(cadre_id, key)
        if doc is None:
            return False
        del doc["inflight"][key]
        if not taken:
            doc["load"] = (doc.get("load") or 0) - 1
        return True

    def add_leads(self, led: Mapping[str, int]) -> None:
        for cadre_id, count in led.items():
            if cadre_id in self.cadres:
                doc = self.cadres[cadre_id]
                doc["leads"] = (doc.get("leads") or 0) + count

    def release_lead(self, cadre_id: str) -> None:
        doc = self.cadres.get(cadre_id)
        if doc is not None and (doc.get("leads") or 0) > 0:
            doc["leads"] -= 1

    def give_back_once(self, cadre_id: str, counter: str, key: str, at: datetime | None) -> None:
        doc = self.cadres.get(cadre_id)
        if doc is None or (doc.get(counter) or 0) <= 0 or key in (doc.get("released") or {}):
            return
        doc[counter] -= 1
        doc.setdefault("released", {})[key] = to_ms(at) or 0

    def unmark(self, cadre_ids: list[str], key: str) -> None:
        for cadre_id in cadre_ids:
            ((self.cadres.get(cadre_id) or {}).get("released") or {}).pop(key, None)

    def stale_marks(self, older_than: datetime) -> list[tuple[str, str]]:
        return [(doc["_id"], key) for doc in self.cadres.values()
                for key, at in (doc.get("released") or {}).items() if (at or 0) < to_ms(older_than)]

    def marks(self, cadre_id: str) -> set[str]:
        return set((self.cadres.get(cadre_id) or {}).get("released") or {})

    def journal_entries(self) -> list[JournalEntry]:
        return [JournalEntry(d["_id"], d["unit"], key, list(case_ids))
                for d in self.cadres.values() for key, case_ids in (d.get("inflight") or {}).items()]

    def sweep_entry(self, cadre_id: str, key: str, missing: int) -> bool:
        doc = self._entry_holder(cadre_id, key)
        if doc is None:
            return False
        del doc["inflight"][key]
        doc["load"] = (doc.get("load") or 0) - missing
        return True
