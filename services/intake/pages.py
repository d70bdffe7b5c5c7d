"""The reporter's pages (Chinese by default, English with ?lang=en): submit a clue, keep the receipt,
look it up, add information or object.

Plain HTML forms posted to intake's own routes. Each route builds the JSON body the public API
takes and runs it through the same schemas and handlers, so a clue from the page is validated
and stored exactly like one from POST /v1/clues (source `public_report`, posted as the web's own
frontline unit). Nothing here logs or echoes the reporter's identity, except back into their own
form after a validation error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Flask, Response, current_app, render_template, request
from marshmallow import ValidationError
from pymongo.errors import ConnectionFailure
from werkzeug.datastructures import MultiDict

from services.intake import follow_ups, handlers, receipts
from services.intake.api import CLUE_SCHEMA, FOLLOW_UP_SCHEMA, LOOKUP_SCHEMA, IntakeContext
from services.intake.limits import TooManyAttempts, limited_after, receipt_limit
from services.intake.page_texts import TEXTS, label, text
from services.intake.settings import IntakeSettings
from shared.csrf import CSRF_FIELD, CsrfGuard
from shared.forms import FormErrors, error_text
from shared.i18n import LANGS
from shared.kafka import DependencyDown
from shared.problems import flatten
from shared.settings import SettingsError
from shared.times import CHINA_TIME as CHINA
from shared.vocabulary import CATEGORY_LABELS, CLUE_STATUS_LABELS, RANK_LABELS

LANG_COOKIE = "reporter_lang"
CSRF_COOKIE = "reporter_csrf"
_CJK = re.compile(r"[\u4e00-\u9fff]")

# Form inputs by the dotted path the schema reports errors under; contact details share one input.
FIELD_IDS: dict[str, str] = {
    "category": "f-category", "summary": "f-summary", "details": "f-details",
    "jurisdiction": "f-jurisdiction", "occurred_on": "f-occurred_on", "amount_cny": "f-amount_cny",
    "collusion": "f-collusion", "subject": "f-subject-name", "subject.name": "f-subject-name",
    "subject.position": "f-subject-position", "subject.employer": "f-subject-employer",
    "subject.rank": "f-subject-rank", "subject.party_member": "f-subject-party_member",
    "reporter": "f-reporter-anonymous", "reporter.anonymous": "f-reporter-anonymous",
    "reporter.name": "f-reporter-name", "reporter.channel": "f-reporter-channel",
    "reporter.email": "f-reporter-contact", "reporter.phone": "f-reporter-contact",
    "reporter.webhook_url": "f-reporter-contact", "reporter.lang": "f-reporter-anonymous",
    "code": "f-code", "secret": "f-secret", "message": "f-message", "objection": "f-objection",
}
IDENTITY_INPUTS = ("reporter.name", "reporter.channel", "reporter.contact")
WEB_CHANNELS = ("email", "sms")

@dataclass(frozen=True)
class Place:
    """A jurisdiction or employer of the registry, with its names for the page."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Places:
    """The choices of the form: jurisdictions grouped by district, and employers."""

    groups: list[tuple[Place, list[Place]]]
    employers: list[Place]


def _names(name: str) -> tuple[str, str]:
    """("石湾镇街道", "Shiwan") from "Shiwan 石湾镇街道"; a name without Chinese serves both."""
    match = _CJK.search(name)
    if not match:
        return name, name
    return name[match.start():].strip(), (name[:match.start()].strip() or name)


def load_places(path: str) -> Places:
    """The registry file's jurisdictions (city, districts, towns) and employers.

    Raises SettingsError naming INTAKE_REGISTRY_FILE when the file cannot be read.
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        rows = list(data.get("jurisdictions") or [])
        places = {row["code"]: Place(row["code"], *_names(str(row.get("name") or row["code"])))
                  for row in rows}
        employers = [Place(row["code"], *_names(str(row.get("name") or row["code"])))
                     for row in data.get("employers") or []]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise SettingsError(f"INTAKE_REGISTRY_FILE: cannot read the registry {path}: "
                            f"{type(exc).__name__}") from None
    tops = [row["code"] for row in rows if not row.get("parent") or row["parent"] not in places]
    groups: list[tuple[Place, list[Place]]] = []
    for top in tops:
        groups.append((places[top], [places[top]]))
        for district in (r["code"] for r in rows if r.get("parent") == top):
            towns = [places[r["code"]] for r in rows if r.get("parent") == district]
            groups.append((places[district], [places[district], *towns]))
    return Places(groups, employers)


def page_lang() -> str:
    """The page's language: ?lang= when given, else the remembered cookie, else Chinese."""
    asked = request.args.get("lang")
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in LANGS else "zh"


def _phone(text: str) -> str:
    """A mainland mobile number as typed (13800000000, 138 0000 0000) in the +86 form; else as typed."""
    digits = re.sub(r"[\s-]", "", text)
    if re.fullmatch(r"1[0-9]{10}", digits):
        return "+86" + digits
    if re.fullmatch(r"\+[0-9]+", digits):
        return digits
    return text


def _amount(text: str) -> int | str:
    cleaned = re.sub(r"[\s,，]", "", text)
    return int(cleaned) if re.fullmatch(r"[0-9]{1,15}", cleaned) else text


def _filled(form: MultiDict, name: str) -> str:
    return (form.get(name) or "").strip()


def clue_payload(form: MultiDict, lang: str) -> dict[str, Any]:
    """The POST /v1/clues body the form stands for; empty inputs are left out (so "required").

    An anonymous reporter's body carries nothing of who they are, whatever the form held.
    """
    body: dict[str, Any] = {"source": "public_report", "collusion": form.get("collusion") == "yes"}
    for name in ("category", "summary", "details", "jurisdiction", "occurred_on"):
        if _filled(form, name):
            body[name] = _filled(form, name)
    if _filled(form, "amount_cny"):
        body["amount_cny"] = _amount(_filled(form, "amount_cny"))
    subject: dict[str, Any] = {}
    for name in ("name", "position", "employer", "rank"):
        if _filled(form, f"subject.{name}"):
            subject[name] = _filled(form, f"subject.{name}")
    party = _filled(form, "subject.party_member")
    if party in ("yes", "no"):
        subject["party_member"] = party == "yes"
    body["subject"] = subject
    choice = form.get("reporter.anonymous")
    if choice == "yes":
        body["reporter"] = {"anonymous": True}
    elif choice == "no":
        reporter: dict[str, Any] = {"anonymous": False, "lang": lang}
        for name in ("name", "channel"):
            if _filled(form, f"reporter.{name}"):
                reporter[name] = _filled(form, f"reporter.{name}")
        contact = _filled(form, "reporter.contact")
        if contact and reporter.get("channel") == "email":
            reporter["email"] = contact
        elif contact and reporter.get("channel") == "sms":
            reporter["phone"] = _phone(contact)
        body["reporter"] = reporter
    else:
        body["reporter"] = {}
    return body


NO_ERRORS = FormErrors({}, [])


def form_errors(flat: dict[str, list[str]], lang: str) -> FormErrors:
    """Map the schema's dotted error paths to the form's inputs, in the page's language."""
    errors = FormErrors({}, [])
    for path, messages in flat.items():
        input_id = FIELD_IDS.get(path, "f-form")
        label_key = input_id[2:].replace("-", ".")  # "f-subject-name" is labelled by "subject.name"
        label = text(label_key, lang) if label_key in TEXTS else ""
        for message in messages:
            shown = error_text(message, lang)
            errors.by_input.setdefault(input_id, []).append(shown)
            errors.summary.append((input_id, label, shown))
    return errors


def china_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


bp = Blueprint("reporter", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets/reporter")


@dataclass(frozen=True)
class ReporterPages:
    """The extension behind the pages: the form's places, the channels offered (only those
    notify is configured to deliver, INTAKE_REPORTER_CHANNELS) and the CSRF guard."""

    places: Places
    offered: tuple[str, ...]
    csrf: CsrfGuard


def init_app(app: Flask, settings: IntakeSettings) -> None:
    """The reporter's pages at /, /report, /receipt and /card/<code> on `app`; the posts share
    the receipt routes' rate limit, counted once their CSRF check passed."""
    from services.intake import card_pages  # noqa: F401 - the card holder's page joins bp

    app.extensions["reporter_pages"] = ReporterPages(
        load_places(settings.registry_file),
        tuple(c for c in WEB_CHANNELS if c in settings.reporter_channels),
        CsrfGuard(settings.receipt_key, "reporter-pages-csrf", CSRF_COOKIE))
    app.register_blueprint(bp)


def pages() -> ReporterPages:
    return current_app.extensions["reporter_pages"]


def ctx() -> IntakeContext:
    return current_app.extensions["intake"]


def secure() -> bool:
    return request.is_secure or ctx().settings.common.production


def render(template: str, status: int = 200, **values: Any) -> Response:
    lang = page_lang()
    token = pages().csrf.token()
    body = render_template(
        f"reporter/{template}", lang=lang, html_lang="zh-CN" if lang == "zh" else "en",
        t=lambda key, **kw: text(key, lang, **kw), csrf_field=CSRF_FIELD, csrf_token=token,
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
    resp = render("message.html", 429, title="busy_title", body=text("busy_body", page_lang(), wait=wait))
    resp.headers["Retry-After"] = str(wait)
    return resp


def checked(code: str) -> Any:
    """The receipt code's failure counter around a use of the receipt (see `limits`)."""
    digest = receipts.code_digest(ctx().keys.receipt_key, code)
    return receipt_limit().code_attempt(digest, handlers.ReceiptNotFound)


@bp.errorhandler(ConnectionFailure)
@bp.errorhandler(DependencyDown)
def _down(exc: Exception):
    resp = render("message.html", 503, title="down_title", body=text("down_body", page_lang()))
    resp.headers["Retry-After"] = "5"
    return resp


def guard() -> Response | None:
    if pages().csrf.passes():
        return None
    return render("message.html", 400, title="csrf_title", body=text("csrf_body", page_lang()))


def report_form(status: int = 200, form: MultiDict | None = None,
                errors: FormErrors = NO_ERRORS) -> Response:
    values = dict(form.items()) if form is not None else {"reporter.anonymous": "yes"}
    if values.get("reporter.anonymous") != "no":
        for name in IDENTITY_INPUTS:  # an anonymous reporter's identity is never sent back
            values.pop(name, None)
    return render("report.html", status, values=values, errors=errors, places=pages().places,
                  categories=[(c, zh, label(zh, "en")) for c, zh in CATEGORY_LABELS.items()],
                  ranks=[(r, zh, label(zh, "en")) for r, zh in RANK_LABELS.items()],
                  channels=pages().offered)


def status_page(code: str, secret: str, status: int = 200, errors: FormErrors = NO_ERRORS,
                message: str = "", notice: str | None = None) -> Response:
    found = follow_ups.lookup(code, secret, ctx().keys,
                            quiet_days=ctx().settings.common.still_handling_days)
    lang = page_lang()
    updates = [{"at": china_time(u["at"]), "text": u["message_en"] if lang == "en" else u["message_zh"]}
               for u in found["updates"]]
    status_label = label(CLUE_STATUS_LABELS[found["status"]], lang)
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
    lang = page_lang()
    payload = clue_payload(request.form, lang)
    try:
        data = CLUE_SCHEMA.load(payload)
    except ValidationError as exc:
        return report_form(422, request.form, form_errors(flatten(exc.messages), lang))
    channel = data["reporter"].get("channel")
    if channel is not None and channel not in pages().offered:
        return report_form(422, request.form,
                           form_errors({"reporter.channel": [text("channel_unavailable", lang)]}, lang))
    context = ctx()
    body, _ = handlers.post_clue(data, ctx().settings.web_frontline_unit, context.keys, outbox=context.outbox)
    return render("receipt.html", code=body["receipt"]["code"], secret=body["receipt"]["secret"],
                  received_at=china_time(body["received_at"]))


@bp.get("/receipt")
def receipt():
    noted = text("noted_notice", page_lang()) if request.args.get("noted") == "yes" else None
    return lookup_form(notice=noted)


@bp.post("/receipt")
@limited_after(guard)
def look_up():
    lang, form = page_lang(), request.form
    try:
        data = LOOKUP_SCHEMA.load({k: form[k] for k in ("code", "secret") if form.get(k, "").strip()})
    except ValidationError as exc:
        return lookup_form(422, form_errors(flatten(exc.messages), lang), code=form.get("code", ""))
    try:
        with checked(data["code"]):
            return status_page(data["code"], data["secret"])
    except handlers.ReceiptNotFound:
        return lookup_form(404, form_errors({"code": [text("not_found", lang)]}, lang),
                           code=form.get("code", ""))


@bp.post("/receipt/messages")
@limited_after(guard)
def follow_up():
    lang, form = page_lang(), request.form
    payload: dict[str, Any] = {k: form[k] for k in ("code", "secret", "message")
                               if form.get(k, "").strip()}
    payload["objection"] = form.get("objection") == "yes"
    try:
        data = FOLLOW_UP_SCHEMA.load(payload)
    except ValidationError as exc:
        flat = flatten(exc.messages)
        if "code" in flat or "secret" in flat:
            return lookup_form(422, form_errors(flat, lang))
        try:
            with checked(payload["code"]):
                return status_page(payload["code"], payload["secret"], 422, form_errors(flat, lang),
                                   message=form.get("message", ""))
        except handlers.ReceiptNotFound:
            return lookup_form(404, form_errors({"code": [text("not_found", lang)]}, lang))
    context = ctx()
    try:
        with checked(data["code"]):
            follow_ups.follow_up(data["code"], data["secret"], data["message"], data["objection"],
                               context.keys, outbox=context.outbox)
    except handlers.ReceiptNotFound:
        return lookup_form(404, form_errors({"code": [text("not_found", lang)]}, lang))
    try:
        return status_page(data["code"], data["secret"], notice=text("sent_notice", lang))
    except (ConnectionFailure, DependencyDown):  # stored: never say "nothing was saved"
        return render("message.html", 202, title="follow_up_title", body=text("sent_notice", lang))
