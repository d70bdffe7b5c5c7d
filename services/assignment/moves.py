"""Use cases that move a case up or put it under watch: escalation (提级直查) by the rules or by
hand, supervision (重点督办) by hand or for an overdue case, and the scheduler's deadline round."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from shared.auth import Principal

from . import deadlines, escalation, tracking
from .access import ensure_visible
from .context import MAX_ATTEMPTS, SYSTEM, Context, subject_cadres
from .escalation import Subject
from .model import OPEN_STATUSES, BadDeadline, Case, CaseBusy, CaseClosed, CaseNotFound, InTriage
from .queueing import drain
from .registry import Registry
from .store import case_store, escalation_entry
from .workload import choose_lead, claim_cadre, release_lead

log = logging.getLogger(__name__)


def _decision(
    doc: dict[str, Any], reasons: list[str], registry: Registry, to_unit: str | None = None
) -> escalation.Escalation:
    decision = (
        escalation.Escalation(to_unit, "direct_investigation", escalation.sort_reasons(reasons))
        if to_unit
        else escalation.target_unit(doc["unit"], reasons, registry)
    )
    assert decision is not None
    if decision.mode == "supervised":
        return decision
    subject = Subject(doc["subject_name"], doc.get("subject_employer"), doc.get("subject_rank"))
    to_unit, codes = decision.to_unit, list(decision.reasons)
    while registry.level_of(to_unit) != "city" and escalation.conflicted_with(subject, to_unit, registry):
        to_unit = registry.parent_unit(to_unit) or registry.city_unit()
        codes = list(escalation.sort_reasons([*codes, "conflict"]))
    return escalation.Escalation(to_unit, decision.mode, tuple(codes))


def escalated_due(doc: dict[str, Any], now: datetime, ctx: Context) -> datetime:
    """The deadline a case gets when it moves: the rule's (from now), but a review clue (回头看)
    keeps its 限期处置 deadline (its batch's or the campaign's) when that is earlier."""
    rule = deadlines.due_at(now, doc["category"], "", ctx.deadlines)
    if doc.get("source") == "review":
        return deadlines.earlier(doc.get("due_at"), rule)
    return rule


def record_escalation(
    doc: dict[str, Any],
    from_unit: str,
    to_unit: str,
    mode: str,
    reasons: Iterable[str],
    at: datetime,
    actor: str,
    note: str | None = None,
    due_at: datetime | None = None,
    *,
    ctx: Context,
) -> None:
    """Log one move or supervision of the case and its audit line, and what it leaves behind
    besides the case (duties, statistics: tracking.py)."""
    reasons = list(reasons)
    entry = escalation_entry(doc, from_unit, to_unit, mode, reasons, at, actor, note, due_at)
    if case_store().add_escalation(entry):
        tracking.escalation_recorded(doc, entry["_id"], from_unit, to_unit, mode, reasons, at, ctx)
    case_store().audit(
        doc["_id"], actor, "escalated" if mode == "direct_investigation" else "supervised", at,
        from_unit=from_unit, to_unit=to_unit, mode=mode, reasons=reasons, **({"note": note} if note else {}),
    )


def _load_movable(case_id: str, guard: Callable[[dict[str, Any]], bool] | None) -> dict[str, Any] | None:
    doc = case_store().get(case_id)
    if doc is None:
        raise CaseNotFound("no such case")
    if doc["status"] == "closed":
        raise CaseClosed("the case is closed")
    if guard is not None and not guard(doc):
        return None
    return doc


def move_case(
    case_id: str,
    reasons: list[str],
    actor: str,
    ctx: Context,
    note: str | None = None,
    guard: Callable[[dict[str, Any]], bool] | None = None,
    decided: escalation.Escalation | None = None,
    to_unit: str | None = None,
) -> dict[str, Any] | None:
    """Escalate a case for `reasons` (one level up, or where `decided` says, or to `to_unit`: a
    network's covering unit, relmap.py; at the city: supervised there instead).

    The move is one conditional write; a losing concurrent mover gives its claimed slot back and
    re-reads the case, so each transition happens once. `guard` (re-checked on every read) says
    whether the move is still wanted; None is returned when it is not.
    """
    registry = ctx.registry()
    for _ in range(MAX_ATTEMPTS):
        doc = _load_movable(case_id, guard)
        if doc is None:
            return None
        if doc.get("triage_reason") or registry.unit(doc["unit"]) is None:
            raise InTriage("the case waits in triage; route it first")
        decision = decided or _decision(doc, reasons, registry, to_unit)
        if decision.mode == "supervised":
            updated = _supervise_at_city(doc, decision, actor, note, ctx)
        else:
            updated = _move_up(doc, decision, actor, note, ctx, registry)
        if updated is not None:
            return updated
    raise CaseBusy("the case kept changing; try again")


def _supervise_at_city(doc, decision, actor, note, ctx) -> dict[str, Any] | None:
    now = ctx.clock()
    transition = Case(doc).supervise(decision.to_unit, decision.reasons, now, escalated_due(doc, now, ctx))
    updated = case_store().save(doc, transition)
    if updated is None:
        return None
    ctx.wake(updated)
    case_store().audit_lines(doc["_id"], actor, now, transition.audit)
    record_escalation(
        doc, doc["unit"], decision.to_unit, "supervised", decision.reasons, now, actor, note, ctx=ctx
    )
    return updated


def _move_up(doc, decision, actor, note, ctx, registry) -> dict[str, Any] | None:
    now, new_unit = ctx.clock(), decision.to_unit
    excluded = subject_cadres(registry, new_unit, doc.get("subject_name"))
    slot = claim_cadre(new_unit, now, doc["_id"], excluded)
    cadre = slot[0] if slot else None
    lead = choose_lead(new_unit, now, ({cadre} - {None}) | excluded)
    transition = Case(doc).escalate_to(
        new_unit, decision.reasons, decision.mode, cadre, lead, escalated_due(doc, now, ctx), now
    )
    released = (
        doc.get("cadre_id") if doc.get("holds_slot") else None,
        doc.get("lead_cadre_id") if doc.get("holds_lead") else None,
    )
    updated = case_store().save(doc, transition, slot=slot, release=released, now=now)
    if updated is None:
        release_lead(lead)
        return None
    ctx.wake(updated)
    record_escalation(
        doc, doc["unit"], new_unit, decision.mode, decision.reasons, now, actor, note, ctx=ctx
    )
    case_store().audit_lines(doc["_id"], SYSTEM, now, transition.audit)
    if doc.get("holds_slot"):
        drain(doc["unit"], ctx)
    if cadre is None:
        drain(new_unit, ctx)
    return updated


def escalate_case(case_id: str, principal: Principal, reason: str, ctx: Context) -> dict[str, Any]:
    """Manual escalation by a supervisor whose jurisdiction covers the case."""
    doc = case_store().get(case_id, {"unit": 1, "escalation_reasons": 1})
    if doc is None:
        raise CaseNotFound("no such case")
    ensure_visible(doc, principal, ctx.registry())
    updated = move_case(case_id, ["manual"], principal.actor, ctx, note=reason)
    assert updated is not None
    return updated


def supervisor_unit(principal: Principal, registry: Registry) -> str:
    """The unit a supervisor watches for: the commission of their jurisdiction (or the city's)."""
    return registry.unit_for_jurisdiction(principal.scope) or registry.city_unit()


def supervise_case(
    case_id: str, principal: Principal, note: str, due: datetime | None, ctx: Context
) -> dict[str, Any]:
    """重点督办 by hand: a supervisor whose jurisdiction covers the case's unit marks it supervised
    by their unit, optionally with an earlier deadline; the case stays with its unit."""
    registry = ctx.registry()
    watcher = supervisor_unit(principal, registry)
    for _ in range(MAX_ATTEMPTS):
        doc = case_store().get(case_id)
        if doc is None:
            raise CaseNotFound("no such case")
        ensure_visible(doc, principal, registry, hide_with=CaseNotFound)
        now = ctx.clock()
        if due is not None and due <= now:
            raise BadDeadline("the deadline must be in the future")
        transition = Case(doc).supervise(watcher, ("manual",), now, due, shorten_only=True)
        updated = case_store().save(doc, transition, {"status": {"$in": list(OPEN_STATUSES)}})
        if updated is None:
            continue
        ctx.wake(updated)
        case_store().audit_lines(case_id, principal.actor, now, transition.audit)
        record_escalation(
            doc,
            doc["unit"],
            watcher,
            "supervised",
            ("manual",),
            now,
            principal.actor,
            note,
            updated["due_at"],
            ctx=ctx,
        )
        return updated
    raise CaseBusy("the case kept changing; try again")


def supervise_overdue(doc: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """First step for an overdue case: supervised by the level above (重点督办), once."""
    now = ctx.clock()
    if (
        deadlines.overdue_transition(
            doc["status"], doc["due_at"], doc.get("supervised_at"), now, ctx.deadlines
        )
        != "supervise"
    ):
        return None
    watcher = escalation.supervision(doc["unit"], ctx.registry())
    transition = Case(doc).supervise(watcher.to_unit, watcher.reasons, now, overdue=True)
    updated = case_store().save(doc, transition, {"supervised_at": None})
    if updated is not None:
        ctx.wake(updated)
        record_escalation(
            doc, doc["unit"], watcher.to_unit, "supervised", watcher.reasons, now, SYSTEM, ctx=ctx
        )
        tracking.case_overdue(doc, now, ctx)
    return updated


def run_deadlines(ctx: Context, batch: int = 500) -> dict[str, int]:
    """One scheduler round: supervise cases past due (those waiting in triage too), escalate those
    supervised for the grace period. Safe with several schedulers at once (every transition is a
    conditional write)."""
    now = ctx.clock()
    done = {"supervised": 0, "escalated": 0}
    grace_start = ctx.deadlines.calendar.add_days(now, -ctx.deadlines.supervision_grace_days)
    open_ = {"$in": list(OPEN_STATUSES)}
    overdue = {"status": open_, "due_at": {"$lt": now}, "supervised_at": None}
    for doc in case_store().select(overdue, limit=batch):
        if supervise_overdue(doc, ctx) is not None:
            done["supervised"] += 1
    due = {"status": open_, "supervised_at": {"$lte": grace_start}, "triage_reason": None}
    for doc in case_store().select(due, {"_id": 1}, limit=batch):

        def still_due(d: dict[str, Any]) -> bool:
            return (
                deadlines.overdue_transition(
                    d["status"],
                    d["due_at"],
                    d.get("supervised_at"),
                    ctx.clock(),
                    ctx.deadlines,
                )
                == "escalate"
            )

        try:
            if move_case(doc["_id"], ["overdue"], SYSTEM, ctx, guard=still_due) is not None:
                done["escalated"] += 1
        except (CaseClosed, InTriage, CaseBusy) as exc:
            log.warning("overdue escalation skipped", extra={"case_id": doc["_id"], "error": str(exc)})
    return done
