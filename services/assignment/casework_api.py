"""Casework routes (API.md, "Casework"): route a triage case, supervise a case by hand. Parse,
call the use case, render; domain errors become problem+json in problems.py."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from marshmallow import RAISE, Schema, fields, validate

from shared.auth import require
from shared.web import ApiBlueprint, ProblemSchema

from . import handlers, queries
from .api_schemas import CaseView

bp = ApiBlueprint("casework", __name__, description="Casework: route a triage case, supervise a case")


class RouteBody(Schema):
    class Meta:
        unknown = RAISE

    unit = fields.String(required=True, validate=validate.Length(min=1, max=300))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class SuperviseBody(Schema):
    class Meta:
        unknown = RAISE

    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    due_at = fields.AwareDateTime(load_default=None)


def _ctx() -> handlers.Context:
    return current_app.extensions["assignment.ctx"]


def _refusals(by_status: dict[int, str]):
    """Document the problem+json answers a route gives besides smorest's 422, each with its reason."""

    def decorate(view):
        for status, description in by_status.items():
            view = bp.alt_response(status, schema=ProblemSchema, description=description,
                                   content_type="application/problem+json")(view)
        return view

    return decorate


@bp.operation("POST", "/v1/cases/<case_id>/route", require("supervisor", "admin"))
@bp.arguments(RouteBody)
@bp.response(200, CaseView, description="the case")
@_refusals({404: "no such case in your jurisdiction", 409: "not in triage"})
def route_case(body: dict[str, Any], case_id: str):
    """Route a case waiting in triage to a unit (city supervisor, admin)

    An unknown unit is a 422 naming `unit`.
    """
    ctx = _ctx()
    doc = handlers.route_case(case_id, g.principal, body["unit"], body["note"], ctx)
    return queries.case_view(doc, ctx.clock())


@bp.operation("POST", "/v1/cases/<case_id>/supervise", require("supervisor"))
@bp.arguments(SuperviseBody)
@bp.response(200, CaseView, description="the case")
@_refusals({404: "no such case in your jurisdiction", 409: "the case is closed"})
def supervise_case(body: dict[str, Any], case_id: str):
    """重点督办: supervise a case by hand, optionally with an earlier deadline

    A deadline not earlier than the case's is a 422 naming `due_at`.
    """
    ctx = _ctx()
    doc = handlers.supervise_case(case_id, g.principal, body["note"], body["due_at"], ctx)
    return queries.case_view(doc, ctx.clock())
