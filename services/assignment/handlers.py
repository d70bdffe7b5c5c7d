"""The assignment service's use cases, by module, gathered here for the consumer, the
scheduler and the edge (routes, pages) to call:

- receiving: clue-received (new case, or linked: linking);
- triage: a person routes a case waiting in triage;
- moves: escalation and supervision, by the rules, by hand, for overdue cases;
- closing: close, follow-ups, objections reopening a case for review (复查);
- queueing: the queue's drain, the sweep after a crash, registry changes moving work.

Each use case loads the case through `store.case_store()`, asks the `model.Case` aggregate what
changes, and saves it with its events in one conditional write. They raise the domain's refusals
(`errors.py`, and `model.py`'s `CaseError`s among them), never HTTP answers: the edge maps those
(`problems.problem_for`).
"""

from __future__ import annotations

from .access import ensure_visible
from .case_events import SOURCE, assigned_event, closed_event, escalated_event
from .closing import apply_waiting, close_case, clue_followed_up, reopen, retry_waiting
from .context import MAX_ATTEMPTS, SYSTEM, Context, clue_ids, open_key, subject_key
from .documents import CaseAudit
from .linking import link_clue
from .moves import (
    escalate_case,
    move_case,
    record_escalation,
    run_deadlines,
    supervise_case,
    supervise_overdue,
)
from .new_case import NewCase, case_document, decide_case, opening_audit, review_kind
from .queueing import drain, reassign, registry_changed, sweep_stranded_slots
from .receiving import (
    announce_again,
    backfill_open_keys,
    clue_received,
    clues_received,
    receive_clue,
    store_new_cases,
)
from .store import audit_entry, case_store, cases
from .triage import route_case

__all__ = [
    "MAX_ATTEMPTS",
    "SOURCE",
    "SYSTEM",
    "CaseAudit",
    "Context",
    "NewCase",
    "announce_again",
    "apply_waiting",
    "assigned_event",
    "audit_entry",
    "backfill_open_keys",
    "case_document",
    "case_store",
    "cases",
    "closed_event",
    "close_case",
    "clue_followed_up",
    "clue_ids",
    "clue_received",
    "clues_received",
    "decide_case",
    "drain",
    "ensure_visible",
    "escalate_case",
    "escalated_event",
    "link_clue",
    "move_case",
    "open_key",
    "opening_audit",
    "reassign",
    "receive_clue",
    "record_escalation",
    "registry_changed",
    "reopen",
    "review_kind",
    "retry_waiting",
    "route_case",
    "run_deadlines",
    "store_new_cases",
    "subject_key",
    "supervise_case",
    "supervise_overdue",
    "sweep_stranded_slots",
]
