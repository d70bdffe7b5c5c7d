"""The reporter's pages (Chinese by default, English with ?lang=en): submit a clue, keep the receipt,
look it up, add information or object.

Plain HTML forms posted to intake's own routes. Each route builds the JSON body the public API
takes and runs it through the same schemas and handlers, so a clue from the page is validated
and stored exactly like one from POST /v1/clues (source `public_report`, posted as the web's own
frontline unit). Nothing here logs or echoes the reporter's identity, except back into their own
form after a validation error.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError
from pymongo.errors import ConnectionFailure
from werkzeug.datastructures import MultiDict

from services.intake import card_pages, handlers
from services.intake.api import CLUE_SCHEMA, FOLLOW_UP_SCHEMA, LOOKUP_SCHEMA, IntakeContext
from services.intake.limits import TooManyAttempts, limited, limited_after
from services.intake.page_forms import IDENTITY_INPUTS, NO_ERRORS, clue_payload, form_errors
from services.intake.page_texts import CATEGORY_EN, RANK_EN, STATUS_EN, text
from services.intake.page_web import (
    checked,
    china_time,
    down_page,
    guard,
    page_headers,
    page_lang,
    pages_config,
    render,
    too_many_page,
)
from shared.forms import FormErrors
from shared.kafka import DependencyDown
from shared.problems import flatten
from shared.vocabulary import CATEGORY_LABELS, CLUE_STATUS_LABELS, RANK_LABELS

# The reporter's pages at /, /report and /receipt, and the card holder's at /card/<code>; the posts
# share the receipt routes' rate limit, counted once their CSRF check passed.
bp = Blueprint("reporter", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets/reporter")
bp.after_request(page_headers)
bp.register_error_handler(TooManyAttempts, too_many_page)
bp.register_error_handler(ConnectionFailure, down_page)
bp.register_error_handler(DependencyDown, down_page)


def _ctx() -> IntakeContext:
    return current_app.extensions["intake"]


def report_form(status: int = 200, form: MultiDict | None = None,
                errors: FormErrors = NO_ERRORS) -> Response:
    values = dict(form.items()) if form is not None else {"reporter.anonymous": "yes"}
    if values.get("reporter.anonymous") != "no":
        for name in IDENTITY_INPUTS:  # an anonymous reporter's identity is never sent back
            values.pop(name, None)
    return render("report.html", status, values=values, errors=errors, places=pages_config().places,
                  categories=[(c, zh, CATEGORY_EN[c]) for c, zh in CATEGORY_LABELS.items()],
                  ranks=[(r, zh, RANK_EN[r]) for r, zh in RANK_LABELS.items()],
                  channels=pages_config().offered)


def status_page(code: str, secret: str, status: int = 200, errors: FormErrors = NO_ERRORS,
                message: str = "", notice: str | None = None) -> Response:
    found = handlers.lookup(code, secret, _ctx().keys,
                            quiet_days=_ctx().settings.common.still_handling_days)
    lang = page_lang()
    updates = [{"at": china_time(u["at"]), "text": u["message_en"] if lang == "en" else u["message_zh"]}
               for u in found["updates"]]
    label = STATUS_EN[found["status"]] if lang == "en" else CLUE_STATUS_LABELS[found["status"]]
    return render("status.html", status, status_code=found["status"], status_label=label,
                  updates=updates, code=code, secret=secret, errors=errors,
                  values={"message": message}, notice=notice)


def lookup_form(status: int = 200, errors: FormErrors = NO_ERRORS, code: str = "",
                notice: str | None = None) -> Response:
    return render("lookup.html", status, errors=errors, values={"code": code}, notice=notice)


def _not_found(lang: str, code: str = "") -> Response:
    return lookup_form(404, form_errors({"code": [text("not_found", lang)]}, lang), code=code)


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
    if channel is not None and channel not in pages_config().offered:
        return report_form(422, request.form,
                           form_errors({"reporter.channel": [text("channel_unavailable", lang)]}, lang))
    context = _ctx()
    body, _ = handlers.post_clue(data, pages_config().frontline_unit, context.keys, outbox=context.outbox)
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
        return _not_found(lang, form.get("code", ""))


def _follow_up_invalid(payload: dict[str, Any], flat: dict[str, list[str]], lang: str) -> Response:
    """The answer to a follow-up the schema refused: the lookup form, or the status page with errors."""
    if "code" in flat or "secret" in flat:
        return lookup_form(422, form_errors(flat, lang))
    try:
        with checked(payload["code"]):
            return status_page(payload["code"], payload["secret"], 422, form_errors(flat, lang),
                               message=request.form.get("message", ""))
    except handlers.ReceiptNotFound:
        return _not_found(lang)


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
        return _follow_up_invalid(payload, flatten(exc.messages), lang)
    context = _ctx()
    try:
        with checked(data["code"]):
            handlers.follow_up(data["code"], data["secret"], data["message"], data["objection"],
                               context.keys, outbox=context.outbox)
    except handlers.ReceiptNotFound:
        return _not_found(lang)
    try:
        return status_page(data["code"], data["secret"], notice=text("sent_notice", lang))
    except (ConnectionFailure, DependencyDown):  # stored: never say "nothing was saved"
        return render("message.html", 202, title="follow_up_title", body=text("sent_notice", lang))


# A card's code is guessable like a receipt's: both card pages count against the receipt limit
# (the form's CSRF check first, whose refusal is not counted).
bp.add_url_rule("/card/<code>", view_func=limited(card_pages.card), methods=["GET"])
bp.add_url_rule("/card/<code>", view_func=limited_after(guard)(card_pages.card_post), methods=["POST"])
