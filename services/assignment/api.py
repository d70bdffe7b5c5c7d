"""The case officers' HTTP API (API.md, Assignment): parse, call a handler or query, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import RAISE, Schema, fields, validate

from shared.auth import audit, require
from shared.problems import Problem, json_body, load
from shared.vocabulary import DISPOSITIONS, OUTCOMES

from . import handlers, queries, registry_scope, registry_store
from .documents import STATUSES
from .openapi import Op, add_paths
from .registry import RegistryError

bp = Blueprint("assignment", __name__)


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


def _ctx() -> handlers.Context:
    return current_app.extensions["assignment.ctx"]


def _query(schema: Schema) -> dict[str, Any]:
    return load(schema, {k: v for k, v in request.args.items()})


@bp.get("/v1/cases")
@require("cadre", "supervisor", "admin")
def list_cases():
    q = _query(CaseListQuery())
    ctx = _ctx()
    return jsonify(
        queries.list_cases(
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
    )


@bp.get("/v1/cases/<case_id>")
@require("cadre", "supervisor", "admin")
def get_case(case_id: str):
    ctx = _ctx()
    return jsonify(queries.case_detail(case_id, g.principal, ctx.registry(), ctx.clock()))


@bp.post("/v1/cases/<case_id>/close")
@require("cadre", "supervisor", "admin")
def close_case(case_id: str):
    body = load(CloseBody(), json_body(request))
    ctx = _ctx()
    doc = handlers.close_case(
        case_id, g.principal, body["disposition"], body["outcomes"], body["reporter_summary"], ctx
    )
    return jsonify(queries.case_view(doc, ctx.clock()))


@bp.post("/v1/cases/<case_id>/escalate")
@require("supervisor")
def escalate_case(case_id: str):
    body = load(EscalateBody(), json_body(request))
    ctx = _ctx()
    doc = handlers.escalate_case(case_id, g.principal, body["reason"], ctx)
    return jsonify(queries.case_view(doc, ctx.clock()))


@bp.get("/v1/workload")
@require("supervisor", "admin")
def workload():
    unit = request.args.get("unit")
    if not unit:
        raise Problem(422, "Unprocessable Content", "unit is required", errors={"unit": ["required"]})
    return jsonify(queries.workload(unit, g.principal, _ctx().registry()))


@bp.get("/v1/registry")
@require("admin", "supervisor")
def get_registry():
    data = registry_store.registry_dict(_ctx().registry())
    if g.principal.role == "supervisor":  # their subtree only
        data = registry_scope.subtree(data, g.principal.scope)
    return jsonify(data)


def _save(registry) -> Any:
    ctx = _ctx()
    before = registry_store.stored_registry()
    version = registry_store.save_registry(registry, source="api")
    audit("registry.put", g.principal.actor, actor_key_id=g.principal.key_id,
          detail={"path": request.path, "version": version})
    cache = current_app.extensions.get("assignment.registry_cache")
    if cache is not None:
        cache.invalidate()
    handlers.registry_changed(before, registry, ctx, g.principal.actor)
    return jsonify({"version": version})


def _invalid(exc: RegistryError) -> Problem:
    return Problem(422, "Unprocessable Content", str(exc), errors={"registry": [str(exc)]})


@bp.put("/v1/registry")
@require("admin")
def put_registry():
    from .registry_file import registry_from_dict

    body = json_body(request)
    if not isinstance(body, dict):
        raise Problem(422, "Unprocessable Content", "the body must be a JSON object")
    try:
        registry = registry_from_dict(body, "registry")
    except RegistryError as exc:
        raise _invalid(exc) from None
    return _save(registry)


_PARTS = {
    "jurisdictions": JurisdictionBody,
    "employers": EmployerBody,
    "units": UnitBody,
    "cadres": CadreBody,
}


@bp.put("/v1/registry/<kind>/<path:key>")
@require("admin")
def put_registry_part(kind: str, key: str):
    if kind not in _PARTS:
        raise Problem(404, "Not Found", f"no registry part {kind!r}")
    item = load(_PARTS[kind](), json_body(request))
    try:
        registry = registry_store.replace_part(kind, key, item)
    except RegistryError as exc:
        raise _invalid(exc) from None
    return _save(registry)


OPERATIONS = [
    Op("/v1/cases", "get", "List cases in scope (newest first)", query=CaseListQuery),
    Op("/v1/cases/{case_id}", "get", "A case with escalations and audit trail"),
    Op("/v1/cases/{case_id}/close", "post", "Close a case", body="CloseBody"),
    Op("/v1/cases/{case_id}/escalate", "post", "Escalate a case by hand", body="EscalateBody"),
    Op("/v1/workload", "get", "Open cases and capacity per cadre"),
    Op("/v1/registry", "get", "The registry"),
    Op("/v1/registry", "put", "Replace the registry"),
    *(Op(f"/v1/registry/{kind}/{{key}}", "put", f"Add or replace one of {kind}", body=schema.__name__)
      for kind, schema in _PARTS.items()),
]


def register_paths(spec) -> None:
    """Describe the routes in the OpenAPI document."""
    for name in ("CloseBody", "EscalateBody", "JurisdictionBody", "EmployerBody", "UnitBody", "CadreBody"):
        spec.components.schema(name, schema=globals()[name])
    add_paths(spec, OPERATIONS)
