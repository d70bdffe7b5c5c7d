"""Workspace pages for casework (views of the workspace blueprint, workspace.py): a case's page
and what it offers to whom, the triage list with its route form (city supervisors) and the
supervise form (重点督办) on a case. Forms are parsed by the API's schemas and handled by the same use
cases as the API; a refused command is shown next to its form in Chinese."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from flask import Response, redirect, request, url_for
from marshmallow import ValidationError

from shared.auth import Principal
from shared.forms import FormErrors
from shared.times import CHINA_TIME as CHINA

from . import handlers, queries
from .casework_api import RouteBody, SuperviseBody
from .model import OPEN_STATUSES, CaseError, CaseNotFound
from .problems import problem_for
from .registry import Registry
from .workspace import bp, csrf_checked, ctx, deadline_text, render, signed_in

ROUTE_TEXT = {
    409: "此案件已不在待分办队列中（可能刚被他人分办），请刷新后再看。",
    422: "请从列表中选择承办单位。",
    403: "只有市级监督人员可以分办。",
}
SUPERVISE_TEXT = {
    409: "案件已办结，不能再列入重点督办。",
    422: "督办期限须为将来的日期，且早于案件现在的办理期限。",
}


def is_city_supervisor(principal: Principal, registry: Registry) -> bool:
    place = registry.jurisdiction(principal.scope) if principal.role == "supervisor" else None
    return place is not None and place.level == "city"


def case_actions(principal: Principal, case: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """What the case page offers this person: the route form (a triage case, a city supervisor)
    and the supervise form (an open case, a supervisor)."""
    is_open = case["status"] in OPEN_STATUSES
    can_route = bool(case.get("triage_reason")) and is_open and is_city_supervisor(principal, registry)
    return {
        "can_route": can_route,
        "can_supervise": principal.role == "supervisor" and is_open,
        "route_units": [(u.code, u.name) for u in registry.units()] if can_route else [],
    }


def _form_error(input_id: str, text: str) -> FormErrors:
    return FormErrors({input_id: [text]}, [(input_id, "", text)])


def _due(raw: str) -> datetime | str | None:
    """A date typed in the form (YYYY-MM-DD, China time, end of that day), as the API takes it."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        return raw  # the schema refuses it with its message
    return datetime.combine(day, time(23, 59, 59), CHINA).isoformat()


def case_page(principal: Principal, case_id: str, status: int = 200, **values: Any) -> Response:
    """A case's page: its details, and the forms `principal` may use on it."""
    c = ctx()
    now = c.clock()
    case = queries.case_detail(case_id, principal, c.registry(), now)
    values.update(case_actions(principal, case, c.registry()))
    can_close = (
        principal.role == "cadre"
        and case["status"] in OPEN_STATUSES
        and principal.scope in {case.get("cadre_id"), case.get("lead_cadre_id")}
    )
    return render("case.html", status, principal=principal, case=case, can_close=can_close,
                  deadline=deadline_text(case, now), **values)


@bp.get("/workspace/triage")
@signed_in("supervisor")
def triage(principal: Principal):
    c = ctx()
    registry, now = c.registry(), c.clock()
    items = queries.triage_cases(principal, registry, now)
    return render("triage.html", principal=principal, items=items, now=now, deadline_text=deadline_text,
                  can_route=is_city_supervisor(principal, registry))


@bp.post("/workspace/cases/<case_id>/route")
@signed_in("supervisor")
@csrf_checked
def route(principal: Principal, case_id: str):
    return route_form(principal, case_id, ctx(), case_page)


@bp.post("/workspace/cases/<case_id>/supervise")
@signed_in("supervisor")
@csrf_checked
def supervise(principal: Principal, case_id: str):
    return supervise_form(principal, case_id, ctx(), case_page)


def _refusal(exc: CaseError, texts: dict[int, str]) -> tuple[int, str]:
    if isinstance(exc, CaseNotFound):
        raise exc
    status = problem_for(exc).status
    return status, texts.get(status, str(exc))


def route_form(principal: Principal, case_id: str, ctx: handlers.Context, case_page: Callable[..., Any]):
    """The route form posted: route the case, or show the form again with the reason."""
    shown = {"unit": request.form.get("unit", ""), "note": request.form.get("note", "")}
    try:
        body = RouteBody().load({k: v.strip() for k, v in shown.items() if v.strip()})
        handlers.route_case(case_id, principal, body["unit"], body.get("note"), ctx)
    except ValidationError:
        return case_page(principal, case_id, 422, values=shown, errors=_form_error("f-unit", ROUTE_TEXT[422]))
    except CaseError as exc:
        status, text = _refusal(exc, ROUTE_TEXT)
        return case_page(principal, case_id, status, values=shown, errors=_form_error("f-unit", text))
    return redirect(url_for("workspace.case", case_id=case_id, routed="yes"), 303)


def supervise_form(principal: Principal, case_id: str, ctx: handlers.Context, case_page: Callable[..., Any]):
    """The supervise form posted: 重点督办, or show the form again with the reason."""
    shown = {"note": request.form.get("note", ""), "due_at": request.form.get("due_at", "")}
    payload = {"note": shown["note"].strip()} if shown["note"].strip() else {}
    if (due := _due(shown["due_at"])) is not None:
        payload["due_at"] = due
    try:
        body = SuperviseBody().load(payload)
        handlers.supervise_case(case_id, principal, body["note"], body["due_at"], ctx)
    except ValidationError as exc:
        field = "f-note" if "note" in exc.messages else "f-due_at"
        text = "请填写督办意见（最多 2000 字）。" if field == "f-note" else "请按 年-月-日 填写督办期限。"
        return case_page(principal, case_id, 422, values=shown, errors=_form_error(field, text))
    except CaseError as exc:
        status, text = _refusal(exc, SUPERVISE_TEXT)
        field = "f-due_at" if status == 422 else "f-note"
        return case_page(principal, case_id, status, values=shown, errors=_form_error(field, text))
    return redirect(url_for("workspace.case", case_id=case_id, supervised="yes"), 303)
