"""Casework routes (API.md, "Casework"): route a triage case, supervise a case by hand. Parse,
call the use case, render; domain errors become problem+json in problems.py."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import RAISE, Schema, fields, validate

from shared.auth import require
from shared.problems import json_body, load

from . import handlers, queries

bp = Blueprint("casework", __name__)


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


SCHEMAS = (RouteBody, SuperviseBody)


def _ctx() -> handlers.Context:
    return current_app.extensions["assignment.ctx"]


@bp.post("/v1/cases/<case_id>/route")
@require("supervisor", "admin")
def route_case(case_id: str):
    body = load(RouteBody(), json_body(request))
    ctx = _ctx()
    doc = handlers.route_case(case_id, g.principal, body["unit"], body["note"], ctx)
    return jsonify(queries.case_view(doc, ctx.clock()))


@bp.post("/v1/cases/<case_id>/supervise")
@require("supervisor")
def supervise_case(case_id: str):
    body = load(SuperviseBody(), json_body(request))
    ctx = _ctx()
    doc = handlers.supervise_case(case_id, g.principal, body["note"], body["due_at"], ctx)
    return jsonify(queries.case_view(doc, ctx.clock()))


def _operation(summary: str, schema: str, errors: dict[str, str]) -> dict:
    return {
        "post": {
            "summary": summary,
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
            },
            "responses": {
                "200": {"description": "the case"},
                **{code: {"description": text} for code, text in errors.items()},
            },
        }
    }


def register_paths(spec) -> None:
    """Describe the casework routes in the OpenAPI document."""
    for schema in SCHEMAS:
        spec.components.schema(schema.__name__, schema=schema)
    spec.path(
        "/v1/cases/{case_id}/route",
        operations=_operation(
            "Route a case waiting in triage to a unit (city supervisor, admin)",
            "RouteBody",
            {"404": "no such case in your jurisdiction", "409": "not in triage", "422": "unknown unit"},
        ),
    )
    spec.path(
        "/v1/cases/{case_id}/supervise",
        operations=_operation(
            "重点督办: supervise a case by hand, optionally with an earlier deadline",
            "SuperviseBody",
            {
                "404": "no such case in your jurisdiction",
                "409": "the case is closed",
                "422": "a deadline not earlier than the case's",
            },
        ),
    )
