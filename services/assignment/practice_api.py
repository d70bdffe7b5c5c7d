"""Assignment's routes for the relationship map, networks (协作办案) and recommendations to bureaus
(API.md, Assignment: relationship map, recommendations). Parse, call a store, render."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from marshmallow import RAISE, Schema, fields, validate

from shared.auth import require
from shared.vocabulary import RECOMMENDATION_KINDS
from shared.web import ApiBlueprint

from . import casemap, networks
from . import recommendation_store as store
from . import recommendations as rules
from .api_schemas import (
    BureauQuarter,
    CaseMap,
    NetworkPage,
    NetworkView,
    RecommendationPage,
    RecommendationView,
)
from .handlers import Context

bp = ApiBlueprint("practice", __name__, description="Relationship map, networks, recommendations to bureaus")
READERS = require("cadre", "supervisor", "admin")
OVERSIGHT = require("supervisor", "admin")


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


@bp.operation("GET", "/v1/cases/<case_id>/map", READERS)
@bp.response(200, CaseMap)
def case_map(case_id: str):
    """The case's neighbourhood on the relationship map (opaque node ids)

    Subjects, firms, intermediaries, relatives, employers and units around the case.
    """
    ctx = _ctx()
    graph, centre = casemap.neighbourhood(case_id, g.principal, ctx.registry(), ctx.clock())
    return casemap.as_json(graph, centre)


@bp.operation("GET", "/v1/networks", READERS)
@bp.response(200, NetworkPage)
def list_networks():
    """Networks handled jointly (协作办案) that involve a unit in scope"""
    items = networks.networks_for(g.principal, _ctx().registry())
    limit = request.args.get("limit", 50, type=int) or 50
    return _page(items, "network_id", max(1, min(limit, 500)), request.args.get("cursor"))


@bp.operation("GET", "/v1/networks/<network_id>", READERS)
@bp.response(200, NetworkView)
def get_network(network_id: str):
    """A network: lead unit, assisting units, its cases"""
    return networks.network(network_id, g.principal, _ctx().registry())


@bp.operation("GET", "/v1/recommendations", OVERSIGHT)
@bp.arguments(RecommendationQuery, location="query")
@bp.response(200, RecommendationPage)
def list_recommendations(q: dict[str, Any]):
    """Recommendations to bureaus in scope (?bureau=, ?overdue=true)"""
    ctx = _ctx()
    items = store.listing(g.principal, ctx.registry(), ctx.clock(), q.get("bureau"), q.get("overdue"))
    return _page(items, "recommendation_id", q["limit"], q.get("cursor"))


@bp.operation("POST", "/v1/recommendations", require("supervisor"))
@bp.arguments(RecommendationBody)
@bp.response(201, RecommendationView)
def issue_recommendation(body: dict[str, Any]):
    """Issue a recommendation with a rectification deadline"""
    ctx = _ctx()
    rec = store.issue(body, g.principal, ctx.registry(), ctx.clock())
    return store.view(rec, ctx.registry(), rules.china_today(ctx.clock()))


@bp.operation("GET", "/v1/recommendations/<recommendation_id>", OVERSIGHT)
@bp.response(200, RecommendationView)
def get_recommendation(recommendation_id: str):
    """A recommendation"""
    ctx = _ctx()
    rec = store.find(recommendation_id, g.principal, ctx.registry())
    return store.view(rec, ctx.registry(), rules.china_today(ctx.clock()))


@bp.operation("POST", "/v1/recommendations/<recommendation_id>/answer", require("supervisor"))
@bp.arguments(AnswerBody)
@bp.response(200, RecommendationView)
def record_answer(body: dict[str, Any], recommendation_id: str):
    """Record the bureau's rectification report (once)"""
    ctx = _ctx()
    rec = store.record_answer(
        recommendation_id, body["answer"], body["answered_on"], g.principal, ctx.registry(), ctx.clock()
    )
    return store.view(rec, ctx.registry(), rules.china_today(ctx.clock()))


@bp.operation("GET", "/v1/bureaus/quarter", OVERSIGHT)
@bp.arguments(QuarterQuery, location="query")
@bp.response(200, BureauQuarter)
def bureau_quarter(q: dict[str, Any]):
    """Per bureau in scope: the quarter's cases by category and outcome"""
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
    return {"year": year, "quarter": quarter, "items": items, "next": None}
