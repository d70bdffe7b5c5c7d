"""What a case's moves leave behind besides the case: its duties and the statistics counters.

The handlers call one function here per step (a case opened, a clue linked, an escalation or
supervision recorded, a case overdue, closed, routed out of triage), the consumer one per
clue-notified event, the scheduler `sweep` each round. Each is idempotent (see duty_store.py and
counters.py), so a handler run twice records nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared import events
from shared.times import to_ms

from . import counters, duties, duty_store, review, statistics
from .store import case_store

log = logging.getLogger(__name__)


def real_name(data: Mapping[str, Any]) -> bool:
    """A clue with a real-name reporter (whether the reporter gave a name, never who): intake's
    `anonymous` flag, else whether a sealed contact came with it."""
    if data.get("anonymous") is not None:
        return not data["anonymous"]
    return bool(data.get("reporter_contact_sealed"))


def received_at(data: Mapping[str, Any]) -> datetime:
    """When the clue was received: its original date for an imported old clue (大起底/回头看)."""
    return data.get("original_received_at") or data["received_at"]


def _clue_ids(case: Mapping[str, Any]) -> list[str]:
    return [case["clue_id"], *(case.get("linked_clue_ids") or [])]


def _received_fact(case: Mapping[str, Any], clue_id: str, at: datetime, registry) -> counters.Fact:
    return counters.Fact(f"{case['_id']}:received:{clue_id}", at, counters.where(case, registry),
                         statistics.received_fields())


def clock_start(case: Mapping[str, Any]) -> datetime:
    """Where days to accept and to close start: the receipt, or for an imported old clue its import
    (how long it took then is not known; its original date still places it in the statistics)."""
    return case.get("imported_at") or case["received_at"]


def _accepted_fact(case: Mapping[str, Any], accepted: datetime, registry) -> counters.Fact:
    return counters.Fact(f"{case['_id']}:accepted", accepted, counters.where(case, registry),
                         statistics.accepted_fields(clock_start(case), accepted))


def cases_opened(stored: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]], ctx) -> None:
    """New cases (each with its clue-received data): their clues' duties; received and accepted."""
    registry, now = ctx.registry(), ctx.clock()
    pairs, facts = [], []
    for case, data in stored:
        # duties run from intake's receipt (an imported old clue's too); statistics use the
        # clue's original date (the case's received_at)
        start = data["received_at"]
        triage = bool(case.get("triage_reason"))
        pairs.append((case, duties.opening(case["clue_id"], start, real_name(data), triage, ctx.deadlines)))
        facts.append(_received_fact(case, case["clue_id"], case["received_at"], registry))
        if case.get("accepted_at"):
            facts.append(_accepted_fact(case, case["accepted_at"], registry))
    duty_store.add_many(pairs, now)
    counters.record(facts)
    review.remember_batches((data for _case, data in stored), now)


def clue_linked(case: Mapping[str, Any], data: Mapping[str, Any], ctx) -> None:
    """A repeat clue joined an open case: its own reporter's duties; one more clue received."""
    registry, clue = ctx.registry(), data["clue_id"]
    opening = duties.opening(clue, data["received_at"], real_name(data), False, ctx.deadlines)
    duty_store.add(case, opening, ctx.clock())
    counters.record([_received_fact(case, clue, received_at(data), registry)])


def clue_seen_again(case_id: str, data: Mapping[str, Any], ctx) -> None:
    """A clue whose case exists came again (a redelivery, or a retry after a failure between the
    case's write and this module's): record its duties and counts again; what exists stays."""
    case = case_store().get(case_id, {"outbox": 0, "opening_audit": 0})
    if case is None:
        return
    if case["clue_id"] == data["clue_id"]:
        cases_opened([(case, data)], ctx)
    else:
        clue_linked(case, data, ctx)


def escalation_recorded(
    case: Mapping[str, Any], entry_id: str, from_unit: str, to_unit: str, mode: str,
    reasons: Iterable[str], at: datetime, ctx,
) -> None:
    """An escalation (counted at the level it left) or a supervision; a move's transfer duties."""
    registry = ctx.registry()
    where = {"received": case["jurisdiction"], "handled": counters.unit_jurisdiction(registry, from_unit)}
    counters.record([counters.Fact(f"escalation:{entry_id}", at, where,
                                   statistics.escalation_fields(mode, reasons))])
    if mode == "direct_investigation":
        duty_store.follow_case(case["_id"], to_unit)
        moved = {**case, "unit": to_unit}
        duty_store.add(moved, duties.moved(_clue_ids(case), at, ctx.deadlines), ctx.clock())


def case_overdue(case: Mapping[str, Any], at: datetime, ctx) -> None:
    """The case passed its deadline (counted once per deadline)."""
    # a fact's id keeps the epoch-ms stamp it always had: a repeat must find the fact stored before
    counters.record([counters.Fact(f"{case['_id']}:overdue:{to_ms(case['due_at'])}", at,
                                   counters.where(case, ctx.registry()), {"overdue": 1})])


def case_closed(case: Mapping[str, Any], ctx) -> None:
    """Closed: every clue's reporter is owed the result; closed by disposition and outcome."""
    closed = case["closed_at"]
    duty_store.add(case, duties.closing(_clue_ids(case), closed, ctx.deadlines), ctx.clock())
    fields = statistics.closed_fields(clock_start(case), closed, case.get("disposition"),
                                      case.get("outcomes") or [])
    counters.record([counters.Fact(f"{case['_id']}:closed:{to_ms(closed)}", closed,
                                   counters.where(case, ctx.registry()), fields)])


def case_routed(case: Mapping[str, Any], at: datetime, ctx) -> None:
    """A triage case was routed to a unit: its transfer duties are met, it is accepted."""
    registry = ctx.registry()
    duty_store.follow_case(case["_id"], case["unit"])
    for clue in _clue_ids(case):
        for duty in duty_store.open_duties(clue, ("transfer",)):
            duty_store.meet(duty, at, registry)
    counters.record([_accepted_fact(case, at, registry)])


def notified(event: events.Event, ctx) -> None:
    """Notify delivered (or gave up on) a notification: meet (or mark) the duties it serves."""
    data = event.data
    kinds = duties.duties_met_by(data["kind"])
    if not kinds:
        return
    registry, at = ctx.registry(), data["at"]
    for duty in duty_store.open_duties(data["clue_id"], kinds):
        if data["outcome"] != "delivered":
            duty_store.fail(duty, at, data.get("reason") or "failed", data.get("channel"))
            continue
        if duty["start_at"] > at:
            continue  # a duty that started after this notification was made
        duty_store.meet(duty, at, registry, data.get("channel"))
        if duty["kind"] == "still_handling" and data["kind"] != "closed":
            case = {"_id": duty["case_id"], "unit": duty["unit"], "jurisdiction": duty["jurisdiction"]}
            duty_store.add(case, [duties.next_quiet_period(duty["clue_id"], at, ctx.deadlines)], ctx.clock())


def sweep(ctx) -> int:
    """Open duties past due become missed and count; how many."""
    return duty_store.sweep_missed(ctx.clock(), ctx.registry())
