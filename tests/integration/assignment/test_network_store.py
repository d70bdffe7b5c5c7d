"""Joint handlings as stored (network_store.py) on the real database: saved with the time of the
change (kept as epoch ms), found again by any member case, written again in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import network_store

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_a_joint_handling_is_saved_with_its_change_time_and_found_by_its_cases(mongo_db):
    fields = {"lead_unit": "u1", "assisting_units": ["u2"], "case_ids": ["c1", "c2"], "subjects": ["s"],
              "parties": ["p"], "why": ["shared_party"]}
    network_store.save_joint("nc1", fields, T0, ["c1", "c2"], updated_at=T0)
    later = T0 + timedelta(hours=1)
    network_store.save_joint("nc1", {**fields, "case_ids": ["c1", "c2", "c3"]}, T0, ["c3"], updated_at=later)
    found = network_store.joint_of_cases(["c3", "x"])
    assert found.id == "nc1" and found.case_ids == ["c1", "c2", "c3"] and found.lead_unit == "u1"
    assert found.updated_ms == int(later.timestamp() * 1000)
    # created_at written once, as a datetime, never rewritten by a later save (as a string)
    assert found.created_at.replace(tzinfo=UTC) == T0
    assert network_store.joint_of_cases(["x"]) is None
    assert [j.id for j in network_store.joints_newest_first()] == ["nc1"]

