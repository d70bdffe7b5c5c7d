"""Integrity observers' rules (observers.py)."""

from __future__ import annotations

import pytest

from services.intake import observers
from services.intake.schemas import ClueSchema

TOWN = "foshan/chancheng/shiwan"
REPORT = {"category": "solicitation", "summary": "收受香烟红包", "subject": {"name": "许某", "rank": "staff"}}
REPORTS = [
    ("the town by default", {}, TOWN, None),
    ("a place inside the town", {"jurisdiction": f"{TOWN}/zhongxin-road"}, f"{TOWN}/zhongxin-road", None),
    ("a place outside the town", {"jurisdiction": "foshan/chancheng/zumiao"}, None, "jurisdiction"),
    ("a prefix that is not inside", {"jurisdiction": f"{TOWN}x"}, None, "jurisdiction"),
    ("the source comes from the observer", {"source": "public_report"}, None, "source"),
    ("so does the reporter", {"reporter": {"anonymous": False}}, None, "reporter"),
]


@pytest.mark.parametrize("label, extra, place, error", REPORTS, ids=[r[0] for r in REPORTS])
def test_report_clue(label, extra, place, error):
    if error:
        with pytest.raises(ValueError, match=error):
            observers.report_clue({**REPORT, **extra}, TOWN)
        return
    body = observers.report_clue({**REPORT, **extra}, TOWN)
    assert body["source"] == "observer" and body["jurisdiction"] == place
    assert body["reporter"] == {"anonymous": True}  # who they are never travels with the clue
    ClueSchema().load(body)


LIAISONS = [
    ("a cadre of the town's commission", TOWN, None),
    ("a cadre of the district above", "foshan/chancheng", None),
    ("a cadre of the city", "foshan", None),
    ("a cadre of another town", "foshan/chancheng/zumiao", "Not a cadre of the town or of a level above it."),
    ("a cadre of a town under it", f"{TOWN}/x", "Not a cadre of the town or of a level above it."),
    ("no such cadre", None, "Not a known cadre."),
]


@pytest.mark.parametrize("label, place, problem", LIAISONS, ids=[x[0] for x in LIAISONS])
def test_liaison_problem(label, place, problem):
    assert observers.liaison_problem(place, TOWN) == problem


def test_key_digest_is_stable_and_hides_the_key():
    assert observers.key_digest("obs_abc") == observers.key_digest(" obs_abc ")
    assert "obs_abc" not in observers.key_digest("obs_abc")
    assert observers.key_digest("obs_abc") != observers.key_digest("obs_abd")


ROSTER = [
    {"id": "o1", "town": TOWN, "background": "merchant", "active": True},
    {"id": "o2", "town": TOWN, "background": "veteran", "active": False},
    {"id": "o3", "town": "foshan/nanhai/dali", "background": "village_cadre", "active": True},
]
SUMMARIES = [
    ("no reports", [], {TOWN: (2, 1, 0, 0, 0, {})}),
    (
        "the seed's Shiwan report",
        [("o1", "closed", ["admonition_talk", "restitution", "reassigned"])],
        {TOWN: (2, 1, 1, 1, 1, {"admonition_talk": 1, "reassigned": 1, "restitution": 1})},
    ),
    ("received is not yet a case", [("o2", "received", None)], {TOWN: (2, 1, 1, 0, 0, {})}),
    (
        "a report of someone not on the roster is not counted",
        [("o9", "closed", ["unfounded"])],
        {TOWN: (2, 1, 0, 0, 0, {})},
    ),
]


@pytest.mark.parametrize("label, reports, expected", SUMMARIES, ids=[s[0] for s in SUMMARIES])
def test_town_summary(label, reports, expected):
    rows = {r["town"]: r for r in observers.town_summary(iter(ROSTER), reports)}
    for town, (count, active, sent, led, closed, outcomes) in expected.items():
        row = rows[town]
        assert (
            row["observers"],
            row["active"],
            row["reports"],
            row["led_to_case"],
            row["closed"],
            row["outcomes"],
        ) == (count, active, sent, led, closed, outcomes)
    assert rows[TOWN]["by_background"] == {"merchant": 1, "veteran": 1}
    assert set(rows) == {TOWN, "foshan/nanhai/dali"}
    assert not any("o1" in str(r) or "o2" in str(r) for r in rows.values())  # counts, not people
