"""The statistics counters as stored: a mark per counted fact (`stat_marks`) and one counter
document per quarter, basis and jurisdiction (`stat_counters`, id `quarter|basis|jurisdiction`).
The rules of what counts where are in counters.py. `MongoCounterStore` is the real one,
`MemoryCounterStore` its in-memory twin for unit tests; the module functions act on the one in use
(`counter_store()`, swapped with `use()`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pymongo import UpdateOne

from shared.current import Current
from shared.mongo import insert_new

from .documents import StatCounter, StatMark

CounterKey = tuple[str, str, str]  # (quarter, basis, jurisdiction)
_NAMES = ("_id", "quarter", "basis", "jurisdiction")


def counter_id(quarter: str, basis: str, jurisdiction: str) -> str:
    return f"{quarter}|{basis}|{jurisdiction}"


class MongoCounterStore:
    """The counters in MongoDB (`stat_marks`, `stat_counters`)."""

    def new_marks(self, marks: Mapping[str, datetime]) -> set[str]:
        """Insert the marks (id -> the fact's time) in one write; the ids that were not marked before.
        A write error other than a taken id is raised."""
        ids = list(marks)
        seen = insert_new(StatMark._get_collection(), [{"_id": i, "at": marks[i]} for i in ids])
        return {i for n, i in enumerate(ids) if n not in seen}

    def add(self, sums: Mapping[CounterKey, Mapping[str, float]]) -> None:
        """Add the increments to their counter documents (created as needed), in one bulk write."""
        if not sums:
            return
        StatCounter._get_collection().bulk_write(
            [
                UpdateOne(
                    {"_id": counter_id(*key)},
                    {
                        "$set": {"quarter": key[0], "basis": key[1], "jurisdiction": key[2]},
                        "$inc": dict(counts),
                    },
                    upsert=True,
                )
                for key, counts in sums.items()
            ],
            ordered=False,
        )

    def read(self, keys: Iterable[CounterKey]) -> dict[CounterKey, dict[str, float]]:
        """The counts of those counter documents that exist, by key: one read by id."""
        ids = [counter_id(*key) for key in keys]
        return {
            (doc["quarter"], doc["basis"], doc["jurisdiction"]): {
                k: v for k, v in doc.items() if k not in _NAMES
            }
            for doc in StatCounter._get_collection().find({"_id": {"$in": ids}})
        }


class MemoryCounterStore:
    """The counters in dicts: same contract as MongoCounterStore, for unit tests."""

    def __init__(self) -> None:
        self.marks: dict[str, datetime] = {}
        self.counters: dict[CounterKey, dict[str, float]] = {}

    def new_marks(self, marks: Mapping[str, datetime]) -> set[str]:
        new = {i for i in marks if i not in self.marks}
        self.marks.update({i: marks[i] for i in new})
        return new

    def add(self, sums: Mapping[CounterKey, Mapping[str, float]]) -> None:
        for key, counts in sums.items():
            counter = self.counters.setdefault(tuple(key), {})
            for name, n in counts.items():
                counter[name] = counter.get(name, 0) + n

    def read(self, keys: Iterable[CounterKey]) -> dict[CounterKey, dict[str, float]]:
        return {tuple(k): dict(self.counters[tuple(k)]) for k in keys if tuple(k) in self.counters}


_current: Current[Any] = Current(MongoCounterStore())


def counter_store() -> Any:
    """The counter store in use."""
    return _current.get()


def use(store: Any) -> Any:
    """Make `store` the counter store in use; returns the one it replaces."""
    return _current.use(store)


def new_marks(marks: Mapping[str, datetime]) -> set[str]:
    """The store in use's `new_marks`: the ids of `marks` (id -> the fact's time) not marked before."""
    return _current.get().new_marks(marks)


def add(sums: Mapping[CounterKey, Mapping[str, float]]) -> None:
    """The store in use's `add`: the increments added to their counters (created as needed)."""
    _current.get().add(sums)


def read(keys: Iterable[CounterKey]) -> dict[CounterKey, dict[str, float]]:
    """The store in use's `read`: the counts of the counters that exist, by key."""
    return _current.get().read(keys)
