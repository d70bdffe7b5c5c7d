"""The review batches' progress (review.py) on plain values: review_store is replaced by a dict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import review
from shared.auth import Principal
from shared.problems import Problem

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SHIWAN, ZUMIAO, NANHAI = ("foshan/chancheng/shiwan#commission", "foshan/chancheng/zumiao#commission",
                          "foshan/nanhai#commission")
BATCHES = [{"_id": "b1", "name": "2026年大起底", "deadline": T0 + timedelta(days=30)},
           {"_id": "b2", "name": "回头看", "deadline": T0 + timedelta(days=60)}]
CASES = {"b1": [
    {"status": "assigned", "due_at": T0 - timedelta(days=1), "unit": SHIWAN, "kind": "review"},  # overdue
    {"status": "assigned", "due_at": T0 + timedelta(days=1), "unit": SHIWAN, "kind": None},
    {"status": "closed", "due_at": T0 - timedelta(days=9), "unit": SHIWAN, "kind": None},  # never overdue
    {"status": "queued", "due_at": T0 - timedelta(days=1), "unit": ZUMIAO, "kind": None},
    {"status": "assigned", "due_at": T0 - timedelta(days=1), "unit": NANHAI, "kind": None},
]}


@pytest.fixture
def stored(monkeypatch):
    """review_store as plain values; what `remember` was given."""
    kept = []

    def cases_of(batch_id, units):
        return [c for c in CASES.get(batch_id, []) if units is None or c["unit"] in units]

    store = review.review_store
    monkeypatch.setattr(store, "all_batches", lambda: BATCHES)
    monkeypatch.setattr(store, "find", lambda i: next((b for b in BATCHES if b["_id"] == i), None))
    monkeypatch.setattr(store, "cases_of", cases_of)
    monkeypatch.setattr(store, "remember", lambda batches, now: kept.append((dict(batches), now)))
    return kept


def test_a_batch_counts_in_hand_closed_and_overdue_by_unit_in_scope(stored, foshan):
    found = review.batch("b1", Principal("supervisor", "foshan/chancheng", "k"), foshan, T0)
    assert (found["name"], found["deadline"]) == ("2026年大起底", T0 + timedelta(days=30))
    assert {k: found[k] for k in ("total", "in_hand", "closed", "overdue", "reviews")} == {
        "total": 4, "in_hand": 3, "closed": 1, "overdue": 2, "reviews": 1}
    assert [(r["unit"], r["unit_name"], r["total"], r["overdue"]) for r in found["by_unit"]] == [
        (SHIWAN, "石湾镇街道纪工委", 3, 1), (ZUMIAO, foshan.unit(ZUMIAO).name, 1, 1)]


def test_only_batches_with_cases_in_scope_are_listed_except_for_the_admin(stored, foshan):
    listed = review.batches(Principal("supervisor", "foshan/nanhai", "k"), foshan, T0)
    assert [(b["batch_id"], b["total"]) for b in listed] == [("b1", 1)]
    every = review.batches(Principal("admin", "", "k"), foshan, T0)
    assert [(b["batch_id"], b["total"]) for b in every] == [("b1", 5), ("b2", 0)]


def test_an_unknown_batch_is_not_found(stored, foshan):
    with pytest.raises(Problem) as raised:
        review.batch("nope", Principal("admin", "", "k"), foshan, T0)
    assert raised.value.status == 404


def test_the_batches_named_by_clues_are_kept_once_each(stored):
    deadline = T0 + timedelta(days=30)
    review.remember_batches([{"batch": {"id": "b1", "name": "一", "deadline": deadline}}, {},
                             {"batch": {"id": "b1", "name": "一", "deadline": deadline}}], T0)
    assert stored == [({"b1": {"id": "b1", "name": "一", "deadline": deadline}}, T0)]
