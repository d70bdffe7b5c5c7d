"""Use case: a repeat clue joins the open case on its subject and category, and the escalation
rules run again on the whole case (amounts add up: 芝麻黄豆通吃、积少成多; any clue's rank or
collusion counts; the clue count feeds `repeat`)."""

from __future__ import annotations

from typing import Any

from . import escalation
from .context import MAX_ATTEMPTS, SYSTEM, Context
from .escalation import Subject
from .model import OPEN_STATUSES, Case, CaseError
from .moves import move_case
from .store import case_store


def link_clue(case_id: str, record: dict[str, Any], repeat_count: int, ctx: Context) -> bool:
    """Link a repeat clue (`model.clue_record`) to an open case and publish its case-assigned;
    False if the case is no longer open. Escalates the case when the rules, run on all its
    clues, give a reason it was not moved for yet."""
    clue_id = record["clue_id"]
    for _ in range(MAX_ATTEMPTS):
        doc = case_store().get(case_id)
        if doc is None or doc["status"] not in OPEN_STATUSES:
            return False
        case = Case(doc)
        if clue_id in case.clue_ids:
            return True
        now = ctx.clock()
        case_store().keep_clue(case_id, record)
        transition = case.link_clue(record, now)
        updated = case_store().save(doc, transition, {"status": {"$in": list(OPEN_STATUSES)}})
        if updated is None:
            continue
        ctx.wake(updated)
        case_store().audit(
            case_id,
            SYSTEM,
            "clue_linked",
            now,
            f"{case_id}:link:{clue_id}",
            clue_id=clue_id,
            repeat_count=repeat_count,
        )
        redecide(case_id, repeat_count, ctx)
        return True
    raise RuntimeError(f"case {case_id} kept changing while a clue was linked")


def reasons_now(doc: dict[str, Any], repeat_count: int, ctx: Context) -> escalation.Escalation | None:
    """The escalation the case needs now, on all its clues, for reasons it was not moved for."""
    subject = Subject(
        doc["subject_name"], doc.get("subject_employer"), doc.get("top_rank") or doc.get("subject_rank")
    )
    total = doc.get("amount_total_cny")
    return escalation.decide(
        doc["unit"],
        subject,
        doc.get("amount_cny") if total is None else total,
        bool(doc.get("any_collusion") or doc.get("collusion")),
        repeat_count,
        ctx.registry(),
        ctx.rules,
        already=doc.get("escalation_reasons") or [],
    )


def redecide(case_id: str, repeat_count: int, ctx: Context) -> None:
    """Escalate the case if `reasons_now` says so (not a case waiting in triage: its route
    decides)."""
    doc = case_store().get(case_id)
    if doc is None or doc.get("triage_reason") or ctx.registry().unit(doc["unit"]) is None:
        return
    decision = reasons_now(doc, repeat_count, ctx)
    if decision is None:
        return

    def still_wanted(d: dict[str, Any]) -> bool:
        return bool(
            set(decision.reasons) - set(d.get("escalation_reasons") or [])
            or {"rank", "amount"} & set(decision.reasons)
        )

    try:
        move_case(case_id, list(decision.reasons), SYSTEM, ctx, guard=still_wanted, decided=decision)
    except CaseError:
        return  # closed meanwhile: nothing to escalate
