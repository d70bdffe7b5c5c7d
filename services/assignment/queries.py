"""Read side: case lists and details by scope, workload per cadre, quarterly statistics.

Every read of a case by a person is appended to that case's audit trail.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from shared.auth import Principal

from . import duty_store, reports, workload_store
from .access import ensure_visible, may_see
from .documents import OPEN_STATUSES
from .errors import Forbidden, NotFound
from .model import ALLEGATION_FIELDS, CaseNotFound
from .registry import Registry
from .store import case_store

CASE_FIELDS = (
    "clue_id",
    "linked_clue_ids",
    "status",
    "unit",
    "cadre_id",
    "lead_cadre_id",
    "due_at",
    "received_at",
    "category",
    "source",
    "jurisdiction",
    "routed_unit",
    "route_mode",
    "triage_reason",
    "serious",
    "watched_by",
    "escalation_reasons",
    "accepted_at",
    "assigned_at",
    "supervised_at",
    "closed_at",
    "disposition",
    "outcomes",
    "reporter_summary",
    "reopened_at",
    "subject_name",
    "subject_employer",
    "subject_rank",
    "subject_position",
    "amount_cny",
    "collusion",
    "amount_total_cny",
    "review",
)


def case_view(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A case as the API shows it (never anything about the reporter: nothing is stored)."""
    out = {"case_id": doc["_id"], **{k: doc.get(k) for k in CASE_FIELDS}}
    out["linked_clue_ids"] = list(doc.get("linked_clue_ids") or [])
    if out["amount_total_cny"] is None:
        out["amount_total_cny"] = doc.get("amount_cny")
    out["review"] = bool(doc.get("review"))
    out["overdue"] = doc["status"] in OPEN_STATUSES and doc["due_at"] < now
    return out


def _record_reads(docs: list[dict[str, Any]], principal: Principal, action: str, now: datetime) -> None:
    case_store().record_reads([d["_id"] for d in docs], principal.actor, action, now)


def scope_filters(
    principal: Principal, registry: Registry, unit: str | None, cadre: str | None
) -> list[dict]:
    """The cases a principal may list, as filters a case passes if it passes any: a cadre's own
    (those they handle, and those they lead: two indexed reads, where one `$or` would be read in
    Python over every case on nx-27017), a supervisor those of units under their jurisdiction,
    an admin all."""
    query: dict[str, Any] = {}
    if principal.role == "supervisor":
        allowed = list(registry.units_within(principal.scope))
        if unit is not None and unit not in allowed:
            raise Forbidden("that unit is outside your jurisdiction")
        query["unit"] = {"$in": allowed}
    if unit is not None:
        query["unit"] = unit
    if cadre is not None:
        query["cadre_id"] = cadre
    if principal.role != "cadre":
        return [query]
    handled = {**query, "cadre_id": principal.scope} if cadre in (None, principal.scope) else None
    led = {**query, "lead_cadre_id": principal.scope}
    return [q for q in (handled, led) if q is not None]


def list_cases(
    principal: Principal,
    registry: Registry,
    now: datetime,
    *,
    status: str | None = None,
    unit: str | None = None,
    cadre: str | None = None,
    overdue: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """`{"items", "next"}`, newest first; every listed case gets a `listed` audit entry."""
    narrow: dict[str, Any] = {}
    if status is not None:
        narrow["status"] = status
    if overdue:
        narrow["due_at"] = {"$lt": now}
        if status is None:
            narrow["status"] = {"$in": list(OPEN_STATUSES)}
        elif status not in OPEN_STATUSES:
            return {"items": [], "next": None}
    if cursor:
        narrow["_id"] = {"$lt": cursor}
    found: dict[str, dict[str, Any]] = {}
    for query in scope_filters(principal, registry, unit, cadre):
        # each filter's newest limit + 1 hold the newest limit + 1 of them all
        for doc in case_store().select({**query, **narrow}, {"outbox": 0}, ("_id", -1), limit + 1):
            found[doc["_id"]] = doc
    docs = sorted(found.values(), key=lambda d: d["_id"], reverse=True)[: limit + 1]
    page, more = docs[:limit], len(docs) > limit
    _record_reads(page, principal, "listed", now)
    return {"items": [case_view(d, now) for d in page], "next": page[-1]["_id"] if more else None}


def case_detail(case_id: str, principal: Principal, registry: Registry, now: datetime) -> dict[str, Any]:
    """The case with its unit, cadres, escalation history and audit trail; the read is audited."""
    doc = case_store().get(case_id, {"outbox": 0})
    if doc is None:
        raise CaseNotFound("no such case")
    ensure_visible(doc, principal, registry)
    case_store().record_reads([case_id], principal.actor, "read", now)
    out = case_view(doc, now)
    unit = registry.unit(doc["unit"])
    out["unit_name"] = unit.name if unit else None
    out["cadres"] = [
        {"id": c.id, "name": c.name, "role": role}
        for role, cid in (("cadre", doc.get("cadre_id")), ("lead_cadre", doc.get("lead_cadre_id")))
        if cid and (c := registry.cadre(cid))
    ]
    out["escalations"] = [
        {
            "from_unit": e["from_unit"],
            "to_unit": e["to_unit"],
            "mode": e["mode"],
            "reasons": list(e.get("reasons") or []),
            "at": e["at"],
            "actor": e.get("actor"),
            "note": e.get("note"),
        }
        for e in case_store().escalations_of(case_id)
    ]
    out["duties"] = duty_store.case_duties(case_id, now, registry)  # what the case owes, by when
    out.update(allegations(doc))
    out["follow_ups"] = case_store().follow_ups(case_id)
    trail = [*(doc.get("opening_audit") or []), *case_store().audit_of(case_id)]
    entries = sorted(trail, key=lambda a: a["at"])
    out["audit"] = [
        {"at": a["at"], "actor": a["actor"], "action": a["action"], **(a.get("details") or {})}
        for a in entries
    ]
    return out


def triage_cases(
    principal: Principal, registry: Registry, now: datetime, limit: int = 500
) -> list[dict[str, Any]]:
    """Cases waiting in triage for a person to route, oldest first (those in scope only)."""
    waiting = {"route_mode": "triage", "status": "queued"}
    found = case_store().select(waiting, {"outbox": 0}, ("received_at", 1), limit)
    docs = [d for d in found if may_see(d, principal, registry)]
    _record_reads(docs, principal, "listed", now)
    return [case_view(d, now) for d in docs]


def supervised_cases(
    principal: Principal, registry: Registry, now: datetime, limit: int = 200
) -> list[dict[str, Any]]:
    """Open cases the supervisor's units watch (重点督办), soonest deadline first."""
    units = list(registry.units_within(principal.scope))
    found = case_store().select({"watched_by": {"$in": units}}, {"outbox": 0}, ("due_at", 1), limit)
    docs = [d for d in found if d["status"] in OPEN_STATUSES]
    _record_reads(docs, principal, "listed", now)
    return [case_view(d, now) for d in docs]


def _allegation(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if not record:
        return None
    return {name: record.get(name) for name in ALLEGATION_FIELDS}


def allegations(doc: dict[str, Any]) -> dict[str, Any]:
    """What the case's clues say: `allegation` (the opening clue; None for a case stored before
    it was kept) and `linked_clues` (each with its `clue_id`; None for one not kept)."""
    kept = case_store().clues_of(doc["_id"])
    linked = []
    for clue_id in doc.get("linked_clue_ids") or []:
        found = _allegation(kept.get(clue_id))
        linked.append({"clue_id": clue_id, **(found or dict.fromkeys(ALLEGATION_FIELDS))})
    return {"allegation": _allegation(doc.get("allegation")), "linked_clues": linked}


def workload(unit: str, principal: Principal, registry: Registry) -> dict[str, Any]:
    """Open cases, capacity and led cases per cadre of a unit, and its queue length."""
    if registry.unit(unit) is None:
        raise NotFound("no such unit")
    if principal.role == "supervisor" and not registry.is_within(unit, principal.scope):
        raise Forbidden("that unit is outside your jurisdiction")
    open_by_cadre = Counter(
        d.get("cadre_id")
        for d in case_store().select({"unit": unit, "status": {"$in": list(OPEN_STATUSES)}}, {"cadre_id": 1})
    )
    cadres = [
        {
            "cadre_id": c.id,
            "name": c.name,
            "role": c.role,
            "active": c.active,
            "capacity": c.capacity,
            "load": c.load,
            "open_cases": open_by_cadre.get(c.id, 0),
            "leads": c.leads,
        }
        for c in workload_store.roster(unit)
    ]
    return {
        "unit": unit,
        "cadres": cadres,
        "queued": open_by_cadre.get(None, 0),
        "capacity": sum(c["capacity"] for c in cadres if c["active"]),
    }


def stats(
    principal: Principal,
    registry: Registry,
    now: datetime,
    jurisdiction: str | None,
    start: datetime | None,
    end: datetime | None,
    quarter: str | None = None,
) -> dict[str, Any]:
    """The quarterly figures of DOMAIN.md, per child jurisdiction (reports.py, from counters)."""
    return reports.report(principal, registry, now, jurisdiction, start, end, quarter)
