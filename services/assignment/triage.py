"""Use case: a city supervisor (or an admin) routes a case waiting in triage to a unit, where it
is assigned or queued under the usual capacity rules; the escalation rules then apply as they
would have to a clue routed there in the first place (so a conflict still goes up)."""

from __future__ import annotations

from typing import Any

from shared.auth import Principal

from . import escalation, tracking
from .access import ensure_visible
from .context import MAX_ATTEMPTS, SYSTEM, Context, subject_cadres
from .escalation import Subject
from .model import Case, CaseBusy, CaseForbidden, CaseNotFound, UnknownUnit
from .moves import move_case, record_escalation
from .queueing import drain
from .registry import Registry
from .routing import is_serious
from .store import case_store
from .workload import choose_lead, claim_cadre, release_lead


def _check_router(doc: dict[str, Any], principal: Principal, registry: Registry) -> None:
    ensure_visible(doc, principal, registry, hide_with=CaseNotFound)
    if principal.role == "supervisor":
        place = registry.jurisdiction(principal.scope)
        if place is None or place.level != "city":
            raise CaseForbidden("only a city supervisor may route a case in triage")


def _decide(doc: dict[str, Any], unit: str, ctx: Context) -> escalation.Escalation | None:
    """The escalation rules for the case as if its clues had been routed to `unit`."""
    related = case_store().select({"subject_key": doc["subject_key"]}, {"clue_times": 1})
    times = [t for c in related for t in c.get("clue_times") or []]
    total = doc.get("amount_total_cny")
    return escalation.decide(
        unit,
        Subject(
            doc["subject_name"], doc.get("subject_employer"), doc.get("top_rank") or doc.get("subject_rank")
        ),
        doc.get("amount_cny") if total is None else total,
        bool(doc.get("any_collusion") or doc.get("collusion")),
        escalation.count_recent(times, doc["received_at"], ctx.rules.repeat_window_days),
        ctx.registry(),
        ctx.rules,
    )


def route_case(
    case_id: str, principal: Principal, unit: str, note: str | None, ctx: Context
) -> dict[str, Any]:
    """Route a triage case to `unit` (see the module's docstring); publishes case-assigned (and
    case-escalated when the rules move it on)."""
    registry = ctx.registry()
    for _ in range(MAX_ATTEMPTS):
        doc = case_store().get(case_id)
        if doc is None:
            raise CaseNotFound("no such case")
        _check_router(doc, principal, registry)
        if registry.unit(unit) is None:
            raise UnknownUnit(f"no unit {unit!r} in the registry")
        Case(doc).route(unit, unit, None, None, False, (), ctx.clock())  # raises if it may not
        updated = _route_once(doc, unit, principal, note, ctx)
        if updated is not None:
            return updated
    raise CaseBusy("the case kept changing; try again")


def _route_once(doc, unit, principal, note, ctx) -> dict[str, Any] | None:
    registry, now = ctx.registry(), ctx.clock()
    decision = _decide(doc, unit, ctx)
    direct = decision is not None and decision.mode == "direct_investigation"
    target = decision.to_unit if direct else unit
    reasons = decision.reasons if direct else ()
    serious = is_serious(
        reasons, doc.get("amount_total_cny"), doc["category"], bool(doc.get("any_collusion")), ctx.serious
    )
    excluded = subject_cadres(registry, target, doc.get("subject_name"))
    slot = claim_cadre(target, now, doc["_id"], excluded)
    cadre = slot[0] if slot else None
    lead = choose_lead(target, now, ({cadre} - {None}) | excluded) if serious else None
    transition = Case(doc).route(unit, target, cadre, lead, serious, reasons, now, note)
    updated = case_store().save(doc, transition, {"triage_reason": doc["triage_reason"]}, slot=slot)
    if updated is None:
        release_lead(lead)
        return None
    ctx.wake(updated)
    case_store().audit_lines(doc["_id"], principal.actor, now, transition.audit[:1])
    case_store().audit_lines(doc["_id"], SYSTEM, now, transition.audit[1:])
    tracking.case_routed(updated, now, ctx)
    if direct:
        record_escalation(doc, unit, target, decision.mode, reasons, now, SYSTEM, ctx=ctx)
    elif decision is not None:  # at the city: supervised there
        updated = move_case(doc["_id"], list(decision.reasons), SYSTEM, ctx, decided=decision) or updated
    if cadre is None:
        drain(target, ctx)
    return updated
