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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from marshmallow import ValidationError
from mongoengine.connection import get_db
from pymongo.errors import ConnectionFailure
from werkzeug.datastructures import MultiDict

from shared.auth import KeyCache, Principal, failed_authentication, failures_wait
from shared.csrf import CSRF_FIELD, CsrfGuard
from shared.forms import FormErrors
from shared.kafka import DependencyDown
from shared.problems import Problem, flatten
from shared.times import CHINA_TIME as CHINA
from shared.vocabulary import (
    CATEGORY_LABELS,
    DISPOSITION_LABELS,
    ESCALATION_MODE_LABELS,
    ESCALATION_REASON_LABELS,
    OUTCOME_LABELS,
    RANK_LABELS,
    SOURCE_LABELS,
)

from . import casework_pages, handlers, queries, store
from .access import escalation_visible
from .api import CloseBody
from .documents import OPEN_STATUSES
from .model import CaseError
from .pages_reports import add_report_pages
from .problems import problem_for
from .registry import Registry
from .sessions import COOKIE_PATH, SESSION_COOKIE, Sessions  # noqa: F401 - SESSION_COOKIE for callers
from .sessions import configure as configure_sessions

CSRF_COOKIE = "workspace_csrf"
ROLES = ("cadre", "supervisor")
LIST_LIMIT = 500

STATUS_LABELS = {
    "queued": "排队待分配",
    "assigned": "办理中",
    "supervised": "重点督办中",
    "reopened": "异议复查中",
    "closed": "已办结",
}
ROLE_LABELS = {"cadre": "办案干部", "supervisor": "监督人员", "leader": "领导", "handler": "承办人"}
ACTION_LABELS = {
    "received": "收到线索",
    "assigned": "分配承办",
    "queued": "进入待分配队列",
    "listed": "列表查看",
    "read": "查看案件",
    "clue_linked": "并入重复线索",
    "escalated": "提级直查",
    "supervised": "重点督办",
    "closed": "办结",
    "reopened": "因异议重新复查",
    "follow_up": "举报人补充情况",
    "objection": "举报人提出异议",
    "routed": "分办",
    "reassigned": "改派承办人",
    "deadline_changed": "调整办理期限",
}
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
_ERRORS = {
    "Missing data for required field.": "此项为必填项。",
    "Not a valid list.": "请从列表中选择。",
    "Not a valid string.": "请填写文字。",
}
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Length must be between 1 and (\d+)\."), "此项为必填项，最多 {0} 字。"),
    (re.compile(r"Longer than maximum length (\d+)\."), "最多选择 {0} 项。"),
    (re.compile(r"Must be one of: .*"), "请从列表中选择。"),
]


def error_text(message: str) -> str:
    """A schema error message in Chinese (unknown ones as they are)."""
    if message in _ERRORS:
        return _ERRORS[message]
    for pattern, text in _PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return text.format(*match.groups())
    return message


def form_errors(flat: dict[str, list[str]]) -> FormErrors:
    """Map the schema's dotted error paths (outcomes.0 ...) to the close form's inputs."""
    errors = FormErrors({}, [])
    for path, messages in flat.items():
        input_id = CLOSE_FIELDS.get(path.split(".")[0], "f-form")
        for message in messages:
            shown = error_text(message)
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


# --- time and deadlines --------------------------------------------------------------------------


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as China time text ("" for None; naive times are UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA).strftime(fmt)


def deadline_text(case: dict[str, Any], now: datetime) -> str:
    """How far the deadline is, in words: 已逾期 N 天 / 剩余 N 天 / 今日到期."""
    if case["status"] not in OPEN_STATUSES:
        return ""
    days = (case["due_at"] - now).total_seconds() / 86400
    if case["overdue"]:
        return f"已逾期 {max(1, int(-days))} 天"
    if days < 1:
        return "今日到期"
    return f"剩余 {int(days)} 天"


def by_deadline(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open cases, overdue ones first, each group by due date (soonest first)."""
    return sorted(items, key=lambda c: (not c["overdue"], c["due_at"]))


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """The quarter's start and end (exclusive) in China time."""
    start = datetime(year, 3 * (quarter - 1) + 1, 1, tzinfo=CHINA)
    end = datetime(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1, tzinfo=CHINA)
    return start, end


# --- charts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar of a horizontal bar chart, laid out in SVG user units."""

    label: str
    value: float
    text: str
    y: float
    width: float
    full: float  # the track's width (capacity bars) or the scale's


def bar_rows(
    rows: list[tuple[str, float, float, str]], track: float = 360.0, height: float = 28.0
) -> list[Bar]:
    """Lay out bars: each row is (label, value, scale, text); a bar is value/scale of `track`."""
    bars = []
    for i, (label, value, scale, text) in enumerate(rows):
        width = 0.0 if scale <= 0 else track * min(1.0, max(0.0, value / scale))
        bars.append(Bar(label, value, text, i * height, round(width, 1), track))
    return bars


def chart(rows: list[tuple[str, float]], track: float = 360.0) -> list[Bar]:
    """Bars of plain counts on one scale (the largest count fills the track)."""
    top = max([v for _, v in rows] + [1])
    return bar_rows([(label, value, top, f"{value:g}") for label, value in rows], track)


# --- session, CSRF: see sessions.py -------------------------------------------------------------


# --- the blueprint -------------------------------------------------------------------------------


def create_workspace_blueprint(secret_key: bytes, secure: bool = False) -> Blueprint:
    """The workspace pages at /workspace (call inside an app whose database is connected);
    `secret_key` signs the session cookie and the CSRF tokens, `secure` marks cookies Secure."""
    bp = Blueprint(
        "workspace",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/workspace/assets",
    )
    csrf = CsrfGuard(secret_key, "workspace-csrf", CSRF_COOKIE)
    keys = KeyCache()
    get_db()["workspace_secrets"].delete_many({})  # the old database-kept signing secret
    sessions = Sessions(get_db()["workspace_sessions"], keys)
    bp.record_once(lambda state: state.app.extensions.__setitem__("workspace.keys", keys))
    bp.record_once(lambda state: configure_sessions(state.app, secret_key, secure))

    def ctx() -> handlers.Context:
        return current_app.extensions["assignment.ctx"]

    def who(principal: Principal | None, registry: Registry) -> str:
        if principal is None:
            return ""
        if principal.role == "cadre":
            cadre = registry.cadre(principal.scope)
            return f"{ROLE_LABELS['cadre']} {cadre.name if cadre else principal.scope}"
        place = registry.jurisdiction(principal.scope)
        name = place.name if place else principal.scope
        chinese = re.search(r"[\u4e00-\u9fff]", name)  # "Chancheng 禅城区" -> "禅城区"
        return f"{name[chinese.start() :] if chinese else name}{ROLE_LABELS['supervisor']}"

    def render(
        template: str, status: int = 200, principal: Principal | None = None, **values: Any
    ) -> Response:
        token = csrf.token()
        registry = ctx().registry()
        body = render_template(
            f"workspace/{template}",
            principal=principal,
            who=who(principal, registry),
            csrf_field=CSRF_FIELD,
            csrf_token=token,
            errors=values.pop("errors", FormErrors({}, [])),
            values=values.pop("values", {}),
            unit_name=lambda code: _unit_name(registry, code),
            cadre_name=lambda cid: _cadre_name(registry, cid),
            labels=LABELS,
            local=local,
            **values,
        )
        resp = Response(body, status=status, mimetype="text/html")
        resp.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=secure or request.is_secure,
            path=COOKIE_PATH
        )
        return resp

    def message(status: int, title: str, text: str, principal: Principal | None = None) -> Response:
        return render("message.html", status, principal=principal, title=title, text=text)

    def signed_in(*roles: str) -> Callable:
        """Decorator: the view needs a session of one of `roles`; it gets the principal first."""

        def decorate(view: Callable) -> Callable:
            @wraps(view)
            def wrapped(*args, **kwargs):
                principal = sessions.current()
                if principal is None:
                    return redirect(url_for("workspace.sign_in"), 303)
                if principal.role not in roles:
                    return message(403, "无权查看", "此页面不对您的身份开放。", principal)
                return view(principal, *args, **kwargs)

            return wrapped

        return decorate

    def refused() -> Response | None:
        if csrf.passes():
            return None
        return message(400, "页面已过期", "为了安全，请返回并重新打开页面后再提交。", sessions.current())

    @bp.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Content-Security-Policy"] = (
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    @bp.errorhandler(Problem)
    def _problem(exc: Problem):
        text = {403: "此案件不在您的办理范围内。", 404: "没有这个案件。"}.get(
            exc.status, exc.detail or exc.title
        )
        return message(
            exc.status, {403: "无权查看", 404: "未找到"}.get(exc.status, "无法完成"), text, sessions.current()
        )

    @bp.errorhandler(CaseError)
    def _case_error(exc: CaseError):
        return _problem(problem_for(exc))

    @bp.errorhandler(ConnectionFailure)
    @bp.errorhandler(DependencyDown)
    def _down(exc: Exception):
        resp = message(503, "系统暂时无法使用", "请稍后再试。")
        resp.headers["Retry-After"] = "5"
        return resp

    @bp.get("/workspace")
    def home():
        principal = sessions.current()
        if principal is None:
            return redirect(url_for("workspace.sign_in"), 303)
        return redirect(
            url_for("workspace.my_cases" if principal.role == "cadre" else "workspace.queue"), 303
        )

    @bp.get("/workspace/sign-in")
    def sign_in():
        return render("sign_in.html")

    @bp.post("/workspace/sign-in")
    def sign_in_post():
        bad = refused()
        if bad:
            return bad
        wait = failures_wait()
        if wait:  # the same limit on guessing keys as the API's
            resp = message(429, "尝试次数过多", f"请 {wait} 秒后再试。")
            resp.headers["Retry-After"] = str(wait)
            return resp
        token = request.form.get("key", "")
        principal = sessions.principal_for_token(token)
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
        sessions.sign_in(principal)
        return redirect(url_for("workspace.home"), 303)

    @bp.post("/workspace/sign-out")
    def sign_out():
        bad = refused()
        if bad:
            return bad
        sessions.sign_out()
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

    def case_page(principal: Principal, case_id: str, status: int = 200, **values: Any) -> Response:
        c = ctx()
        now = c.clock()
        case = queries.case_detail(case_id, principal, c.registry(), now)
        values.update(casework_pages.case_actions(principal, case, c.registry()))
        can_close = (
            principal.role == "cadre"
            and case["status"] in OPEN_STATUSES
            and principal.scope in {case.get("cadre_id"), case.get("lead_cadre_id")}
        )
        return render(
            "case.html",
            status,
            principal=principal,
            case=case,
            can_close=can_close,
            deadline=deadline_text(case, now),
            **values,
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
    def close(principal: Principal, case_id: str):
        bad = refused()
        if bad:
            return bad
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
        except (Problem, CaseError) as error:
            exc = error if isinstance(error, Problem) else problem_for(error)
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
                    "name": _unit_name(registry, code),
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
        found = store.escalations_touching(units)
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

    add_report_pages(bp, ctx, render, signed_in, chart)  # duties, review batches, statistics

    casework_pages.register(
        bp,
        render=render,
        signed_in=signed_in,
        refused=refused,
        case_page=case_page,
        ctx=ctx,
        deadline_text=deadline_text,
    )

    from . import practice_pages  # networks, a case's relationship map, recommendations to bureaus
    practice_pages.register(bp, signed_in, render, refused, ctx)
    return bp


LABELS = {
    "status": STATUS_LABELS,
    "category": CATEGORY_LABELS,
    "source": SOURCE_LABELS,
    "rank": RANK_LABELS,
    "disposition": DISPOSITION_LABELS,
    "outcome": OUTCOME_LABELS,
    "reason": ESCALATION_REASON_LABELS,
    "mode": ESCALATION_MODE_LABELS,
    "action": ACTION_LABELS,
    "role": ROLE_LABELS,
}


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    return int(raw) if raw and raw.isdigit() and low <= int(raw) <= high else default


def _unit_name(registry: Registry, code: str | None) -> str:
    unit = registry.unit(code) if code else None
    return unit.name if unit else (code or "")


def _cadre_name(registry: Registry, cadre_id: str | None) -> str:
    cadre = registry.cadre(cadre_id) if cadre_id else None
    return cadre.name if cadre else (cadre_id or "")
