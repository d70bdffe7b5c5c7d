"""Integrity observers (廉情观察员): rules in plain Python.

An observer is a trusted citizen of one town (a veteran party member, village cadre, village
representative, merchant or veteran) with exactly one liaison cadre (专人一对一). The liaison
posts what the observer passes on with the observer's key, as a clue with source `observer`.

Who the observer is (name, contact) is sealed as a reporter's identity is (shared.sealing) and
never leaves intake: not in events, logs, errors, or any answer. Supervisors see counts per
town and what came of the reports, never the person.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from services.intake.cards import LED_TO_CASE
from shared.vocabulary import OBSERVER_BACKGROUNDS

SOURCE = "observer"
# What a report may say; the source, the reporter and (by default) the place come from the observer.
REPORT_FIELDS = frozenset(
    {
        "category",
        "summary",
        "details",
        "jurisdiction",
        "occurred_on",
        "amount_cny",
        "collusion",
        "subject",
        "parties",
    }
)


def key_digest(token: str) -> str:
    """How an observer key is stored and looked up (the key is random: a fast hash is right)."""
    return "obs:" + hashlib.sha256(token.strip().encode()).hexdigest()


def within(code: str, ancestor: str) -> bool:
    """True when jurisdiction `code` is `ancestor` or below it."""
    return code == ancestor or code.startswith(ancestor.rstrip("/") + "/")


def liaison_problem(liaison_place: str | None, town: str) -> str | None:
    """Why a cadre cannot be an observer's liaison (None: they can): the liaison is a cadre of the
    registry whose unit serves the town or a level above it (专人一对一)."""
    if liaison_place is None:
        return "Not a known cadre."
    if not within(town, liaison_place):
        return "Not a cadre of the town or of a level above it."
    return None


def report_clue(report: Mapping[str, Any], town: str) -> dict[str, Any]:
    """The POST /v1/clues body an observer's report stands for: source `observer`, the town as
    jurisdiction unless the report names a place inside it, and no reporter identity (the
    observer is reached through the liaison). ValueError names unknown fields or a place
    outside the observer's town."""
    unknown = sorted(set(report) - REPORT_FIELDS)
    if unknown:
        raise ValueError(", ".join(unknown))
    place = report.get("jurisdiction") or town
    if not isinstance(place, str) or not within(place, town):
        raise ValueError("jurisdiction")
    return {**report, "source": SOURCE, "jurisdiction": place, "reporter": {"anonymous": True}}


def town_summary(
    observers: Iterable[Mapping[str, Any]], reports: Iterable[tuple[str, str, list[str] | None]]
) -> list[dict[str, Any]]:
    """Counts per town, without any person: observers by background, reports, reports that led
    to a case, closed ones and their outcomes. `observers` are {"id", "town", "background",
    "active"}; `reports` are (observer id, clue status, outcomes or None)."""
    observers = list(observers)
    town_of = {o["id"]: o["town"] for o in observers}
    rows: dict[str, dict[str, Any]] = {}

    def row(town: str) -> dict[str, Any]:
        return rows.setdefault(
            town,
            {
                "town": town,
                "observers": 0,
                "active": 0,
                "by_background": Counter(),
                "reports": 0,
                "led_to_case": 0,
                "closed": 0,
                "outcomes": Counter(),
            },
        )

    for o in observers:
        r = row(o["town"])
        r["observers"] += 1
        r["active"] += bool(o.get("active", True))
        r["by_background"][o["background"]] += 1
    for observer_id, status, outcomes in reports:
        if observer_id not in town_of:
            continue
        r = row(town_of[observer_id])
        r["reports"] += 1
        r["led_to_case"] += status in LED_TO_CASE
        if outcomes is not None:
            r["closed"] += 1
            r["outcomes"].update(set(outcomes))
    return [
        {
            **r,
            "by_background": {
                b: r["by_background"][b] for b in OBSERVER_BACKGROUNDS if r["by_background"][b]
            },
            "outcomes": dict(sorted(r["outcomes"].items())),
        }
        for _town, r in sorted(rows.items())
    ]
