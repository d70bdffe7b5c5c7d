"""The events a case's transitions publish (API.md, Events): case-assigned, case-escalated,
case-closed, one per clue of the case, built from the case as stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared import events

SOURCE = "/services/assignment"


def assigned_event(doc: dict[str, Any], clue_id: str, now: datetime) -> dict[str, Any]:
    """case-assigned for one clue of the case as it is in `doc`."""
    if doc.get("review"):
        status = "reopened"
    else:
        status = "queued" if doc.get("cadre_id") is None else "assigned"
    data = {
        "case_id": doc["_id"],
        "clue_id": clue_id,
        "unit": doc["unit"],
        "cadre_id": doc.get("cadre_id"),
        "lead_cadre_id": doc.get("lead_cadre_id"),
        "due_at": doc["due_at"],
        "assigned_at": doc.get("assigned_at") or now,
        "status": status,
    }
    if doc.get("triage_reason"):
        data["reason"] = doc["triage_reason"]
    return events.make_event(events.CASE_ASSIGNED, data, source=SOURCE, at=now)


def escalated_event(
    doc: dict[str, Any],
    clue_id: str,
    from_unit: str,
    to_unit: str,
    mode: str,
    reasons: Iterable[str],
    now: datetime,
) -> dict[str, Any]:
    data = {
        "case_id": doc["_id"],
        "clue_id": clue_id,
        "from_unit": from_unit,
        "to_unit": to_unit,
        "mode": mode,
        "reasons": list(reasons),
        "escalated_at": now,
    }
    return events.make_event(events.CASE_ESCALATED, data, source=SOURCE, at=now)


def closed_event(doc: dict[str, Any], clue_id: str, now: datetime) -> dict[str, Any]:
    data = {
        "case_id": doc["_id"],
        "clue_id": clue_id,
        "disposition": doc["disposition"],
        "outcomes": list(doc["outcomes"]),
        "reporter_summary": doc["reporter_summary"],
        "closed_at": now,
    }
    return events.make_event(events.CASE_CLOSED, data, source=SOURCE, at=now)
