"""The statistics report and the gauges (reports.py, metrics.py) on plain values: the counters and
report_store's counts of cases are replaced by what a test gives."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from services.assignment import metrics, reports
from shared.auth import Principal
from shared.problems import Problem

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ADMIN = Principal("admin", "", "k")


@pytest.fixture
def stored(monkeypatch):
    """What the stores hold: counters by (basis, jurisdiction); the unit lists queue counts were asked for."""
    asked: list[tuple] = []
    sums = {("handled", "foshan/chancheng/shiwan"): Counter(received=3, closed=1, out_restitution=1),
            ("handled", "foshan/chancheng"): Counter(received=1),
            ("handled", "foshan/nanhai"): Counter(received=2),
            ("received", "foshan/chancheng"): Counter(received=4)}

    def read(quarters, jurisdictions):
        asked.append(("counters", tuple(quarters)))
        return {key: counts for key, counts in sums.items() if key[1] in set(jurisdictions)}

    def queued_within(units):
        asked.append(("queued", tuple(units)))
        return 7

    monkeypatch.setattr(reports.counters, "read", read)
    monkeypatch.setattr(reports.report_store, "queued_within", queued_within)
    return asked


def test_the_report_sums_children_and_own_level_and_counts_the_queue(stored, foshan):
    found = reports.report(Principal("supervisor", "foshan/chancheng", "k"), foshan, T0)
    assert found["jurisdiction"] == "foshan/chancheng" and found["quarters"] == ["2026Q1"]
    assert (found["received"], found["closed"]["cases"], found["queued"]) == (4, 1, 7)
    assert found["closed"]["by_outcome"] == {"restitution": 1}
    rows = {r["jurisdiction"]: r["received"] for r in found["bases"]["handled"]["rows"]}
    assert rows["foshan/chancheng/shiwan"] == 3 and rows["foshan/chancheng"] == 1  # 本级: its own level only
    assert found["bases"]["received"]["total"]["received"] == 4
    assert ("queued", foshan.units_within("foshan/chancheng")) in stored


def test_the_city_is_reported_to_the_admin_and_a_supervisor_stays_in_scope(stored, foshan):
    assert reports.report(ADMIN, foshan, T0)["received"] == 6
    chancheng = Principal("supervisor", "foshan/chancheng", "k")
    with pytest.raises(Problem) as raised:
        reports.report(chancheng, foshan, T0, jurisdiction="foshan/nanhai")
    assert raised.value.status == 403


def test_the_gauges_give_every_unit_a_value_and_keep_units_outside_the_registry(monkeypatch, foshan):
    monkeypatch.setattr(metrics.report_store, "queued_by_unit", lambda: Counter({"triage#x": 2}))
    seen = []
    monkeypatch.setattr(metrics.report_store, "overdue_by_unit",
                        lambda now: seen.append(now) or Counter({"foshan#commission": 1}))
    queued = metrics.queue_lengths(foshan)
    assert queued["triage#x"] == 2.0 and queued["foshan#commission"] == 0.0
    assert len(queued) == len(foshan.units()) + 1
    overdue = metrics.overdue_cases(foshan, T0)
    assert overdue["foshan#commission"] == 1.0 and sum(overdue.values()) == 1.0 and seen == [T0]
