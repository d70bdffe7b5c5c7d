"""Supervisors' reports (API.md, Assignment): duties, the quarterly statistics (JSON, CSV, XLSX),
and the review batches (大起底/回头看). Thin routes: parse, query, render."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.auth import require
from shared.web import ApiBlueprint

from . import duty_store, reports, review, statistics
from .duties import STATES
from .report_schemas import DutyPage, ReviewBatchPage, ReviewBatchView, StatsReport

bp = ApiBlueprint("reports", __name__, description="Statistics, duties and review batches")
OVERSIGHT = require("supervisor", "admin")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def _report(q: dict[str, Any]) -> dict[str, Any]:
    ctx = _ctx()
    return reports.report(g.principal, ctx.registry(), ctx.clock(), q.get("jurisdiction"), q.get("from_"),
                          q.get("to"), q.get("quarter"))


def _download(body: bytes, mimetype: str, data: dict[str, Any], ext: str) -> Response:
    name = f"stats-{data['jurisdiction'].replace('/', '-')}-{'-'.join(data['quarters'])}.{ext}"
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


def _file(content_type: str, description: str):
    """The documented answer of a download: the file, named in its Content-Disposition."""
    disposition = {"description": 'attachment; filename="stats-<jurisdiction>-<quarters>.<ext>"',
                   "schema": {"type": "string"}}
    return bp.response(200, {"type": "string", "format": "binary"}, content_type=content_type,
                       description=description, headers={"Content-Disposition": disposition})


@bp.operation("GET", "/v1/stats", OVERSIGHT)
@bp.arguments(StatsQuery, location="query")
@bp.response(200, StatsReport)
def stats(q: dict[str, Any]):
    """The quarter's figures per child jurisdiction, on both bases"""
    return _report(q)


@bp.operation("GET", "/v1/stats.csv", OVERSIGHT)
@bp.arguments(StatsQuery, location="query")
@_file("text/csv", "the table with Chinese headers, UTF-8 with a byte-order mark")
def stats_csv(q: dict[str, Any]):
    """The same table as CSV (Chinese headers, UTF-8)"""
    data = _report(q)
    return _download(reports.as_csv(data), "text/csv", data, "csv")


@bp.operation("GET", "/v1/stats.xlsx", OVERSIGHT)
@bp.arguments(StatsQuery, location="query")
@_file(XLSX, "the table as an Excel workbook, one sheet")
def stats_xlsx(q: dict[str, Any]):
    """The same table as an Excel workbook"""
    data = _report(q)
    return _download(reports.as_xlsx(data), XLSX, data, "xlsx")


@bp.operation("GET", "/v1/duties", OVERSIGHT)
@bp.arguments(DutiesQuery, location="query")
@bp.response(200, DutyPage)
def duties(q: dict[str, Any]):
    """Duties of cases under a jurisdiction: due, missed or met"""
    ctx = _ctx()
    return duty_store.list_duties(
        g.principal, ctx.registry(), ctx.clock(), jurisdiction=q.get("jurisdiction"), state=q.get("state"),
        limit=q["limit"], cursor=q.get("cursor"))


@bp.operation("GET", "/v1/review-batches", OVERSIGHT)
@bp.response(200, ReviewBatchPage)
def review_batches():
    """Review batches (大起底/回头看) with their progress"""
    ctx = _ctx()
    return {"items": review.batches(g.principal, ctx.registry(), ctx.clock()), "next": None}


@bp.operation("GET", "/v1/review-batches/<batch_id>", OVERSIGHT)
@bp.response(200, ReviewBatchView)
def review_batch(batch_id: str):
    """One review batch: total, in hand, closed, overdue, by unit"""
    ctx = _ctx()
    return review.batch(batch_id, g.principal, ctx.registry(), ctx.clock())
