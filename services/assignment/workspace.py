"""The workspace's blueprint and what every workspace page shares: the signed-in principal, the
CSRF guard, rendering with the labels, the refusal and error pages, the security headers.

`bp` is module level; the view modules (pages.py, casework_pages.py, pages_reports.py,
practice_pages.py) add their views to it when imported, and `init_app` gives an app the
extension behind them (sessions, key cache, CSRF guard) and registers the blueprint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, request, url_for
from mongoengine.connection import get_db
from pymongo.errors import ConnectionFailure

from shared.auth import KeyCache, Principal
from shared.csrf import CSRF_FIELD, CsrfGuard
from shared.forms import FormErrors
from shared.kafka import DependencyDown
from shared.problems import Problem
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
from shared.web import serve_base_stylesheet

from . import handlers
from .errors import DomainError
from .model import OPEN_STATUSES
from .problems import problem_for
from .registry import Registry
from .sessions import COOKIE_PATH, Sessions
from .sessions import configure as configure_sessions

CSRF_COOKIE = "workspace_csrf"
STATUS_LABELS = {
    "queued": "排队待分配",
    "assigned": "办理中",
    "supervised": "重点督办中",
    "reopened": "异议复查中",
    "closed": "已办结",
}
ROLE_LABELS = {"cadre": "办案干部", "supervisor": "监督人员", "leader": "领导", "handler": "承办人"}
ACTION_LABELS = {
    "received": "收到线索", "assigned": "分配承办", "queued": "进入待分配队列", "listed": "列表查看",
    "read": "查看案件", "clue_linked": "并入重复线索", "escalated": "提级直查", "supervised": "重点督办",
    "closed": "办结", "reopened": "因异议重新复查", "follow_up": "举报人补充情况",
    "objection": "举报人提出异议", "routed": "分办", "reassigned": "改派承办人",
    "deadline_changed": "调整办理期限",
}
LABELS = {
    "status": STATUS_LABELS, "category": CATEGORY_LABELS, "source": SOURCE_LABELS, "rank": RANK_LABELS,
    "disposition": DISPOSITION_LABELS, "outcome": OUTCOME_LABELS, "reason": ESCALATION_REASON_LABELS,
    "mode": ESCALATION_MODE_LABELS, "action": ACTION_LABELS, "role": ROLE_LABELS,
}

bp = Blueprint("workspace", __name__, template_folder="templates", static_folder="static",
               static_url_path="/workspace/assets")
serve_base_stylesheet(bp)


class Workspace:
    """The extension behind the pages: `secret_key` signs the session cookie and the CSRF
    tokens, `secure` marks cookies Secure. Call inside an app whose database is connected."""

    def __init__(self, app: Flask, secret_key: bytes, secure: bool = False) -> None:
        self.secure = secure
        self.csrf = CsrfGuard(secret_key, "workspace-csrf", CSRF_COOKIE)
        self.keys = KeyCache()
        get_db()["workspace_secrets"].delete_many({})  # the old database-kept signing secret
        self.sessions = Sessions(get_db()["workspace_sessions"], self.keys)
        configure_sessions(app, secret_key, secure)
        app.extensions["workspace"] = self
        app.extensions["workspace.keys"] = self.keys


def init_app(app: Flask, secret_key: bytes, secure: bool = False) -> None:
    Workspace(app, secret_key, secure)
    app.register_blueprint(bp)


def workspace() -> Workspace:
    return current_app.extensions["workspace"]


def ctx() -> handlers.Context:
    return current_app.extensions["assignment.ctx"]


def current() -> Principal | None:
    return workspace().sessions.current()


def render(template: str, status: int = 200, principal: Principal | None = None, **values: Any) -> Response:
    kit = workspace()
    token = kit.csrf.token()
    registry = ctx().registry()
    body = render_template(
        f"workspace/{template}", principal=principal, who=who(principal, registry),
        csrf_field=CSRF_FIELD, csrf_token=token,
        errors=values.pop("errors", FormErrors({}, [])), values=values.pop("values", {}),
        unit_name=lambda code: unit_name(registry, code), cadre_name=lambda cid: cadre_name(registry, cid),
        labels=LABELS, local=local, **values,
    )
    resp = Response(body, status=status, mimetype="text/html")
    resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict",
                    secure=kit.secure or request.is_secure, path=COOKIE_PATH)
    return resp


def message(status: int, title: str, text: str, principal: Principal | None = None) -> Response:
    return render("message.html", status, principal=principal, title=title, text=text)


def signed_in(*roles: str) -> Callable:
    """Decorator: the view needs a session of one of `roles`; it gets the principal first."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            principal = current()
            if principal is None:
                return redirect(url_for("workspace.sign_in"), 303)
            if principal.role not in roles:
                return message(403, "无权查看", "此页面不对您的身份开放。", principal)
            return view(principal, *args, **kwargs)

        return wrapped

    return decorate


def refused() -> Response | None:
    """The page to answer instead when a form's CSRF token fails, else None."""
    if workspace().csrf.passes():
        return None
    return message(400, "页面已过期", "为了安全，请返回并重新打开页面后再提交。", current())


def csrf_checked(view: Callable) -> Callable:
    """Decorator for a form's POST view (under `signed_in`): `refused()`'s page instead of the
    view when the form's CSRF token fails."""

    @wraps(view)
    def checked(*args, **kwargs):
        return refused() or view(*args, **kwargs)

    return checked


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
    text = {403: "此案件不在您的办理范围内。", 404: "没有这个案件。"}.get(exc.status, exc.detail or exc.title)
    title = {403: "无权查看", 404: "未找到"}.get(exc.status, "无法完成")
    return message(exc.status, title, text, current())


@bp.errorhandler(DomainError)
def _refused(exc: DomainError):
    return _problem(problem_for(exc))


@bp.errorhandler(ConnectionFailure)
@bp.errorhandler(DependencyDown)
def _down(exc: Exception):
    resp = message(503, "系统暂时无法使用", "请稍后再试。")
    resp.headers["Retry-After"] = "5"
    return resp


# --- what the templates show ---------------------------------------------------------------------


def who(principal: Principal | None, registry: Registry) -> str:
    """The signed-in person as the page header names them."""
    if principal is None:
        return ""
    if principal.role == "cadre":
        cadre = registry.cadre(principal.scope)
        return f"{ROLE_LABELS['cadre']} {cadre.name if cadre else principal.scope}"
    place = registry.jurisdiction(principal.scope)
    name = place.name if place else principal.scope
    chinese = re.search(r"[\u4e00-\u9fff]", name)  # "Chancheng 禅城区" -> "禅城区"
    return f"{name[chinese.start() :] if chinese else name}{ROLE_LABELS['supervisor']}"


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


def unit_name(registry: Registry, code: str | None) -> str:
    unit = registry.unit(code) if code else None
    return unit.name if unit else (code or "")


def cadre_name(registry: Registry, cadre_id: str | None) -> str:
    cadre = registry.cadre(cadre_id) if cadre_id else None
    return cadre.name if cadre else (cadre_id or "")
