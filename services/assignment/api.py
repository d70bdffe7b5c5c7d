"""The case officers' HTTP API (API.md, Assignment): parse, call a handler or query, render."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from shared.auth import audit, require
from shared.problems import Problem, json_body, must_be_object
from shared.vocabulary import DISPOSITIONS, OUTCOMES
from shared.web import ApiBlueprint

from . import handlers, queries, registry_scope, registry_store
from .api_schemas import CaseDetail, CasePage, CaseView, RegistryVersion, RegistryView, Workload
from .documents import STATUSES
from .registry import RegistryError

bp = ApiBlueprint("assignment", __name__, description="Cases, workload and the registry")


class CloseBody(Schema):
    class Meta:
        unknown = RAISE

    disposition = fields.String(required=True, validate=validate.OneOf(list(DISPOSITIONS)))
    outcomes = fields.List(
        fields.String(validate=validate.OneOf(list(OUTCOMES))),
        required=True,
        validate=validate.Length(max=len(OUTCOMES)),
    )
    reporter_summary = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class EscalateBody(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CaseListQuery(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(list(STATUSES)))
    unit = fields.String()
    cadre = fields.String()
    overdue = fields.Boolean()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class WorkloadQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    # Missing or empty: 422 {"unit": ["required"]}, as before the route moved to flask-smorest.
    unit = fields.String(required=True, validate=validate.Length(min=1, error="required"),
                         error_messages={"required": "required"})


class JurisdictionBody(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    level = fields.String(required=True)
    parent = fields.String(allow_none=True, load_default=None)
    leaders = fields.List(fields.String(), load_default=list)


class EmployerBody(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    leaders = fields.List(fields.String(), load_default=list)


class UnitBody(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    kind = fields.String(required=True)
    serves_employer = fields.String(allow_none=True, load_default=None)


class CadreBody(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    unit = fields.String(required=True)
    role = fields.String(required=True)
    capacity = fields.Integer(required=True, strict=True)
    active = fields.Boolean(load_default=True)


CASE_READERS = require("cadre", "supervisor", "admin")


def _ctx() -> handlers.Context:
    return current_app.extensions["assignment.ctx"]


@bp.operation("GET", "/v1/cases", CASE_READERS)
@bp.arguments(CaseListQuery, location="query")
@bp.response(200, CasePage)
def list_cases(q: dict[str, Any]):
    """List cases in scope (newest first)"""
    ctx = _ctx()
    return queries.list_cases(
        g.principal,
        ctx.registry(),
        ctx.clock(),
        status=q.get("status"),
        unit=q.get("unit"),
        cadre=q.get("cadre"),
        overdue=q.get("overdue"),
        limit=q["limit"],
        cursor=q.get("cursor"),
    )


@bp.operation("GET", "/v1/cases/<case_id>", CASE_READERS)
@bp.response(200, CaseDetail)
def get_case(case_id: str):
    """A case with escalations and audit trail"""
    ctx = _ctx()
    return queries.case_detail(case_id, g.principal, ctx.registry(), ctx.clock())


@bp.operation("POST", "/v1/cases/<case_id>/close", CASE_READERS)
@bp.arguments(CloseBody)
@bp.response(200, CaseView)
def close_case(body: dict[str, Any], case_id: str):
    """Close a case"""
    ctx = _ctx()
    doc = handlers.close_case(
        case_id, g.principal, body["disposition"], body["outcomes"], body["reporter_summary"], ctx
    )
    return queries.case_view(doc, ctx.clock())


@bp.operation("POST", "/v1/cases/<case_id>/escalate", require("supervisor"))
@bp.arguments(EscalateBody)
@bp.response(200, CaseView)
def escalate_case(body: dict[str, Any], case_id: str):
    """Escalate a case by hand"""
    ctx = _ctx()
    doc = handlers.escalate_case(case_id, g.principal, body["reason"], ctx)
    return queries.case_view(doc, ctx.clock())


@bp.operation("GET", "/v1/workload", require("supervisor", "admin"))
@bp.arguments(WorkloadQuery, location="query")
@bp.response(200, Workload)
def workload(q: dict[str, Any]):
    """Open cases and capacity per cadre"""
    return queries.workload(q["unit"], g.principal, _ctx().registry())


@bp.operation("GET", "/v1/registry", require("admin", "supervisor"))
@bp.response(200, RegistryView)
def get_registry():
    """The registry"""
    data = registry_store.registry_dict(_ctx().registry())
    if g.principal.role == "supervisor":  # their subtree only
        data = registry_scope.subtree(data, g.principal.scope)
    return data


def _save(registry) -> dict[str, int]:
    ctx = _ctx()
    before = registry_store.stored_registry()
    version = registry_store.save_registry(registry, source="api")
    audit("registry.put", g.principal.actor, actor_key_id=g.principal.key_id,
          detail={"path": request.path, "version": version})
    cache = current_app.extensions.get("assignment.registry_cache")
    if cache is not None:
        cache.invalidate()
    handlers.registry_changed(before, registry, ctx, g.principal.actor)
    return {"version": version}


def _invalid(exc: RegistryError) -> Problem:
    return Problem(422, "Unprocessable Content", str(exc), errors={"registry": [str(exc)]})


@bp.operation("PUT", "/v1/registry", require("admin"))
@bp.response(200, RegistryVersion)
def put_registry():
    """Replace the registry"""
    from .registry_file import registry_from_dict

    body = json_body(request)
    must_be_object(body)
    try:
        registry = registry_from_dict(body, "registry")
    except RegistryError as exc:
        raise _invalid(exc) from None
    return _save(registry)


def _put_part(kind: str, schema: type[Schema]) -> None:
    """PUT /v1/registry/<kind>/<key>: add or replace one item of the registry."""

    def put_part(item: dict[str, Any], key: str):
        try:
            registry = registry_store.replace_part(kind, key, item)
        except RegistryError as exc:
            raise _invalid(exc) from None
        return _save(registry)

    put_part.__name__ = f"put_registry_{kind}"
    put_part.__doc__ = f"Add or replace one of {kind}"
    view = bp.response(200, RegistryVersion)(put_part)
    bp.operation("PUT", f"/v1/registry/{kind}/<path:key>", require("admin"))(bp.arguments(schema)(view))


for _kind, _schema in (
    ("jurisdictions", JurisdictionBody),
    ("employers", EmployerBody),
    ("units", UnitBody),
    ("cadres", CadreBody),
):
    _put_part(_kind, _schema)
