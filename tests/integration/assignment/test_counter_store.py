"""The statistics counters' contract, run on the real database (MongoCounterStore) and on its
in-memory twin (MemoryCounterStore): a fact's mark is
new once only, increments add up per counter document, and a read by keys returns the counts of
the documents that exist."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.assignment import counter_store, counters
from services.assignment.documents import StatCounter

pytestmark = pytest.mark.stack


@pytest.fixture(params=["mongo", "memory"])
def store(request):
    """The store under contract, made the one in use; the real one on a fresh database."""
    if request.param == "mongo":
        request.getfixturevalue("mongo_db")
        made = counter_store.MongoCounterStore()
    else:
        made = counter_store.MemoryCounterStore()
    previous = counter_store.use(made)
    yield made
    counter_store.use(previous)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CC = "foshan/chancheng"


def test_a_mark_is_new_once_only(store):
    assert counter_store.new_marks({"m1": T0, "m2": T0}) == {"m1", "m2"}
    assert counter_store.new_marks({"m2": T0, "m3": T0, "m1": T0}) == {"m3"}
    assert counter_store.new_marks({"m3": T0}) == set()


def test_increments_add_up_per_counter_and_read_by_key(store):
    counter_store.add({("2026Q1", "handled", "foshan/chancheng"): {"received": 1, "esc_network": 1},
                       ("2026Q1", "received", "foshan/chancheng"): {"received": 1}})
    counter_store.add({("2026Q1", "handled", "foshan/chancheng"): {"received": 2, "days_to_close": 1.5}})
    counter_store.add({})
    if isinstance(store, counter_store.MongoCounterStore):  # the stored shape, on the database only
        doc = StatCounter._get_collection().find_one({"_id": "2026Q1|handled|foshan/chancheng"})
        assert doc["basis"] == "handled" and doc["quarter"] == "2026Q1"
    keys = [("2026Q1", "handled", CC), ("2026Q2", "handled", CC), ("2026Q1", "received", CC)]
    found = counter_store.read(keys)
    assert found == {("2026Q1", "handled", CC): {"received": 3, "esc_network": 1, "days_to_close": 1.5},
                     ("2026Q1", "received", CC): {"received": 1}}


def test_facts_are_counted_once_through_the_rules(store):
    fact = counters.Fact("c1:received", T0, {"received": CC, "handled": None}, {"received": 1})
    other = counters.Fact("c2:received", T0, {"received": CC, "handled": "foshan/nanhai"}, {"received": 1})
    assert counters.record([fact, fact, other]) == 2
    assert counters.record([fact, other]) == 0  # a redelivery counts nothing again
    sums = counters.read(["2026Q1"], [CC, "foshan/nanhai"])
    assert sums == {("received", CC): {"received": 2}, ("handled", "foshan/nanhai"): {"received": 1}}
