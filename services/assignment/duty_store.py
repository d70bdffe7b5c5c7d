"""Duties as stored: added as cases move, met by moves and delivered notifications, swept into
missed once past due, listed for supervisors (GET /v1/duties and the workspace page).

Every write is idempotent: a duty's id is `duties.Duty.key`, and each state change is a
conditional update on the state it leaves. `MongoDutyStore` is the real store, `MemoryDutyStore`
(memory_duties.py) its in-memory twin for unit tests; both take and give duties with their times
as datetimes. The module functions hold the rules (what a late duty counts, who sees which duties,
paging, the view) and act on the store in use (`duty_store()`, swapped with `use()`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.auth import Principal, jurisdiction_within
from shared.current import Current
from shared.mongo import insert_new
from shared.times import from_ms, to_ms

from . import counters, duties
from .documents import DutyDoc
from .errors import Forbidden, UnknownJurisdiction
from .registry import Registry

_TIMES = ("start_at", "due_at", "met_at", "failed_at")  # epoch milliseconds in the documents


def collection():
    """The real store's collection (`duties`)."""
    return DutyDoc._get_collection()


def stored(duty: Mapping[str, Any]) -> dict[str, Any]:
    """A duty as the database keeps it: its times in epoch milliseconds."""
    return {**duty, **{name: to_ms(duty.get(name)) for name in _TIMES}}


def from_stored(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored duty with its times as aware datetimes (None where not set)."""
    return {**doc, **{name: from_ms(doc.get(name)) for name in _TIMES}}


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


def _within(units: list[str] | None) -> dict[str, Any]:
    return {} if units is None else {"unit": {"$in": units}}


class MongoDutyStore:
    """The duties in MongoDB (`duties`, times as epoch milliseconds)."""

    def add_many(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Insert the duties (ids taken before are left as they are) in one write; how many were new."""
        docs = [stored(d) for d in items]
        if not docs:
            return 0
        return len(docs) - len(insert_new(collection(), docs))

    def follow_case(self, case_id: str, unit: str) -> None:
        """Every duty of the case is now `unit`'s."""
        collection().update_many({"case_id": {"$eq": case_id}}, {"$set": {"unit": unit}})

    def meet(self, duty_id: str, at: datetime, state: str, channel: str | None) -> bool:
        """Mark the duty met at `at` in `state` (and by `channel` if given), if not met yet;
        whether it changed."""
        changes = {"met_at": to_ms(at), "state": state, **({"channel": channel} if channel else {})}
        done = collection().update_one({"_id": duty_id, "met_at": None}, {"$set": changes})
        return bool(done.modified_count)

    def fail(self, duty_id: str, at: datetime, reason: str, channel: str | None) -> None:
        """Record a failed notification on the duty, if it is not met yet."""
        collection().update_one(
            {"_id": duty_id, "met_at": None},
            {"$set": {"failed_at": to_ms(at), "failure": reason, "channel": channel}},
        )

    def open_duties(self, clue_id: str, kinds: Iterable[str]) -> list[dict[str, Any]]:
        """The clue's duties of these kinds not met yet, oldest first."""
        found = collection().find({"clue_id": {"$eq": clue_id}, "met_at": None})
        wanted = set(kinds)
        return sorted((from_stored(d) for d in found if d["kind"] in wanted), key=lambda d: d["start_at"])

    def sweep_missed(self, now: datetime, batch: int) -> list[dict[str, Any]]:
        """Up to `batch` due duties past due turned missed, each by one conditional update: those
        this call turned."""
        found = list(collection().find({"state": {"$eq": "due"}, "due_at": {"$lt": to_ms(now)}}).limit(batch))
        turned = []
        for duty in found:
            still_due = {"_id": duty["_id"], "state": {"$eq": "due"}}
            if collection().update_one(still_due, {"$set": {"state": "missed"}}).modified_count:
                turned.append(from_stored(duty))
        return turned

    def newest(
        self, units: list[str] | None, state: str | None, now: datetime, before: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` duties of these units (None: all) in `state` at `now`, ids below `before`,
        newest (highest id) first."""
        base = _within(units)
        if before:
            base["_id"] = {"$lt": before}
        found: dict[str, dict[str, Any]] = {}
        for extra in state_filters(state, now):
            for doc in collection().find({**base, **extra}).sort("_id", -1).limit(limit):
                found[doc["_id"]] = doc
        return [from_stored(d) for d in sorted(found.values(), key=lambda d: d["_id"], reverse=True)[:limit]]

    def count(self, units: list[str] | None, state: str, now: datetime) -> int:
        """How many duties of these units are in `state` at `now` (ids read through indexes)."""
        base = _within(units)
        found = (collection().find({**base, **extra}, {"_id": 1}) for extra in state_filters(state, now))
        return sum(1 for cursor in found for _ in cursor)

    def case_duties(self, case_id: str) -> list[dict[str, Any]]:
        """A case's duties, by due date."""
        docs = sorted(collection().find({"case_id": {"$eq": case_id}}), key=lambda d: d["due_at"])
        return [from_stored(d) for d in docs]


_current: Current[Any] = Current(MongoDutyStore())


def duty_store() -> Any:
    """The duty store in use."""
    return _current.get()


def use(store: Any) -> Any:
    """Make `store` the duty store in use; returns the one it replaces."""
    return _current.use(store)


def add(case: Mapping[str, Any], items: Iterable[duties.Duty], now: datetime) -> int:
    """Store the case's new duties (those stored before are left as they are); how many were new."""
    return add_many([(case, items)], now)


def add_many(pairs: Iterable[tuple[Mapping[str, Any], Iterable[duties.Duty]]], now: datetime) -> int:
    """`add` for several cases in one write."""
    return _current.get().add_many([_duty(case, duty, now) for case, items in pairs for duty in items])


def _duty(case: Mapping[str, Any], duty: duties.Duty, now: datetime) -> dict[str, Any]:
    met = duty.met_at
    return {
        "_id": duty.key(case["_id"]), "case_id": case["_id"], "clue_id": duty.clue_id,
        "kind": duty.kind, "unit": case["unit"], "jurisdiction": case["jurisdiction"],
        "state": duties.state_when_met(duty.due_at, met) if met else "due",
        "start_at": duty.start, "due_at": duty.due_at, "met_at": met,
        "failed_at": None, "failure": None, "channel": None, "created_at": now,
    }


def follow_case(case_id: str, unit: str) -> None:
    """The case moved to `unit`: its duties are now that unit's (the unit it left sees none of
    them, as it sees not the case)."""
    _current.get().follow_case(case_id, unit)


def meet(
    duty: Mapping[str, Any], at: datetime, registry: Registry, channel: str | None = None
) -> str | None:
    """Mark an open duty (as `open_duties` gives it) met at `at` (missed if late: then it counts);
    its new state, or None if it was met already."""
    state = duties.state_when_met(duty["due_at"], at)
    if not _current.get().meet(duty["_id"], at, state, channel):
        return None
    if state == "missed":
        counters.record([missed_fact(duty, registry)])
    return state


def fail(duty: Mapping[str, Any], at: datetime, reason: str, channel: str | None) -> None:
    """A notification for an open duty failed: the duty stays open and shows why."""
    _current.get().fail(duty["_id"], at, reason, channel)


def open_duties(clue_id: str, kinds: Iterable[str]) -> list[dict[str, Any]]:
    """The clue's duties of these kinds not met yet, oldest first, their times as datetimes."""
    return _current.get().open_duties(clue_id, kinds)


def missed_fact(duty: Mapping[str, Any], registry: Registry) -> counters.Fact:
    return counters.Fact(
        f"{duty['_id']}:missed",
        duty["due_at"],
        {"received": duty["jurisdiction"], "handled": counters.unit_jurisdiction(registry, duty["unit"])},
        {"duties_missed": 1},
    )


def sweep_missed(now: datetime, registry: Registry, batch: int = 500) -> int:
    """Open duties past due become missed (and are counted once); how many."""
    turned = _current.get().sweep_missed(now, batch)
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


def view(duty: Mapping[str, Any], now: datetime, registry: Registry | None = None) -> dict[str, Any]:
    """A duty (as the store gives it) as answers show it."""
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
    found = _current.get().newest(units, state, now, cursor, limit + 1)
    page = found[:limit]
    return {"items": [view(d, now, registry) for d in page],
            "next": page[-1]["_id"] if len(found) > limit else None}


def count(principal: Principal, registry: Registry, now: datetime, state: str) -> int:
    """How many duties in `state` the principal's jurisdiction has."""
    return _current.get().count(_units(principal, registry, None), state, now)


def case_duties(case_id: str, now: datetime, registry: Registry | None = None) -> list[dict[str, Any]]:
    """A case's duties, by due date (for the case detail)."""
    return [view(d, now, registry) for d in _current.get().case_duties(case_id)]
