"""The reporter's pages (Chinese by default, English with ?lang=en): submit a clue, keep the receipt,
look it up, add information or object.

Plain HTML forms posted to intake's own routes. Each route builds the JSON body the public API
takes and runs it through the same schemas and handlers, so a clue from the page is validated
and stored exactly like one from POST /v1/clues (source `public_report`, posted as the web's own
frontline unit). Nothing here logs or echoes the reporter's identity, except back into their own
form after a validation error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request
from marshmallow import ValidationError
from pymongo.errors import ConnectionFailure
from werkzeug.datastructures import MultiDict

from services.intake import follow_ups, handlers, receipts
from services.intake.api import CLUE_SCHEMA, FOLLOW_UP_SCHEMA, LOOKUP_SCHEMA, IntakeContext
from services.intake.limits import TooManyAttempts, limited_after, receipt_limit
from services.intake.page_forms import (
    IDENTITY_INPUTS,
    NO_ERRORS,
    WEB_CHANNELS,
    Places,
    clue_payload,
    form_errors,
    load_places,
)
from services.intake.page_texts import label, text
from services.intake.settings import IntakeSettings
from shared import catalogs
from shared.catalogs import locale_lang
from shared.csrf import CSRF_FIELD, CsrfGuard
from shared.forms import FormErrors
from shared.i18n import LANGS
from shared.kafka import DependencyDown
from shared.problems import flatten
from shared.times import CHINA_TIME as CHINA
from shared.vocabulary import CATEGORY_LABELS, CLUE_STATUS_LABELS, RANK_LABELS
from shared.web import serve_base_stylesheet

LANG_COOKIE = "reporter_lang"
CSRF_COOKIE = "reporter_csrf"

def page_lang() -> str:
    """The page's language, Flask-Babel's locale selector: ?lang= when given, else the remembered
    cookie, else Chinese."""
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in LANGS else "zh"


def china_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


bp = Blueprint("reporter", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets/reporter")
serve_base_stylesheet(bp)


@dataclass(frozen=True)
class ReporterPages:
    """The extension behind the pages: the form's places, the channels offered (only those
    notify is configured to deliver, INTAKE_REPORTER_CHANNELS) and the CSRF guard."""

    places: Places
    offered: tuple[str, ...]
    csrf: CsrfGuard


def init_app(app: Flask, settings: IntakeSettings, registry: dict[str, Any]) -> None:
    """The reporter's pages at /, /report, /receipt and /card/<code> on `app`; the posts share
    the receipt routes' rate limit, counted once their CSRF check passed."""
    from services.intake import card_pages  # noqa: F401 - the card holder's page joins bp

    app.extensions["reporter_pages"] = ReporterPages(
        load_places(registry, settings.registry_file),
        tuple(c for c in WEB_CHANNELS if c in settings.reporter_channels),
        CsrfGuard(settings.receipt_key, "reporter-pages-csrf", CSRF_COOKIE))
    catalogs.init_app(app, locale_selector=page_lang)
    app.jinja_env.globals["t"] = text
    app.register_blueprint(bp)


def pages() -> ReporterPages:
    return current_app.extensions["reporter_pages"]


def ctx() -> IntakeContext:
    return current_app.extensions["intake"]


def secure() -> bool:
    return request.is_secure or ctx().settings.common.production


def render(template: str, status: int = 200, **values: Any) -> Response:
    lang = locale_lang()
    token = pages().csrf.token()
    body = render_template(
        f"reporter/{template}", lang=lang, html_lang="zh-CN" if lang == "zh" else "en",
        csrf_field=CSRF_FIELD, csrf_token=token,
        switch_path=request.path if request.path in ("/", "/report", "/receipt") else "/receipt",
        errors=values.pop("errors", NO_ERRORS), values=values.pop("values", {}), **values)
    resp = Response(body, status=status, mimetype="text/html")
    resp.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=secure(),
                    path="/")
    return resp


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Security-Policy"] = ("default-src 'self'; form-action 'self'; "
                                               "frame-ancestors 'none'; base-uri 'none'")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    asked = request.args.get("lang")
    if asked in LANGS:
        resp.set_cookie(LANG_COOKIE, asked, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                        secure=secure(), path="/")
    return resp


@bp.errorhandler(TooManyAttempts)
def _too_many(exc: TooManyAttempts):
    wait = exc.retry_after
    resp = render("message.html", 429, title="busy_title", body=text("busy_body", wait=wait))
    resp.headers["Retry-After"] = str(wait)
    return resp


def checked(code: str) -> Any:
    """The receipt code's failure counter around a use of the receipt (see `limits`)."""
    digest = receipts.code_digest(ctx().keys.receipt_key, code)
    return receipt_limit().code_attempt(digest, handlers.ReceiptNotFound)


@bp.errorhandler(ConnectionFailure)
@bp.errorhandler(DependencyDown)
def _down(exc: Exception):
    resp = render("message.html", 503, title="down_title", body=text("down_body"))
    resp.headers["Retry-After"] = "5"
    return resp


def guard() -> Response | None:
    if pages().csrf.passes():
        return None
    return render("message.html", 400, title="csrf_title", body=text("csrf_body"))


def report_form(status: int = 200, form: MultiDict | None = None,
                errors: FormErrors = NO_ERRORS) -> Response:
    values = dict(form.items()) if form is not None else {"reporter.anonymous": "yes"}
    if values.get("reporter.anonymous") != "no":
        for name in IDENTITY_INPUTS:  # an anonymous reporter's identity is never sent back
            values.pop(name, None)
    return render("report.html", status, values=values, errors=errors, places=pages().places,
                  categories=[(c, label(zh)) for c, zh in CATEGORY_LABELS.items()],
                  ranks=[(r, label(zh)) for r, zh in RANK_LABELS.items()],
                  channels=pages().offered)


def status_page(code: str, secret: str, status: int = 200, errors: FormErrors = NO_ERRORS,
                message: str = "", notice: str | None = None) -> Response:
    found = follow_ups.lookup(code, secret, ctx().keys,
                              quiet_days=ctx().settings.common.still_handling_days)
    # The timeline's lines are stored in both languages (intake/status.py, from the catalog).
    shown = "message_en" if locale_lang() == "en" else "message_zh"
    updates = [{"at": china_time(u["at"]), "text": u[shown]} for u in found["updates"]]
    status_label = label(CLUE_STATUS_LABELS[found["status"]])
    return render("status.html", status, status_code=found["status"], status_label=status_label,
                  updates=updates, code=code, secret=secret, errors=errors,
                  values={"message": message}, notice=notice)


def lookup_form(status: int = 200, errors: FormErrors = NO_ERRORS, code: str = "",
                notice: str | None = None) -> Response:
    return render("lookup.html", status, errors=errors, values={"code": code}, notice=notice)


@bp.get("/")
def home():
    return render("home.html")


@bp.get("/report")
def report():
    return report_form()


@bp.post("/report")
@limited_after(guard)
def submit():
    payload = clue_payload(request.form, locale_lang())
    try:
        data = CLUE_SCHEMA.load(payload)
    except ValidationError as exc:
        return report_form(422, request.form, form_errors(flatten(exc.messages)))
    channel = data["reporter"].get("channel")
    if channel is not None and channel not in pages().offered:
        return report_form(422, request.form,
                           form_errors({"reporter.channel": [text("channel_unavailable")]}))
    context = ctx()
    body, _ = handlers.post_clue(data, ctx().settings.web_frontline_unit, context.keys, outbox=context.outbox)
    return render("receipt.html", code=body["receipt"]["code"], secret=body["receipt"]["secret"],
                  received_at=china_time(body["received_at"]))


@bp.get("/receipt")
def receipt():
    noted = text("noted_notice") if request.args.get("noted") == "yes" else None
    return lookup_form(notice=noted)


@bp.post("/receipt")
@limited_after(guard)
def look_up():
    form = request.form
    try:
        data = LOOKUP_SCHEMA.load({k: form[k] for k in ("code", "secret") if form.get(k, "").strip()})
    except ValidationError as exc:
        return lookup_form(422, form_errors(flatten(exc.messages)), code=form.get("code", ""))
    try:
        with checked(data["code"]):
            return status_page(data["code"], data["secret"])
    except handlers.ReceiptNotFound:
        return lookup_form(404, form_errors({"code": [text("not_found")]}),
                           code=form.get("code", ""))


@bp.post("/receipt/messages")
@limited_after(guard)
def follow_up():
    form = request.form
    payload: dict[str, Any] = {k: form[k] for k in ("code", "secret", "message")
                               if form.get(k, "").strip()}
    payload["objection"] = form.get("objection") == "yes"
    try:
        data = FOLLOW_UP_SCHEMA.load(payload)
    except ValidationError as exc:
        flat = flatten(exc.messages)
        if "code" in flat or "secret" in flat:
            return lookup_form(422, form_errors(flat))
        try:
            with checked(payload["code"]):
                return status_page(payload["code"], payload["secret"], 422, form_errors(flat),
                                   message=form.get("message", ""))
        except handlers.ReceiptNotFound:
            return lookup_form(404, form_errors({"code": [text("not_found")]}))
    context = ctx()
    try:
        with checked(data["code"]):
            follow_ups.follow_up(data["code"], data["secret"], data["message"], data["objection"],
                                 context.keys, outbox=context.outbox)
    except handlers.ReceiptNotFound:
        return lookup_form(404, form_errors({"code": [text("not_found")]}))
    try:
        return status_page(data["code"], data["secret"], notice=text("sent_notice"))
    except (ConnectionFailure, DependencyDown):  # stored: never say "nothing was saved"
        return render("message.html", 202, title="follow_up_title", body=text("sent_notice"))
