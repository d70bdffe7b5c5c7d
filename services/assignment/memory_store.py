"""`MemoryCaseStore`: the case store of store.py kept in dicts, for the use cases' unit tests
(same contract: tests/integration/assignment/test_case_store.py runs it on both).

The cadres' slots stay with workload.py and the slot store in use (workload_store.py): a write
that takes or gives up a slot settles it there, as the database store does.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.times import to_ms

from .model import OPEN_STATUSES
from .store import (
    RELEASE_CLEARED,
    CaseWrites,
    Doc,
    audit_entry,
    follow_up_view,
    waiting_doc,
)

_UNIQUE = ("_id", "clue_id", "open_key")  # what the database's unique indexes refuse twice


_MISSING = object()
_ORDER = {"$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt, "$gte": operator.ge}


def _compare(value: Any, op: str, wanted: Any) -> bool:
    if op == "$eq":
        return value == wanted
    if op == "$ne":
        return value != wanted
    if op == "$in":
        return value in wanted or (isinstance(value, list) and any(v in wanted for v in value))
    if op == "$exists":
        return (value is not _MISSING) == bool(wanted)
    if value is _MISSING or value is None:
        return False
    return _ORDER[op](value, wanted)


def _get(doc: Mapping[str, Any], name: str) -> Any:
    for part in name.split("."):
        if not isinstance(doc, Mapping) or part not in doc:
            return _MISSING
        doc = doc[part]
    return doc


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether the document passes a filter of store.py's (or duty_store.py's) kind, as the database
    would tell."""
    for name, wanted in query.items():
        value = _get(doc, name)
        if isinstance(wanted, Mapping) and wanted and all(k.startswith("$") for k in wanted):
            if not all(_compare(value, op, arg) for op, arg in wanted.items()):
                return False
        elif wanted is None:
            if value is not _MISSING and value is not None:
                return False
        elif not (value == wanted or (isinstance(value, list) and wanted in value)):
            return False
    return True


def _project(doc: Doc, fields: Mapping[str, int] | None) -> Doc:
    if not fields:
        return copy.deepcopy(doc)
    if any(fields.values()):
        return {k: copy.deepcopy(v) for k, v in doc.items() if k == "_id" or fields.get(k)}
    return {k: copy.deepcopy(v) for k, v in doc.items() if k not in fields}


def _sort_key(field: str):
    def key(doc: Doc) -> tuple:
        value = doc.get(field)
        return (value is not None, value)

    return key


class _Outbox:
    """What a relay (shared/outbox.py) clears the published outboxes through, on these cases."""

    name = "cases"

    def __init__(self, cases: dict[str, Doc]) -> None:
        self.cases = cases

    def update_one(self, query: Mapping[str, Any], update: Mapping[str, Any]) -> None:
        self.update_many(query, update)

    def update_many(self, query: Mapping[str, Any], update: Mapping[str, Any]) -> None:
        for doc in self.cases.values():
            if matches({"outbox_version": 0, **doc}, query):
                doc.update(copy.deepcopy(update["$set"]))


class MemoryCaseStore(CaseWrites):
    """The cases' store in dicts: `cases`, `clues`, `audits`, `escalations`, `waiting` by id."""

    def __init__(self) -> None:
        self.cases: dict[str, Doc] = {}
        self.clues: dict[str, Doc] = {}
        self.audits: dict[str, Doc] = {}
        self.escalations: dict[str, Doc] = {}
        self.waiting: dict[str, Doc] = {}
        self.outbox = _Outbox(self.cases)  # hand it to an OutboxRelay in place of the collection

    # ---- cases -----------------------------------------------------------------------------

    def get(self, case_id: str, fields: Mapping[str, int] | None = None) -> Doc | None:
        found = self.cases.get(case_id)
        return None if found is None else _project(found, fields)

    def by_clue(self, clue_id: str) -> Doc | None:
        found = self.select({"clue_id": clue_id}) or self.select({"linked_clue_ids": clue_id})
        return found[0] if found else None

    def open_key_taken(self, key: str) -> bool:
        return any(d.get("open_key") == key for d in self.cases.values())

    def select(self, query: Mapping[str, Any], fields: Mapping[str, int] | None = None,
               sort: tuple[str, int] | None = None, limit: int = 0) -> list[Doc]:
        found = [d for d in self.cases.values() if matches(d, query)]
        if sort:
            found.sort(key=_sort_key(sort[0]), reverse=sort[1] < 0)
        return [_project(d, fields) for d in found[: limit or None]]

    def _taken(self, doc: Mapping[str, Any], but: str | None = None) -> bool:
        return any(doc.get(k) is not None and doc.get(k) == other.get(k)
                   for other in self.cases.values() if other["_id"] != but for k in _UNIQUE)

    def insert(self, docs: list[Doc]) -> tuple[list[int], Exception | None]:
        refused = []
        for i, doc in enumerate(docs):
            if self._taken(doc):
                refused.append(i)
            else:
                self.cases[doc["_id"]] = copy.deepcopy(doc)
        return refused, None

    def stored_ids(self, case_ids: Iterable[str], slot_key: str | None = None) -> set[str]:
        return {i for i in case_ids if i in self.cases
                and (slot_key is None or slot_key in (self.cases[i].get("slot_keys") or {}))}

    def give_open_key(self, case_id: str, key: str) -> bool:
        doc = self.cases.get(case_id)
        if doc is None or "open_key" in doc or doc["status"] not in OPEN_STATUSES:
            return False
        if self.open_key_taken(key):
            return False
        doc["open_key"] = key
        return True

    def _write(self, doc: Doc, update: Doc, expect: Mapping[str, Any]) -> Doc | None:
        """CaseWrites' guarded write, in memory: the version goes up here, not by `$inc`."""
        stored = self.cases.get(doc["_id"])
        wanted = {"outbox_version": doc.get("outbox_version", 0), **expect}
        if stored is None or not matches({"outbox_version": 0, **stored}, wanted):
            return None
        new = copy.deepcopy(stored)
        for name, value in update["$set"].items():
            head, _, tail = name.partition(".")
            if tail:
                new.setdefault(head, {})[tail] = value
            else:
                new[name] = copy.deepcopy(value)
        for name in update.get("$unset", {}):
            new.pop(name, None)
        new["outbox_version"] = new.get("outbox_version", 0) + 1
        if self._taken(new, but=new["_id"]):
            return None
        self.cases[new["_id"]] = new
        return copy.deepcopy(new)

    def _clear_release(self, case_id: str, key: str) -> None:
        stored = self.cases.get(case_id)
        if stored is not None and stored.get("release_key") == key:
            stored.update(RELEASE_CLEARED)

    def _stranded(self, older_than: datetime) -> list[Doc]:
        return [copy.deepcopy(d) for d in self.cases.values()
                if 0 < (d.get("release_at") or 0) < to_ms(older_than)]

    def _release_held(self, key: str) -> bool:
        return any(d.get("release_key") == key for d in self.cases.values())

    # ---- clues of a case ---------------------------------------------------------------------

    def keep_clue(self, case_id: str, record: Mapping[str, Any]) -> None:
        fields = {k: copy.deepcopy(v) for k, v in record.items() if k != "clue_id"}
        self.clues.setdefault(record["clue_id"], {"_id": record["clue_id"]}).update(case_id=case_id, **fields)

    def clues_of(self, case_id: str) -> dict[str, Doc]:
        return {k: copy.deepcopy(d) for k, d in self.clues.items() if d["case_id"] == case_id}

    # ---- audit trail and escalation log --------------------------------------------------------

    def audit(self, case_id: str, actor: str, action: str, at: datetime, entry_id: str | None = None,
              **details: Any) -> None:
        entry = audit_entry(case_id, actor, action, at, details, entry_id)
        self.audits.setdefault(entry["_id"], entry)

    def record_reads(self, case_ids: list[str], actor: str, action: str, at: datetime) -> None:
        for case_id in case_ids:
            self.audit(case_id, actor, action, at)

    def audit_of(self, case_id: str) -> list[Doc]:
        found = [copy.deepcopy(a) for a in self.audits.values() if a["case_id"] == case_id]
        return sorted(found, key=lambda a: (a["at"], a["_id"]))

    def has_audit(self, entry_id: str) -> bool:
        return entry_id in self.audits

    def follow_ups(self, case_id: str) -> list[Doc]:
        return follow_up_view(a for a in self.audits.values() if a["case_id"] == case_id)

    def add_escalation(self, entry: Doc) -> bool:
        if entry["_id"] in self.escalations:
            return False
        self.escalations[entry["_id"]] = copy.deepcopy(entry)
        return True

    def escalations_of(self, case_id: str) -> list[Doc]:
        found = [copy.deepcopy(e) for e in self.escalations.values() if e["case_id"] == case_id]
        return sorted(found, key=lambda e: e["at"])

    def escalations_touching(self, units: list[str], limit: int = 200) -> list[Doc]:
        found = [copy.deepcopy(e) for e in self.escalations.values()
                 if e["to_unit"] in units or e["from_unit"] in units]
        return sorted(found, key=lambda e: (e["at"], e["_id"]), reverse=True)[:limit]

    # ---- follow-ups waiting for their case -----------------------------------------------------

    def keep_waiting(self, event_id: str, data: Mapping[str, Any], at: datetime) -> None:
        self.waiting.setdefault(event_id, waiting_doc(event_id, data, at))

    def waiting_for(self, clue_ids: Iterable[str]) -> list[Doc]:
        wanted = set(clue_ids)
        return sorted((copy.deepcopy(w) for w in self.waiting.values() if w["clue_id"] in wanted),
                      key=lambda w: w["at"])

    def waiting_clue_ids(self, limit: int = 200) -> list[str]:
        return list(dict.fromkeys(w["clue_id"] for w in list(self.waiting.values())[:limit]))

    def done_waiting(self, event_id: str) -> None:
        self.waiting.pop(event_id, None)
