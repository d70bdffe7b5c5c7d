"""Storage and commands of recommendations to bureaus (recommendations.py holds the rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import mongoengine as me

from shared.auth import Principal
from shared.mongo import exact, new_id

from . import recommendations as rules
from .errors import Conflict, Forbidden, Invalid, NotFound
from .registry import Registry
from .store import cases


class Recommendation(me.Document):
    """A recommendation to a bureau and, once recorded, the bureau's rectification report."""

    id = me.StringField(primary_key=True)
    bureau = me.StringField(required=True)  # employer code
    kind = me.StringField(required=True)  # discipline / supervision
    jurisdiction = me.StringField(required=True)  # the issuing supervisor's jurisdiction
    text = me.StringField(required=True)
    due_on = me.StringField(required=True)  # ISO date: the rectification report's deadline
    year = me.IntField(required=True)
    quarter = me.IntField(required=True)
    issued_by = me.StringField(required=True)
    issued_at = me.DateTimeField(required=True)
    answered = me.BooleanField(default=False)
    answer = me.StringField(null=True)
    answered_on = me.StringField(null=True)  # ISO date
    answer_recorded_by = me.StringField(null=True)
    meta = {"collection": "recommendations", "indexes": ["bureau", "jurisdiction"]}


def bureaus_within(scope: str, registry: Registry) -> list[str]:
    return [e.code for e in registry.employers() if registry.is_within(e.jurisdiction, scope)]


def _check_bureau(bureau: str, principal: Principal, registry: Registry) -> None:
    employer = registry.employer(bureau)
    if employer is None:
        raise Invalid("unknown bureau", field="bureau", reason="Unknown bureau.")
    if principal.role == "supervisor" and not registry.is_within(employer.jurisdiction, principal.scope):
        raise Forbidden("that bureau is outside your jurisdiction")


def quarter_figures(scope: str, registry: Registry, year: int, quarter: int) -> dict[str, dict[str, Any]]:
    """rules.bureau_quarter over the cases received in the quarter about staff of bureaus in scope."""
    start, end = rules.quarter_bounds(year, quarter)
    bureaus = bureaus_within(scope, registry)
    found = cases().find(
        {"subject_employer": {"$in": bureaus}},
        {"subject_employer": 1, "category": 1, "status": 1, "outcomes": 1, "received_at": 1},
    )
    inside = [
        d
        for d in found
        if isinstance(d.get("received_at"), datetime) and start <= _aware(d["received_at"]) < end
    ]
    return rules.bureau_quarter(inside)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def issue(body: dict[str, Any], principal: Principal, registry: Registry, now: datetime) -> Recommendation:
    _check_bureau(body["bureau"], principal, registry)
    today = rules.china_today(now)
    problem = rules.deadline_problem(body["due_on"], today)
    if problem:
        raise Invalid("invalid deadline", field="due_on", reason=problem)
    year, quarter = (
        body.get("year") or rules.quarter_of(today)[0],
        body.get("quarter") or rules.quarter_of(today)[1],
    )
    rec = Recommendation(
        id=new_id(),
        bureau=body["bureau"],
        kind=body["kind"],
        jurisdiction=principal.scope or registry.jurisdictions()[0].code,
        text=body["text"],
        due_on=body["due_on"].isoformat(),
        year=year,
        quarter=quarter,
        issued_by=principal.actor,
        issued_at=now,
    )
    rec.save(force_insert=True)
    return rec


def record_answer(
    rec_id: str, text: str, answered_on: date, principal: Principal, registry: Registry, now: datetime
) -> Recommendation:
    rec = find(rec_id, principal, registry)
    if answered_on > rules.china_today(now):
        raise Invalid("invalid date", field="answered_on", reason="Must not be in the future.")
    done = Recommendation._get_collection().update_one(
        {"_id": rec.id, **exact(answered=False)},
        {
            "$set": {
                "answered": True,
                "answer": text,
                "answered_on": answered_on.isoformat(),
                "answer_recorded_by": principal.actor,
            }
        },
    )
    if done.modified_count != 1:
        raise Conflict("the bureau's answer is recorded already")
    return Recommendation.objects(id=rec.id).first()


def find(rec_id: str, principal: Principal, registry: Registry) -> Recommendation:
    rec = Recommendation.objects(id=rec_id).first() if len(rec_id) <= 64 else None
    if rec is None or not _visible(rec, principal, registry):
        raise NotFound("no such recommendation")
    return rec


def _visible(rec: Recommendation, principal: Principal, registry: Registry) -> bool:
    if principal.role == "admin":
        return True
    employer = registry.employer(rec.bureau)
    return employer is not None and registry.is_within(employer.jurisdiction, principal.scope)


def listing(
    principal: Principal,
    registry: Registry,
    now: datetime,
    bureau: str | None = None,
    overdue: bool | None = None,
) -> list[dict[str, Any]]:
    """Recommendations in scope, newest first; `overdue` keeps only those past their deadline
    without an answer."""
    today = rules.china_today(now)
    found = Recommendation.objects(__raw__=exact(bureau=bureau)) if bureau else Recommendation.objects
    items = [view(r, registry, today) for r in found.order_by("-id") if _visible(r, principal, registry)]
    return [i for i in items if i["status"] == "overdue"] if overdue else items


def view(rec: Recommendation, registry: Registry, today: date) -> dict[str, Any]:
    employer = registry.employer(rec.bureau)
    answered_on = date.fromisoformat(rec.answered_on) if rec.answered_on else None
    return {
        "recommendation_id": rec.id,
        "bureau": rec.bureau,
        "bureau_name": employer.name if employer else rec.bureau,
        "kind": rec.kind,
        "text": rec.text,
        "due_on": rec.due_on,
        "year": rec.year,
        "quarter": rec.quarter,
        "issued_by": rec.issued_by,
        "issued_at": rec.issued_at,
        "answer": rec.answer,
        "answered_on": rec.answered_on,
        "status": rules.status(date.fromisoformat(rec.due_on), answered_on, today),
    }
