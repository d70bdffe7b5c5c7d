"""Workspace pages for the seed's practices: networks handled jointly (协作办案), a case's
relationship map as a server-drawn SVG (关系图), and recommendations to bureaus (纪律检查建议/
监察建议). Views of the workspace blueprint (workspace.py), with its sessions, CSRF guard and
rendering; the same stores as the API (networks.py, casemap.py, recommendation_store.py)."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for
from marshmallow import ValidationError

from shared.auth import Principal
from shared.forms import FormErrors, error_text
from shared.i18n import N_
from shared.problems import flatten
from shared.vocabulary import PARTY_KIND_LABELS, RECOMMENDATION_KIND_LABELS

from . import casemap, networks, relmap
from . import recommendation_store as store
from . import recommendations as rules
from .errors import DomainError
from .practice_api import AnswerBody, RecommendationBody
from .problems import problem_for
from .workspace import bp, csrf_checked, ctx, render, signed_in

WHY_LABELS = {"several_firms": "一人关联多家企业/中介", "several_units": "一家企业关联多个单位的人员"}
REC_STATUS_LABELS = {
    "open": "整改中",
    "overdue": "逾期未反馈",
    "answered": "已反馈整改情况",
    "answered_late": "逾期后反馈",
}
KIND_COLOURS = {
    "subject": "#a4161a",
    "firm": "#1d70b8",
    "intermediary": "#6f3c97",
    "relative": "#00703c",
    "employer": "#505a5f",
    "unit": "#12355b",
}
NODE_KIND_LABELS = {"subject": "被反映人", **PARTY_KIND_LABELS, "employer": "所在单位", "unit": "承办单位"}
FIELD_IDS = {
    "bureau": "f-bureau",
    "kind": "f-kind",
    "text": "f-text",
    "due_on": "f-due_on",
    "answer": "f-answer",
    "answered_on": "f-answered_on",
}


def _errors(flat: dict[str, list[str]], prefix: str = "") -> FormErrors:
    errors = FormErrors({}, [])
    for path, messages in flat.items():
        input_id = prefix + FIELD_IDS.get(path.split(".")[0], "f-form")
        for message in messages:
            shown = {
                "Not a valid date.": N_("请填写日期，如 2026-12-31。"),
                "Must not be in the past.": N_("不能早于今天。"),
                "Must not be in the future.": N_("不能晚于今天。"),
            }.get(message, error_text(message))
            errors.by_input.setdefault(input_id, []).append(shown)
            errors.summary.append((input_id, "", shown))
    return errors


@bp.get("/workspace/networks")
@signed_in("cadre", "supervisor")
def networks_page(principal: Principal):
    items = networks.networks_for(principal, ctx().registry())
    return render(
        "networks.html", principal=principal, items=items, why=WHY_LABELS, party_kinds=PARTY_KIND_LABELS
    )


@bp.get("/workspace/cases/<case_id>/map")
@signed_in("cadre", "supervisor")
def case_map(principal: Principal, case_id: str):
    c = ctx()
    graph, centre = casemap.neighbourhood(case_id, principal, c.registry(), c.clock())
    graph, centre = casemap.opaque(graph, centre)
    drawing = relmap.layout(graph, centre) if graph.number_of_nodes() else relmap.Drawing(560, 160)
    legend = [(NODE_KIND_LABELS[k], KIND_COLOURS[k]) for k in KIND_COLOURS]
    return render(
        "case_map.html",
        principal=principal,
        case_id=case_id,
        drawing=drawing,
        colours=KIND_COLOURS,
        kinds=NODE_KIND_LABELS,
        legend=legend,
    )


def recommendations_page(principal: Principal, status: int = 200, **values: Any) -> Response:
    c = ctx()
    registry, now = c.registry(), c.clock()
    today = rules.china_today(now)
    this_year, this_quarter = rules.quarter_of(today)
    year = _int(request.args.get("year"), this_year, 2016, this_year)
    quarter = _int(request.args.get("quarter"), this_quarter, 1, 4)
    figures = store.quarter_figures(principal.scope, registry, year, quarter)
    bureaus = [
        (code, registry.employer(code).name) for code in store.bureaus_within(principal.scope, registry)
    ]
    items = store.listing(principal, registry, now)
    return render(
        "recommendations.html",
        status,
        principal=principal,
        figures=figures,
        bureaus=bureaus,
        bureau_name=dict(bureaus),
        year=year,
        quarter=quarter,
        years=range(this_year - 2, this_year + 1),
        items=items,
        overdue=[i for i in items if i["status"] == "overdue"],
        kinds=RECOMMENDATION_KIND_LABELS,
        statuses=REC_STATUS_LABELS,
        today=today.isoformat(),
        **values,
    )


@bp.get("/workspace/recommendations")
@signed_in("supervisor")
def recommendations(principal: Principal):
    notice = {"issued": "已发出建议。", "answered": "已记录整改反馈。"}.get(request.args.get("done", ""))
    return recommendations_page(principal, notice=notice)


@bp.post("/workspace/recommendations")
@signed_in("supervisor")
@csrf_checked
def issue(principal: Principal):
    form = request.form
    payload = {
        k: form.get(k, "").strip()
        for k in ("bureau", "kind", "text", "due_on")
        if form.get(k, "").strip()
    }
    try:
        body = RecommendationBody().load(payload)
        c = ctx()
        store.issue(body, principal, c.registry(), c.clock())
    except ValidationError as exc:
        return recommendations_page(
            principal, 422, errors=_errors(flatten(exc.messages)), values=dict(form)
        )
    except DomainError as refusal:
        exc = problem_for(refusal)
        if exc.status not in (403, 422):
            raise
        flat = exc.errors or {"_form": [exc.detail or exc.title]}
        return recommendations_page(principal, exc.status, errors=_errors(flat), values=dict(form))
    return redirect(url_for("workspace.recommendations", done="issued"), 303)


@bp.post("/workspace/recommendations/<rec_id>/answer")
@signed_in("supervisor")
@csrf_checked
def answer(principal: Principal, rec_id: str):
    form = request.form
    payload = {k: form.get(k, "").strip() for k in ("answer", "answered_on") if form.get(k, "").strip()}
    prefix = f"r{rec_id}-"
    try:
        body = AnswerBody().load(payload)
        c = ctx()
        store.record_answer(
            rec_id, body["answer"], body["answered_on"], principal, c.registry(), c.clock()
        )
    except ValidationError as exc:
        return recommendations_page(principal, 422, errors=_errors(flatten(exc.messages), prefix))
    except DomainError as refusal:
        exc = problem_for(refusal)
        if exc.status not in (409, 422):
            raise
        flat = exc.errors or {"_form": [exc.detail or exc.title]}
        return recommendations_page(principal, exc.status, errors=_errors(flat, prefix))
    return redirect(url_for("workspace.recommendations", done="answered"), 303)


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    return int(raw) if raw and raw.isdigit() and low <= int(raw) <= high else default
