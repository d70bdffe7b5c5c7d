"""Duties as stored: added as cases move, met by moves and delivered notifications, swept into
missed once past due, listed for supervisors (GET /v1/duties and the workspace page).

Every write is idempotent: a duty's id is `duties.Duty.key`, and each state change is a
conditional update on the state it leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError

from shared.auth import Principal, jurisdiction_within
from shared.times import from_ms, to_ms

from . import counters, duties
from .documents import DutyDoc
from .errors import Forbidden, UnknownJurisdiction
from .registry import Registry

_TIMES = ("start_at", "due_at", "met_at", "failed_at")  # epoch milliseconds in the documents


def collection():
    return DutyDoc._get_collection()


def _read(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored duty with its times as aware datetimes (None where not set)."""
    return {**doc, **{name: from_ms(doc.get(name)) for name in _TIMES}}


def add(case: Mapping[str, Any], items: Iterable[duties.Duty], now: datetime) -> int:
    """Store the case's new duties (those stored before are left as they are); how many were new."""
    return add_many([(case, items)], now)


def add_many(pairs: Iterable[tuple[Mapping[str, Any], Iterable[duties.Duty]]], now: datetime) -> int:
    """`add` for several cases in one write."""
    docs = []
    for case, items in pairs:
        for duty in items:
            docs.append(_duty_doc(case, duty, now))
    if not docs:
        return 0
    try:
        collection().insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return len(docs) - len(errors)
    return len(docs)


def _duty_doc(case: Mapping[str, Any], duty: duties.Duty, now: datetime) -> dict[str, Any]:
    met = duty.met_at
    return {
        "_id": duty.key(case["_id"]), "case_id": case["_id"], "clue_id": duty.clue_id,
        "kind": duty.kind, "unit": case["unit"], "jurisdiction": case["jurisdiction"],
        "state": duties.state_when_met(duty.due_at, met) if met else "due",
        "start_at": to_ms(duty.start), "due_at": to_ms(duty.due_at), "met_at": to_ms(met),
        "failed_at": None, "failure": None, "channel": None, "created_at": now,
    }


def follow_case(case_id: str, unit: str) -> None:
    """The case moved to `unit`: its duties are now that unit's (the unit it left sees none of
    them, as it sees not the case)."""
    collection().update_many({"case_id": {"$eq": case_id}}, {"$set": {"unit": unit}})


def meet(
    duty: Mapping[str, Any], at: datetime, registry: Registry, channel: str | None = None
) -> str | None:
    """Mark an open duty (as `open_duties` gives it) met at `at` (missed if late: then it counts);
    its new state, or None if it was met already."""
    state = duties.state_when_met(duty["due_at"], at)
    changes = {"met_at": to_ms(at), "state": state, **({"channel": channel} if channel else {})}
    done = collection().update_one({"_id": duty["_id"], "met_at": None}, {"$set": changes})
    if not done.modified_count:
        return None
    if state == "missed":
        counters.record([missed_fact(duty, registry)])
    return state


def fail(duty: Mapping[str, Any], at: datetime, reason: str, channel: str | None) -> None:
    """A notification for an open duty failed: the duty stays open and shows why."""
    collection().update_one(
        {"_id": duty["_id"], "met_at": None},
        {"$set": {"failed_at": to_ms(at), "failure": reason, "channel": channel}},
    )


def open_duties(clue_id: str, kinds: Iterable[str]) -> list[dict[str, Any]]:
    """The clue's duties of these kinds not met yet, oldest first, their times as datetimes."""
    found = collection().find({"clue_id": {"$eq": clue_id}, "met_at": None})
    wanted = set(kinds)
    return sorted((_read(d) for d in found if d["kind"] in wanted), key=lambda d: d["start_at"])


def missed_fact(duty: Mapping[str, Any], registry: Registry) -> counters.Fact:
    return counters.Fact(
        f"{duty['_id']}:missed",
        duty["due_at"],
        {"received": duty["jurisdiction"], "handled": counters.unit_jurisdiction(registry, duty["unit"])},
        {"duties_missed": 1},
    )


def sweep_missed(now: datetime, registry: Registry, batch: int = 500) -> int:
    """Open duties past due become missed (and are counted once); how many."""
    found = list(collection().find({"state": {"$eq": "due"}, "due_at": {"$lt": to_ms(now)}}).limit(batch))
    turned = []
    for duty in found:
        still_due = {"_id": duty["_id"], "state": {"$eq": "due"}}
        if collection().update_one(still_due, {"$set": {"state": "missed"}}).modified_count:
            turned.append(_read(duty))
    counters.record(missed_fact(d, registry) for d in turned)
    return len(turned)


# ---- the read side ---------------------------------------------------------------------------


def _units(principal: Principal, registry: Registry, jurisdiction: str | None) -> list[str] | None:
    scope = jurisdiction or (principal.scope if principal.role == "supervisor" else None)
    if principal.role == "supervisor" and not jurisdiction_within(scope or "", principal.scope):
        raise Forbidden("that jurisdiction is outside yours")
    if scope is None:
        return None
    if registry.jurisdiction(scope) is None:
        raise UnknownJurisdiction("unknown jurisdiction")
    return list(registry.units_within(scope))


def state_filters(state: str | None, now: datetime) -> list[dict[str, Any]]:
    """Filters a duty in `state` passes if it passes any (indexed on state and due date)."""
    now_ms = to_ms(now)
    if state == "due":
        return [{"state": {"$eq": "due"}, "due_at": {"$gte": now_ms}}]
    if state == "missed":
        return [{"state": {"$eq": "missed"}}, {"state": {"$eq": "due"}, "due_at": {"$lt": now_ms}}]
    if state == "met":
        return [{"state": {"$eq": "met"}}]
    return [{}]


def view(stored: Mapping[str, Any], now: datetime, registry: Registry | None = None) -> dict[str, Any]:
    duty = _read(stored)
    unit = registry.unit(duty["unit"]) if registry else None
    return {
        "duty_id": duty["_id"], "case_id": duty["case_id"], "clue_id": duty["clue_id"],
        "kind": duty["kind"], "kind_label": duties.LABELS.get(duty["kind"], duty["kind"]),
        "state": duties.state_now(duty["state"], duty["due_at"], now),
        "due_at": duty["due_at"], "met_at": duty["met_at"],
        "unit": duty["unit"], "unit_name": unit.name if unit else None,
        "jurisdiction": duty["jurisdiction"], "failure": duty.get("failure"),
        "failed_at": duty["failed_at"], "channel": duty.get("channel"),
    }


def list_duties(
    principal: Principal, registry: Registry, now: datetime, *, jurisdiction: str | None = None,
    state: str | None = None, limit: int = 50, cursor: str | None = None,
) -> dict[str, Any]:
    """`{"items", "next"}` of the duties of cases handled under the jurisdiction, newest first."""
    units = _units(principal, registry, jurisdiction)
    base: dict[str, Any] = {} if units is None else {"unit": {"$in": units}}
    if cursor:
        base["_id"] = {"$lt": cursor}
    found: dict[str, dict[str, Any]] = {}
    for extra in state_filters(state, now):
        for doc in collection().find({**base, **extra}).sort("_id", -1).limit(limit + 1):
            found[doc["_id"]] = doc
    docs = sorted(found.values(), key=lambda d: d["_id"], reverse=True)[: limit + 1]
    page = docs[:limit]
    return {"items": [view(d, now, registry) for d in page],
            "next": page[-1]["_id"] if len(docs) > limit else None}


def count(principal: Principal, registry: Registry, now: datetime, state: str) -> int:
    """How many duties in `state` the principal's jurisdiction has (ids read through indexes)."""
    units = _units(principal, registry, None)
    base: dict[str, Any] = {} if units is None else {"unit": {"$in": units}}
    found = (collection().find({**base, **extra}, {"_id": 1}) for extra in state_filters(state, now))
    return sum(1 for cursor in found for _ in cursor)


def case_duties(case_id: str, now: datetime, registry: Registry | None = None) -> list[dict[str, Any]]:
    """A case's duties, by due date (for the case detail)."""
    docs = sorted(collection().find({"case_id": {"$eq": case_id}}), key=lambda d: d["due_at"])
    return [view(d, now, registry) for d in docs]
