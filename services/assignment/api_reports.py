"""Supervisors' reports (API.md, Assignment): duties, the quarterly statistics (JSON, CSV, XLSX),
and the review batches (大起底/回头看). Thin routes: parse, query, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.auth import require
from shared.problems import load

from . import duty_store, reports, review, statistics
from .duties import STATES

bp = Blueprint("assignment_reports", __name__)


def _quarter(value: str) -> None:
    try:
        statistics.parse_quarter(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _year_in_range(value) -> None:
    if not statistics.FIRST_YEAR <= value.year <= statistics.LAST_YEAR:
        raise ValidationError(f"Must be in the years {statistics.FIRST_YEAR} to {statistics.LAST_YEAR}.")


class StatsQuery(Schema):
    class Meta:
        unknown = RAISE

    jurisdiction = fields.String()
    quarter = fields.String(validate=_quarter, metadata={"example": "2026Q4"})
    from_ = fields.AwareDateTime(data_key="from", validate=_year_in_range)
    to = fields.AwareDateTime(validate=_year_in_range)


class DutiesQuery(Schema):
    class Meta:
        unknown = RAISE

    jurisdiction = fields.String()
    state = fields.String(validate=validate.OneOf(list(STATES)))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


def _ctx():
    return current_app.extensions["assignment.ctx"]


def _args(schema: Schema) -> dict[str, Any]:
    return load(schema, dict(request.args.items()))


def _report() -> dict[str, Any]:
    q = _args(StatsQuery())
    ctx = _ctx()
    return reports.report(g.principal, ctx.registry(), ctx.clock(), q.get("jurisdiction"), q.get("from_"),
                          q.get("to"), q.get("quarter"))


def _download(body: bytes, mimetype: str, data: dict[str, Any], ext: str) -> Response:
    name = f"stats-{data['jurisdiction'].replace('/', '-')}-{'-'.join(data['quarters'])}.{ext}"
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@bp.get("/v1/stats")
@require("supervisor", "admin")
def stats():
    return jsonify(_report())


@bp.get("/v1/stats.csv")
@require("supervisor", "admin")
def stats_csv():
    data = _report()
    return _download(reports.as_csv(data), "text/csv", data, "csv")


@bp.get("/v1/stats.xlsx")
@require("supervisor", "admin")
def stats_xlsx():
    data = _report()
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(reports.as_xlsx(data), xlsx, data, "xlsx")


@bp.get("/v1/duties")
@require("supervisor", "admin")
def duties():
    q = _args(DutiesQuery())
    ctx = _ctx()
    return jsonify(duty_store.list_duties(
        g.principal, ctx.registry(), ctx.clock(), jurisdiction=q.get("jurisdiction"), state=q.get("state"),
        limit=q["limit"], cursor=q.get("cursor")))


@bp.get("/v1/review-batches")
@require("supervisor", "admin")
def review_batches():
    ctx = _ctx()
    return jsonify({"items": review.batches(g.principal, ctx.registry(), ctx.clock()), "next": None})


@bp.get("/v1/review-batches/<batch_id>")
@require("supervisor", "admin")
def review_batch(batch_id: str):
    ctx = _ctx()
    return jsonify(review.batch(batch_id, g.principal, ctx.registry(), ctx.clock()))


def register_paths(spec) -> None:
    """Describe these routes in the OpenAPI document."""
    ok = {"200": {"description": "OK"}}
    secured = [{"bearer": []}]
    stats_query = [{"in": "query", "schema": StatsQuery}]
    for path, summary, params in (
        ("/v1/stats", "The quarter's figures per child jurisdiction, on both bases", stats_query),
        ("/v1/stats.csv", "The same table as CSV (Chinese headers, UTF-8)", stats_query),
        ("/v1/stats.xlsx", "The same table as an Excel workbook", stats_query),
        ("/v1/duties", "Duties of cases under a jurisdiction: due, missed or met",
         [{"in": "query", "schema": DutiesQuery}]),
        ("/v1/review-batches", "Review batches (大起底/回头看) with their progress", []),
        ("/v1/review-batches/{batch_id}", "One review batch: total, in hand, closed, overdue, by unit", []),
    ):
        spec.path(path, operations={"get": {"summary": summary, "security": secured, "parameters": params,
                                            "responses": ok}})
