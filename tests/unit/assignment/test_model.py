"""The Case aggregate on plain dicts: which transitions it takes, what they change and publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import escalation
from services.assignment.model import (
    BadDeadline,
    Case,
    CaseClosed,
    CaseError,
    CaseForbidden,
    InTriage,
    NotInTriage,
    clue_record,
)
from services.assignment.problems import problem_for
from shared import events

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
DUE = T0 + timedelta(days=90)


def case(**overrides) -> dict:
    doc = {
        "_id": "K1",
        "clue_id": "c1",
        "linked_clue_ids": [],
        "clue_times": [T0],
        "status": "assigned",
        "unit": "foshan/d1/t1#commission",
        "cadre_id": "t-002",
        "lead_cadre_id": None,
        "holds_slot": True,
        "due_at": DUE,
        "triage_reason": None,
        "escalation_reasons": [],
        "subject_rank": "staff",
        "amount_cny": 20_000,
        "collusion": False,
        "outbox_version": 3,
    }
    doc.update(overrides)
    return doc


TRIAGE = {
    "status": "queued",
    "cadre_id": None,
    "holds_slot": False,
    "triage_reason": "unroutable",
    "unit": "foshan#commission",
}
CLOSED = {
    "status": "closed",
    "closed_by": "t-002",
    "disposition": "concluded",
    "outcomes": [],
    "reporter_summary": "x",
}


def route(doc):
    return Case(doc).route("foshan/d1/t1#commission", "foshan/d1/t1#commission", "t-001", None, False, (), T0)


def escalate(doc):
    return Case(doc).escalate_to(
        "foshan/d1#commission", ("manual",), "direct_investigation", "d1-2", None, DUE, T0
    )


def supervise(doc, due=None):
    return Case(doc).supervise("foshan/d1#commission", ("manual",), T0, due, shorten_only=True)


def close(doc, who="t-002"):
    return Case(doc).close(who, "concluded", [], "已办结", T0)


def reopen(doc, cadre="t-001"):
    return Case(doc).reopen(cadre, "t-001", T0 + timedelta(days=90), T0, "c1")


# (transition, the case, the error it raises, HTTP status it maps to)
REFUSED = [
    ("route: not in triage", route, case(), NotInTriage, 409),
    ("route: closed", route, case(**{**TRIAGE, **CLOSED}), CaseClosed, 409),
    ("escalate: in triage", escalate, case(**TRIAGE), InTriage, 409),
    ("escalate: closed", escalate, case(**CLOSED), CaseClosed, 409),
    ("supervise: closed", supervise, case(**CLOSED), CaseClosed, 409),
    (
        "supervise: a later deadline",
        lambda d: supervise(d, DUE + timedelta(days=1)),
        case(),
        BadDeadline,
        422,
    ),
    ("supervise: the same deadline", lambda d: supervise(d, DUE), case(), BadDeadline, 422),
    ("close: not its cadre", lambda d: close(d, "t-009"), case(), CaseForbidden, 403),
    ("close: closed already", close, case(**CLOSED), CaseClosed, 409),
    ("reopen: still open", reopen, case(), CaseError, 409),
    ("reopen: by whoever closed it", lambda d: reopen(d, "t-002"), case(**CLOSED), CaseError, 409),
]


@pytest.mark.parametrize(
    ("name", "transition", "doc", "error", "status"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_refused_transitions_raise_domain_errors(name, transition, doc, error, status):
    with pytest.raises(error) as exc:
        transition(doc)
    assert problem_for(exc.value).status == status


def test_supervision_errors_name_the_field():
    with pytest.raises(BadDeadline) as exc:
        supervise(case(), DUE + timedelta(days=1))
    assert problem_for(exc.value).errors == {"due_at": [str(exc.value)]}


def types(transition) -> list[str]:
    return [events.TOPIC_OF_TYPE[e["type"]] for e in transition.events]


def test_route_accepts_the_triage_case_and_publishes_assigned_per_clue():
    done = route(case(**TRIAGE, linked_clue_ids=["c2"]))
    assert done.changes["triage_reason"] is None and done.changes["status"] == "assigned"
    assert done.changes["accepted_at"] == T0 and done.changes["route_mode"] == "manual"
    assert types(done) == ["case-assigned", "case-assigned"]
    assert [e["data"]["clue_id"] for e in done.events] == ["c1", "c2"]
    assert "reason" not in done.events[0]["data"]  # no longer triage: the reporter hears "accepted"


def test_route_with_an_escalation_publishes_it_before_the_assignment():
    done = Case(case(**TRIAGE)).route(
        "foshan/d1/t1#commission", "foshan/d1#commission", None, None, True, ("conflict",), T0
    )
    assert types(done) == ["case-escalated", "case-assigned"]
    assert done.changes["status"] == "queued" and done.changes["escalation_reasons"] == ["conflict"]


# (deadline given to supervise, the deadline after, audit lines)
SUPERVISION_DEADLINES = [
    (None, DUE, []),
    (DUE - timedelta(days=30), DUE - timedelta(days=30), ["deadline_changed"]),
]


@pytest.mark.parametrize(("due", "after", "audit"), SUPERVISION_DEADLINES)
def test_supervision_keeps_the_case_and_may_shorten_its_deadline(due, after, audit):
    done = supervise(case(), due)
    assert done.changes.get("due_at", DUE) == after
    assert [a for a, _ in done.audit] == audit
    assert done.changes["status"] == "supervised" and "unit" not in done.changes
    [event] = done.events
    assert event["data"]["mode"] == "supervised" and event["data"]["reasons"] == ["manual"]


def test_an_escalation_that_changes_the_deadline_writes_an_audit_line():
    done = Case(case()).escalate_to(
        "foshan/d1#commission", ("amount",), "direct_investigation", None, None, DUE - timedelta(days=1), T0
    )
    [(action, details)] = [line for line in done.audit if line[0] == "deadline_changed"]
    assert details["to"] == DUE - timedelta(days=1) and details["why"] == "escalated"


def test_reopen_is_a_review_by_another_cadre_and_says_so_in_its_event():
    done = reopen(case(**CLOSED))
    assert done.changes["status"] == "reopened" and done.changes["review"] is True
    assert done.changes["cadre_id"] == "t-001" and done.changes["lead_cadre_id"] == "t-001"
    assert {e["data"]["status"] for e in done.events} == {"reopened"}
    queued = Case(case(**CLOSED)).reopen(None, "t-001", DUE, T0, "c1")
    assert queued.changes["status"] == "queued" and queued.events[0]["data"]["status"] == "reopened"


# (amount on the case so far, the linked clue's, the total after)
AMOUNTS = [
    (20_000, 30_000, 50_000),
    (None, 4_645, 4_645),
    (20_000, None, 20_000),
    (None, None, None),
]


@pytest.mark.parametrize(("before", "added", "total"), AMOUNTS)
def test_linked_clues_add_their_amounts_up(before, added, total):
    record = {"clue_id": "c2", "received_at": T0, "amount_cny": added, "subject": {"rank": "staff"}}
    done = Case(case(amount_cny=before)).link_clue(record, T0)
    assert done.changes["amount_total_cny"] == total
    assert done.changes["linked_clue_ids"] == ["c2"]


# (rank on the case, the linked clue's, the one that counts; collusion before, added, after)
RANKS = [("staff", "section", "section"), ("section", "staff", "section"), ("staff", None, "staff")]


@pytest.mark.parametrize(("before", "added", "after"), RANKS)
def test_any_clues_rank_counts(before, added, after):
    record = {"clue_id": "c2", "received_at": T0, "subject": {"rank": added}, "collusion": True}
    done = Case(case(subject_rank=before)).link_clue(record, T0)
    assert done.changes["top_rank"] == after and done.changes["any_collusion"] is True


def test_a_clue_record_never_holds_the_reporter():
    data = {
        "clue_id": "c1",
        "summary": "收红包",
        "details": "细节",
        "occurred_on": "2026-11-30",
        "category": "solicitation",
        "source": "observer",
        "received_at": T0,
        "amount_cny": 10,
        "subject": {"name": "许某", "rank": "staff", "party_member": True},
        "reporter_ref": "ref-secret",
        "reporter_contact_sealed": "sealed",
    }
    record = clue_record(data)
    assert "ref-secret" not in str(record) and "sealed" not in str(record)
    assert record["summary"] == "收红包" and record["subject"]["name"] == "许某"


def test_reasons_already_moved_for_do_not_move_a_case_again_except_rank_and_amount(foshan):
    subject = escalation.Subject("许某", None, "staff")
    unit = "foshan/chancheng#commission"
    kept = escalation.decide(unit, subject, 10, True, 1, foshan, already=["collusion"])
    assert kept is None
    moved = escalation.decide(unit, subject, 600_000, False, 1, foshan, already=["amount"])
    assert moved is not None and moved.reasons == ("amount",) and moved.mode == "direct_investigation"
