"""What every reporter page shares: its language, rendering with the CSRF cookie, the CSRF check,
the security headers and the answers to a limit or a dependency down.

The app's `ReporterPages` extension (`init_app`) holds what the pages were configured with: the
registry's places, the reporter channels offered and the CSRF guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, render_template, request

from services.intake import handlers, receipts
from services.intake.limits import TooManyAttempts, current_limit
from services.intake.page_forms import NO_ERRORS, WEB_CHANNELS, Places, load_places
from services.intake.page_texts import text
from services.intake.settings import IntakeSettings
from shared.csrf import CSRF_FIELD, CsrfGuard
from shared.times import CHINA_TIME as CHINA

LANGS = ("zh", "en")
LANG_COOKIE = "reporter_lang"
CSRF_COOKIE = "reporter_csrf"
EXTENSION = "reporter_pages"


@dataclass(frozen=True)
class ReporterPages:
    """The reporter pages' configuration, on `app.extensions["reporter_pages"]`."""

    places: Places
    offered: tuple[str, ...]  # only the channels notify is configured to deliver
    csrf: CsrfGuard
    production: bool
    frontline_unit: str

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> ReporterPages:
        """Reads the registry file (SettingsError naming INTAKE_REGISTRY_FILE when it cannot)."""
        return cls(places=load_places(settings.registry_file),
                   offered=tuple(c for c in WEB_CHANNELS if c in settings.reporter_channels),
                   csrf=CsrfGuard(settings.receipt_key, "reporter-pages-csrf", CSRF_COOKIE),
                   production=settings.common.production, frontline_unit=settings.web_frontline_unit)

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self


def pages_config() -> ReporterPages:
    """The reporter pages' configuration of the app handling this request."""
    return current_app.extensions[EXTENSION]


def page_lang() -> str:
    """The page's language: ?lang= when given, else the remembered cookie, else Chinese."""
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in LANGS else "zh"


def china_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _secure() -> bool:
    return request.is_secure or pages_config().production


def render(template: str, status: int = 200, **values: Any) -> Response:
    """The reporter template `template` in the page's language, with a fresh CSRF token and cookie."""
    lang = page_lang()
    token = pages_config().csrf.token()
    body = render_template(
        f"reporter/{template}", lang=lang, html_lang="zh-CN" if lang == "zh" else "en",
        t=lambda key, **kw: text(key, lang, **kw), csrf_field=CSRF_FIELD, csrf_token=token,
        switch_path=request.path if request.path in ("/", "/report", "/receipt") else "/receipt",
        errors=values.pop("errors", NO_ERRORS), values=values.pop("values", {}), **values)
    resp = Response(body, status=status, mimetype="text/html")
    resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(), path="/")
    return resp


def guard() -> Response | None:
    """None when the form's CSRF token passes; else the page saying it expired (400)."""
    if pages_config().csrf.passes():
        return None
    return render("message.html", 400, title="csrf_title", body=text("csrf_body", page_lang()))


def checked(code: str) -> Any:
    """The receipt code's failure counter around a use of the receipt (see `limits`)."""
    digest = receipts.code_digest(current_app.extensions["intake"].keys.receipt_key, code)
    return current_limit().code_attempt(digest, handlers.ReceiptNotFound)


def page_headers(resp: Response) -> Response:
    """No caching, a strict CSP, and the ?lang= asked for remembered in a cookie."""
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = ("default-src 'self'; form-action 'self'; "
                                               "frame-ancestors 'none'; base-uri 'none'")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    asked = request.args.get("lang")
    if asked in LANGS:
        resp.set_cookie(LANG_COOKIE, asked, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                        secure=_secure(), path="/")
    return resp


def too_many_page(exc: TooManyAttempts) -> Response:
    wait = exc.retry_after
    resp = render("message.html", 429, title="busy_title", body=text("busy_body", page_lang(), wait=wait))
    resp.headers["Retry-After"] = str(wait)
    return resp


def down_page(exc: Exception) -> Response:
    resp = render("message.html", 503, title="down_title", body=text("down_body", page_lang()))
    resp.headers["Retry-After"] = "5"
    return resp
