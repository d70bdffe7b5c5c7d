"""The case officers' workspace at /workspace: server-rendered pages over the same queries and
handlers as the API (API.md, Assignment), in Chinese.

- Sign in with an API key typed into a form. The session is a random server-side id (see
  `sessions`: stored as a digest, deleted at sign-out) in Flask's session cookie, signed with
  WORKSPACE_SECRET_KEY, HttpOnly, SameSite=Strict, Secure in production, path /workspace; the
  key is looked up on every request, so a revoked key stops working within seconds.
- A cadre sees their cases (overdue first, marked in red and in words), a case's escalations and
  audit trail, and closes it with the form, validated by the API's CloseBody and closed by
  `handlers.close_case`. Reading a case here is audited like GET /v1/cases/{id}.
- A supervisor sees the jurisdiction's queue, workload per cadre against capacity, escalations
  with their reasons, and the quarter's figures of GET /v1/stats with an SVG chart.

Posts carry a signed double-submit CSRF token, as the reporter pages do. No JavaScript.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, redirect, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from shared.auth import Principal, failed_authentication, failures_wait
from shared.forms import FormErrors, error_text
from shared.i18n import N_
from shared.problems import flatten

from . import handlers, pages_reports, practice_pages, queries, store  # noqa: F401 - views join bp
from . import workspace as kit
from .access import escalation_visible
from .api import CloseBody
from .casework_pages import case_page
from .charts import bar_rows
from .documents import OPEN_STATUSES
from .errors import DomainError
from .problems import problem_for
from .sessions import SESSION_COOKIE  # noqa: F401 - for callers
from .workspace import (
    bp,
    by_deadline,
    csrf_checked,
    ctx,
    current,
    deadline_text,
    message,
    render,
    signed_in,
    unit_name,
    workspace,
)

ROLES = ("cadre", "supervisor")
LIST_LIMIT = 500
CLOSE_FIELDS = {
    "disposition": "f-disposition",
    "outcomes": "f-outcomes",
    "reporter_summary": "f-reporter_summary",
}
FIELD_LABELS = {
    "f-disposition": "处置方式",
    "f-outcomes": "处理结果",
    "f-reporter_summary": "向举报人反馈的内容",
}
# Here the only length limit with a maximum alone is the outcomes list's.
_WORDING = [(re.compile(r"Longer than maximum length (\d+)\."), N_("最多选择 {0} 项。"))]


def init_app(app: Flask, secret_key: bytes, secure: bool = False) -> None:
    """The workspace on `app`: every view module's pages, on the blueprint of workspace.py."""
    kit.init_app(app, secret_key, secure)


def form_errors(flat: dict[str, list[str]]) -> FormErrors:
    """Map the schema's dotted error paths (outcomes.0 ...) to the close form's inputs."""
    errors = FormErrors({}, [])
    for path, messages in flat.items():
        input_id = CLOSE_FIELDS.get(path.split(".")[0], "f-form")
        for message_ in messages:
            shown = error_text(message_, first=_WORDING)
            if shown in errors.by_input.get(input_id, []):
                continue
            errors.by_input.setdefault(input_id, []).append(shown)
            errors.summary.append((input_id, FIELD_LABELS.get(input_id, ""), shown))
    return errors


def close_payload(form: MultiDict) -> dict[str, Any]:
    """The POST /v1/cases/{id}/close body the form stands for (blank inputs left out: "required")."""
    body: dict[str, Any] = {"outcomes": form.getlist("outcomes")}
    for name in ("disposition", "reporter_summary"):
        value = (form.get(name) or "").strip()
        if value:
            body[name] = value
    return body


@bp.get("/workspace")
def home():
    principal = current()
    if principal is None:
        return redirect(url_for("workspace.sign_in"), 303)
    return redirect(url_for("workspace.my_cases" if principal.role == "cadre" else "workspace.queue"), 303)


@bp.get("/workspace/sign-in")
def sign_in():
    return render("sign_in.html")

@bp.post("/workspace/sign-in")
@csrf_checked
def sign_in_post():
    wait = failures_wait()
    if wait:  # the same limit on guessing keys as the API's
        resp = message(429, "尝试次数过多", f"请 {wait} 秒后再试。")
        resp.headers["Retry-After"] = str(wait)
        return resp
    token = request.form.get("key", "")
    principal = workspace().sessions.principal_for_token(token)
    if token.strip() and principal is None:
        failed_authentication()
    if not token.strip():
        problem = "请输入密钥。"
    elif principal is None:
        problem = "密钥不正确或已被吊销。"
    elif principal.role not in ROLES:
        problem = "此密钥不能登录工作台（仅限办案干部和监督人员）。"
    else:
        problem = ""
    if problem:
        errors = FormErrors({"f-key": [problem]}, [("f-key", "密钥", problem)])
        return render("sign_in.html", 401, errors=errors)
    workspace().sessions.sign_in(principal)
    return redirect(url_for("workspace.home"), 303)

@bp.post("/workspace/sign-out")
@csrf_checked
def sign_out():
    workspace().sessions.sign_out()
    return redirect(url_for("workspace.sign_in", out="yes"), 303)

@bp.get("/workspace/cases")
@signed_in("cadre")
def my_cases(principal: Principal):
    c = ctx()
    now = c.clock()
    items = queries.list_cases(principal, c.registry(), now, limit=LIST_LIMIT)["items"]
    open_cases = by_deadline([i for i in items if i["status"] in OPEN_STATUSES])
    closed = [i for i in items if i["status"] not in OPEN_STATUSES]
    return render(
        "cases.html",
        principal=principal,
        open_cases=open_cases,
        closed=closed,
        now=now,
        deadline_text=deadline_text,
        overdue_count=sum(1 for i in open_cases if i["overdue"]),
    )

@bp.get("/workspace/cases/<case_id>")
@signed_in("cadre", "supervisor")
def case(principal: Principal, case_id: str):
    notices = {
        "closed": "案件已办结，办理结果将告知举报人。",
        "routed": "案件已分办。",
        "supervised": "案件已列入重点督办。",
    }
    notice = next((text for name, text in notices.items() if request.args.get(name) == "yes"), None)
    return case_page(principal, case_id, notice=notice)

@bp.post("/workspace/cases/<case_id>/close")
@signed_in("cadre")
@csrf_checked
def close(principal: Principal, case_id: str):
    form = request.form
    shown = {
        "disposition": form.get("disposition", ""),
        "outcomes": form.getlist("outcomes"),
        "reporter_summary": form.get("reporter_summary", ""),
    }
    try:
        body = CloseBody().load(close_payload(form))
    except ValidationError as exc:
        return case_page(principal, case_id, 422, errors=form_errors(flatten(exc.messages)), values=shown)
    try:
        handlers.close_case(
            case_id, principal, body["disposition"], body["outcomes"], body["reporter_summary"], ctx()
        )
    except DomainError as error:
        exc = problem_for(error)
        if exc.status == 404:
            raise exc from None
        text = {
            403: "只有本案承办人或包案领导可以办结。",
            409: "案件已办结，或刚被他人修改，请刷新后再试。",
        }.get(exc.status, exc.detail or exc.title)
        return case_page(
            principal,
            case_id,
            exc.status,
            values=shown,
            errors=FormErrors({"f-form": [text]}, [("f-form", "", text)]),
        )
    return redirect(url_for("workspace.case", case_id=case_id, closed="yes"), 303)

@bp.get("/workspace/queue")
@signed_in("supervisor")
def queue(principal: Principal):
    c = ctx()
    registry, now = c.registry(), c.clock()
    queued = queries.list_cases(principal, registry, now, status="queued", limit=LIST_LIMIT)["items"]
    units = []
    for code in registry.units_within(principal.scope):
        work = queries.workload(code, principal, registry)
        rows = [
            (
                f"{w['name']}{'' if w['active'] else '（停用）'}",
                w["load"],
                w["capacity"],
                f"{w['load']} / {w['capacity']}",
            )
            for w in work["cadres"]
        ]
        units.append(
            {
                "code": code,
                "name": unit_name(registry, code),
                "queued": work["queued"],
                "capacity": work["capacity"],
                "load": sum(w["load"] for w in work["cadres"]),
                "cadres": work["cadres"],
                "bars": bar_rows(rows),
            }
        )
    return render(
        "queue.html",
        principal=principal,
        queued=by_deadline(queued),
        units=units,
        now=now,
        deadline_text=deadline_text,
    )

@bp.get("/workspace/escalations")
@signed_in("supervisor")
def escalations(principal: Principal):
    registry = ctx().registry()
    units = list(registry.units_within(principal.scope))
    found = store.case_store().escalations_touching(units)
    entries = [e for e in found if escalation_visible(e, principal, registry)]
    now = ctx().clock()
    watched = queries.supervised_cases(principal, registry, now)
    return render(
        "escalations.html",
        principal=principal,
        entries=entries,
        watched=watched,
        now=now,
        deadline_text=deadline_text,
    )

