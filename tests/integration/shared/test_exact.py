"""`shared.mongo.exact` on the real database: the same matches as plain equality, and the
processed-event record it backs."""

from __future__ import annotations

import pytest

from shared import mongo
from shared.mongo import ProcessedEvents, exact

pytestmark = pytest.mark.stack


@pytest.fixture
def things(mongo_db):
    col = mongo.me.get_db()["things"]
    col.create_index([("status", 1)])
    col.insert_many([{"_id": f"t{i}", "status": ["pending", "sent", "failed"][i % 3],
                      "flag": i % 2 == 0, "unit": "佛山/禅城" if i % 5 == 0 else "foshan/nanhai"}
                     for i in range(60)])
    # A boolean written by $set after insert (nx-27017 stores it differently from an inserted one).
    col.update_many({"_id": {"$in": ["t1", "t3"]}}, {"$set": {"flag": True}})
    return col


@pytest.mark.parametrize("fields", [
    {"status": "pending"}, {"status": "nothing"}, {"flag": True}, {"flag": False},
    {"unit": "佛山/禅城"}, {"status": "sent", "flag": True}, {"_id": "t7"},
])
def test_exact_matches_what_plain_equality_matches(things, fields):
    plain = sorted(d["_id"] for d in things.find(fields, {"_id": 1}))
    assert sorted(d["_id"] for d in things.find(exact(**fields), {"_id": 1})) == plain
    assert plain or fields == {"status": "nothing"}


def test_exact_with_a_range_and_a_sort(things):
    found = [d["_id"] for d in things.find({**exact(status="failed"), "_id": {"$lt": "t3"}}).sort("_id", 1)]
    expected = sorted(f"t{i}" for i in range(60) if i % 3 == 2 and f"t{i}" < "t3")
    assert found == expected and len(expected) == 8


def test_processed_events_seen_only_after_mark(mongo_db):
    record = ProcessedEvents("intake")
    assert not record.seen("e1")
    record.mark("e1")
    record.mark("e1")  # a second mark of the same event is a no-op
    assert record.seen("e1")
    assert not ProcessedEvents("notify").seen("e1")
