"""Assignment's routes for the relationship map, networks (协作办案) and recommendations to bureaus
(API.md, Assignment: relationship map, recommendations). Parse, call a store, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import RAISE, Schema, fields, validate

from shared.auth import require
from shared.problems import json_body, load
from shared.vocabulary import RECOMMENDATION_KINDS

from . import casemap, networks
from . import recommendation_store as store
from . import recommendations as rules
from .handlers import Context
from .openapi import Op, add_paths

bp = Blueprint("practice", __name__)


class RecommendationBody(Schema):
    class Meta:
        unknown = RAISE

    bureau = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(RECOMMENDATION_KINDS))
    text = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    due_on = fields.Date(required=True)
    year = fields.Integer(strict=True, validate=validate.Range(min=2016, max=2100))
    quarter = fields.Integer(strict=True, validate=validate.Range(min=1, max=4))


class AnswerBody(Schema):
    class Meta:
        unknown = RAISE

    answer = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    answered_on = fields.Date(required=True)


class RecommendationQuery(Schema):
    class Meta:
        unknown = RAISE

    bureau = fields.String()
    overdue = fields.Boolean()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class QuarterQuery(Schema):
    class Meta:
        unknown = RAISE

    year = fields.Integer(validate=validate.Range(min=2016, max=2100))
    quarter = fields.Integer(validate=validate.Range(min=1, max=4))


def _ctx() -> Context:
    return current_app.extensions["assignment.ctx"]


def _page(items: list[dict[str, Any]], key: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A list answer, newest first (ids are ULIDs), from `cursor` on."""
    if cursor:
        items = [i for i in items if i[key] < cursor]
    page = items[:limit]
    return {"items": page, "next": page[-1][key] if len(items) > limit else None}


@bp.get("/v1/cases/<case_id>/map")
@require("cadre", "supervisor", "admin")
def case_map(case_id: str):
    ctx = _ctx()
    graph, centre = casemap.neighbourhood(case_id, g.principal, ctx.registry(), ctx.clock())
    return jsonify(casemap.as_json(graph, centre))


@bp.get("/v1/networks")
@require("cadre", "supervisor", "admin")
def list_networks():
    items = networks.networks_for(g.principal, _ctx().registry())
    limit = request.args.get("limit", 50, type=int) or 50
    return jsonify(_page(items, "network_id", max(1, min(limit, 500)), request.args.get("cursor")))


@bp.get("/v1/networks/<network_id>")
@require("cadre", "supervisor", "admin")
def get_network(network_id: str):
    return jsonify(networks.network(network_id, g.principal, _ctx().registry()))


@bp.get("/v1/recommendations")
@require("supervisor", "admin")
def list_recommendations():
    q = load(RecommendationQuery(), dict(request.args.items()))
    ctx = _ctx()
    items = store.listing(g.principal, ctx.registry(), ctx.clock(), q.get("bureau"), q.get("overdue"))
    return jsonify(_page(items, "recommendation_id", q["limit"], q.get("cursor")))


@bp.post("/v1/recommendations")
@require("supervisor")
def issue_recommendation():
    body = load(RecommendationBody(), json_body(request))
    ctx = _ctx()
    rec = store.issue(body, g.principal, ctx.registry(), ctx.clock())
    return jsonify(store.view(rec, ctx.registry(), rules.china_today(ctx.clock()))), 201


@bp.get("/v1/recommendations/<rec_id>")
@require("supervisor", "admin")
def get_recommendation(rec_id: str):
    ctx = _ctx()
    rec = store.find(rec_id, g.principal, ctx.registry())
    return jsonify(store.view(rec, ctx.registry(), rules.china_today(ctx.clock())))


@bp.post("/v1/recommendations/<rec_id>/answer")
@require("supervisor")
def record_answer(rec_id: str):
    body = load(AnswerBody(), json_body(request))
    ctx = _ctx()
    rec = store.record_answer(
        rec_id, body["answer"], body["answered_on"], g.principal, ctx.registry(), ctx.clock()
    )
    return jsonify(store.view(rec, ctx.registry(), rules.china_today(ctx.clock())))


@bp.get("/v1/bureaus/quarter")
@require("supervisor", "admin")
def bureau_quarter():
    q = load(QuarterQuery(), dict(request.args.items()))
    ctx = _ctx()
    year, quarter = rules.quarter_of(rules.china_today(ctx.clock()))
    year, quarter = q.get("year", year), q.get("quarter", quarter)
    scope = g.principal.scope or ctx.registry().jurisdictions()[0].code
    figures = store.quarter_figures(scope, ctx.registry(), year, quarter)
    registry = ctx.registry()
    items = [
        {"bureau": b, "bureau_name": registry.employer(b).name if registry.employer(b) else b, **row}
        for b, row in figures.items()
    ]
    return jsonify({"year": year, "quarter": quarter, "items": items, "next": None})


OPERATIONS = [
    Op("/v1/cases/{case_id}/map", "get", "The case's neighbourhood on the relationship map: subjects, firms, "
       "intermediaries, relatives, employers, units (opaque node ids)"),
    Op("/v1/networks", "get", "Networks handled jointly (协作办案) that involve a unit in scope"),
    Op("/v1/networks/{network_id}", "get", "A network: lead unit, assisting units, its cases"),
    Op("/v1/recommendations", "get", "Recommendations to bureaus in scope (?bureau=, ?overdue=true)",
       query=RecommendationQuery),
    Op("/v1/recommendations", "post", "Issue a recommendation with a rectification deadline",
       body="RecommendationBody", responses={"201": {"description": "Created"}}),
    Op("/v1/recommendations/{recommendation_id}", "get", "A recommendation"),
    Op("/v1/recommendations/{recommendation_id}/answer", "post",
       "Record the bureau's rectification report (once)", body="AnswerBody"),
    Op("/v1/bureaus/quarter", "get", "Per bureau in scope: the quarter's cases by category and outcome",
       query=QuarterQuery),
]


def register_paths(spec) -> None:
    """Describe the routes in the OpenAPI document."""
    for name in ("RecommendationBody", "AnswerBody"):
        spec.components.schema(name, schema=globals()[name])
    add_paths(spec, OPERATIONS)
