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
from flask import Blueprint, Response, current_app, render_template, request
from marshmallow import ValidationError
from pymongo.errors import ConnectionFailure
from werkzeug.datastructures import MultiDict

from services.intake import handlers, receipts
from services.intake.api import CLUE_SCHEMA, FOLLOW_UP_SCHEMA, LOOKUP_SCHEMA, IntakeContext
from services.intake.limits import ReceiptLimit, TooManyAttempts
from services.intake.settings import IntakeSettings
from shared.csrf import CSRF_FIELD, CsrfGuard
from shared.forms import FormErrors
from shared.kafka import DependencyDown
from shared.problems import flatten
from shared.settings import SettingsError
from shared.times import CHINA_TIME as CHINA
from shared.vocabulary import CATEGORY_LABELS, CLUE_STATUS_LABELS, RANK_LABELS

LANGS = ("zh", "en")
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

TEXTS: dict[str, tuple[str, str]] = {
    "site": ("基层执法领域“微腐败”问题线索举报", "Report petty corruption in grassroots law enforcement"),
    "skip": ("跳到正文", "Skip to content"),
    "switch": ("English", "中文"),
    "home": ("首页", "Home"),
    "confidential": ("您的身份和联系方式严格保密，只用于向您反馈办理情况。",
                     "Your identity and contact details are kept strictly confidential and used only to "
                     "tell you how your report is handled."),
    "home_intro": ("您可以实名或匿名反映基层执法人员吃拿卡要、选择性执法等问题。提交后您会得到一个查询码，"
                   "凭它查询办理进度、补充材料或对结果提出异议。",
                   "You can report, with your name or anonymously, law-enforcement staff who ask for "
                   "favours, enforce selectively and the like. You get a receipt to follow the handling, "
                   "add information or object to the result."),
    "go_report": ("我要反映问题", "Report a problem"),
    "go_lookup": ("查询办理进度", "Check progress with your receipt"),
    "report_title": ("反映问题线索", "Report a problem"),
    "report_intro": ("带 * 的为必填项。", "Fields marked * are required."),
    "required": ("必填", "required"),
    "optional": ("选填", "optional"),
    "about_problem": ("问题情况", "The problem"),
    "about_subject": ("被反映人", "The person reported"),
    "about_you": ("您的身份", "About you"),
    "choose": ("请选择", "Choose"),
    "unknown": ("不清楚", "Not sure"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "category": ("问题类别", "Kind of problem"),
    "summary": ("问题摘要", "Summary"),
    "summary_hint": ("一句话说明发生了什么，最多 500 字。",
                     "One sentence on what happened, up to 500 characters."),
    "details": ("详细情况", "Details"),
    "details_hint": ("时间、地点、经过、证据等。", "When, where, what happened, any evidence."),
    "jurisdiction": ("发生地（区、镇街）", "Where it happened (district, town)"),
    "district_level": ("区本级", "district level"),
    "city_level": ("市本级", "city level"),
    "occurred_on": ("发生日期", "Date it happened"),
    "occurred_on_hint": ("格式：2024-05-31", "As 2024-05-31"),
    "amount_cny": ("涉及金额（元）", "Amount involved (CNY)"),
    "amount_cny_hint": ("整数，不清楚可不填。", "Whole yuan; leave empty if unknown."),
    "collusion": ("有上下串通或内外勾结的情况", "Several people acted together (collusion)"),
    "subject.name": ("被反映人姓名", "Name of the person reported"),
    "subject.position": ("职务", "Position"),
    "subject.employer": ("所在单位", "Employer"),
    "subject.rank": ("职级", "Rank"),
    "subject.rank_hint": ("不确定请选“一般工作人员/辅助人员”。", "If unsure, choose staff."),
    "subject.party_member": ("是否党员", "Party member"),
    "reporter.anonymous": ("举报方式", "How you report"),
    "anonymous_yes": ("匿名举报（只能凭查询码查询结果）", "Anonymously (follow up with your receipt only)"),
    "anonymous_no": ("实名举报（我们会主动告知办理情况）", "With my name (we will tell you how it goes)"),
    "named_only": ("以下各项仅在实名举报时填写。",
                   "Fill in the following only when reporting with your name."),
    "reporter.name": ("您的姓名", "Your name"),
    "reporter.channel": ("接收反馈的方式", "How we contact you"),
    "channel_email": ("电子邮件", "Email"),
    "channel_sms": ("短信", "Text message (SMS)"),
    "channel_unavailable": ("此反馈方式暂不可用，请选择其他方式。",
                            "This way of hearing back is not available; choose another."),
    "reporter.contact": ("电子邮箱或手机号码", "Email address or mobile number"),
    "reporter.contact_hint": ("与上面选择的方式一致，例如 name@example.com 或 13800000000。",
                              "Matching the way chosen above, e.g. name@example.com or +8613800000000."),
    "submit": ("提交", "Submit"),
    "errors_title": ("请修改以下问题后再提交：", "Please fix the following:"),
    "receipt_title": ("请记下您的查询码和密码", "Write down your receipt"),
    "receipt_intro": ("您反映的问题已收到。查询码和密码只显示这一次，我们无法找回。请抄写下来或拍照保存，"
                      "不要告诉他人。", "We have received your report. The receipt code and secret are shown "
                      "only this once and cannot be recovered. Write them down or photograph them, and "
                      "keep them to yourself."),
    "receipt_code": ("查询码", "Receipt code"),
    "receipt_secret": ("密码", "Secret"),
    "received_at": ("提交时间", "Received"),
    "noted": ("我已记下查询码和密码", "I have written down the code and the secret"),
    "continue": ("继续", "Continue"),
    "lookup_title": ("查询办理进度", "Check progress"),
    "lookup_intro": ("请输入提交时得到的查询码和密码。", "Enter the receipt code and secret you were given."),
    "noted_notice": ("谢谢。请妥善保管查询码和密码，今后凭它们查询办理进度。",
                     "Thank you. Keep the code and secret safe; use them to check progress later."),
    "code": ("查询码", "Receipt code"),
    "code_hint": ("例如 4F7K-9QXM-2H8D-T6WB，大小写和短横线均可。",
                  "e.g. 4F7K-9QXM-2H8D-T6WB; case and dashes do not matter."),
    "secret": ("密码", "Secret"),
    "look_up": ("查询", "Look up"),
    "not_found": ("查询码或密码不正确。", "The receipt code or secret is not right."),
    "status_title": ("办理进度", "Progress"),
    "status": ("当前状态", "Status"),
    "updates": ("办理记录", "Updates"),
    "follow_up_title": ("补充情况", "Add information"),
    "message": ("补充内容", "Your message"),
    "message_hint": ("补充新的情况或证据，最多 5000 字。", "New facts or evidence, up to 5,000 characters."),
    "objection": ("我对办理结果有异议", "I object to the result"),
    "objection_hint": ("勾选后案件将重新复查。", "Ticking this reopens the case for review."),
    "send": ("发送", "Send"),
    "sent_notice": ("您补充的内容已收到，已转交办理。", "Your message has been received and passed on."),
    "lookup_again": ("重新查询", "Look up another receipt"),
    "csrf_title": ("页面已过期", "This page has expired"),
    "csrf_body": ("为了您的安全，请返回重新打开页面后再提交。", "For your safety, go back, reload the page "
                  "and submit again."),
    "busy_title": ("操作过于频繁", "Too many attempts"),
    "busy_body": ("请 {wait} 秒后再试。", "Please try again in {wait} seconds."),
    "down_title": ("系统暂时无法使用", "Temporarily unavailable"),
    "down_body": ("请稍后再试，您填写的内容未被保存。", "Please try again later; nothing was saved."),
    "back": ("返回", "Go back"),
    "colon": ("：", ": "),
}

STATUS_EN = {"received": "Received", "accepted": "Accepted", "transferred": "Passed to a higher level",
             "closed": "Closed"}
CATEGORY_EN = {
    "solicitation": "Asking for gifts or favours", "bribery": "Bribery",
    "extortion": "Threats, protection money",
    "selective_enforcement": "Selective enforcement", "passive_enforcement": "Failure to enforce",
    "tip_off": "Tipping off offenders", "shielding": "Shielding offenders",
    "business_steering": "Steering business to favoured firms", "entrapment": "Entrapment",
    "obstruction": "Deliberate obstruction or delay", "other": "Other",
}
RANK_EN = {"staff": "Staff or auxiliary staff", "village": "Village (community) cadre",
           "section": "Section level", "division": "Division level", "bureau": "Bureau level"}

_ZH_ERRORS: dict[str, str] = {
    "Missing data for required field.": "此项为必填项。",
    "Not a valid email address.": "请填写有效的电子邮箱地址。",
    "Not a valid integer.": "请填写整数。",
    "Not a valid date.": "请填写有效的日期，例如 2024-05-31。",
    "Must not be in the future.": "日期不能晚于今天。",
    "Not allowed for an anonymous reporter.": "匿名举报时不能填写此项。",
    "Must be + followed by 6 to 20 digits, e.g. +8613800000000.": "请填写有效的手机号码，例如 13800000000。",
}
_ZH_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Length must be between 1 and (\d+)\."), "此项为必填项，最多 {0} 字。"),
    (re.compile(r"Length must be between (\d+) and (\d+)\."), "长度应为 {0} 至 {1} 字。"),
    (re.compile(r"Longer than maximum length (\d+)\."), "最多 {0} 字。"),
    (re.compile(r"Must be greater than or equal to (\d+) and less than or equal to (\d+)\."),
     "应在 {0} 至 {1} 之间。"),
    (re.compile(r"Must be one of: .*"), "请从列表中选择。"),
    (re.compile(r"Must be a lowercase path .*"), "请从列表中选择。"),
    (re.compile(r"Required for channel .*"), "请填写与所选反馈方式对应的联系方式。"),
]


def error_text(message: str, lang: str) -> str:
    """A schema error message in the page's language (English messages are the schema's own)."""
    if lang == "en":
        return message
    if message in _ZH_ERRORS:
        return _ZH_ERRORS[message]
    for pattern, text in _ZH_PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return text.format(*match.groups())
    return message


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


def text(key: str, lang: str, **values: Any) -> str:
    """The page text `key` in `lang`, with {placeholders} filled."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    chosen = pair[1] if lang == "en" else pair[0]
    return chosen.format(**values) if values else chosen


def _china_time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def create_pages_blueprint(receipt_limit: ReceiptLimit, settings: IntakeSettings) -> Blueprint:
    """The reporter's pages at /, /report and /receipt; the posts share the receipt routes' rate limit,
    counted once their CSRF check passed."""
    bp = Blueprint("reporter", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/assets/reporter")
    places = load_places(settings.registry_file)
    # only the channels notify is configured to deliver (INTAKE_REPORTER_CHANNELS)
    offered = tuple(c for c in WEB_CHANNELS if c in settings.reporter_channels)
    csrf = CsrfGuard(settings.receipt_key, "reporter-pages-csrf", CSRF_COOKIE)

    def ctx() -> IntakeContext:
        return current_app.extensions["intake"]

    def secure() -> bool:
        return request.is_secure or settings.common.production

    def render(template: str, status: int = 200, **values: Any) -> Response:
        lang = page_lang()
        token = csrf.token()
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
        return receipt_limit.code_attempt(receipts.code_digest(ctx().keys.receipt_key, code),
                                          handlers.ReceiptNotFound)

    @bp.errorhandler(ConnectionFailure)
    @bp.errorhandler(DependencyDown)
    def _down(exc: Exception):
        resp = render("message.html", 503, title="down_title", body=text("down_body", page_lang()))
        resp.headers["Retry-After"] = "5"
        return resp

    def guard() -> Response | None:
        if csrf.passes():
            return None
        return render("message.html", 400, title="csrf_title", body=text("csrf_body", page_lang()))

    def report_form(status: int = 200, form: MultiDict | None = None,
                    errors: FormErrors = NO_ERRORS) -> Response:
        values = dict(form.items()) if form is not None else {"reporter.anonymous": "yes"}
        if values.get("reporter.anonymous") != "no":
            for name in IDENTITY_INPUTS:  # an anonymous reporter's identity is never sent back
                values.pop(name, None)
        return render("report.html", status, values=values, errors=errors, places=places,
                      categories=[(c, zh, CATEGORY_EN[c]) for c, zh in CATEGORY_LABELS.items()],
                      ranks=[(r, zh, RANK_EN[r]) for r, zh in RANK_LABELS.items()],
                      channels=offered)

    def status_page(code: str, secret: str, status: int = 200, errors: FormErrors = NO_ERRORS,
                    message: str = "", notice: str | None = None) -> Response:
        found = handlers.lookup(code, secret, ctx().keys,
                                quiet_days=ctx().settings.common.still_handling_days)
        lang = page_lang()
        updates = [{"at": _china_time(u["at"]), "text": u["message_en"] if lang == "en" else u["message_zh"]}
                   for u in found["updates"]]
        label = STATUS_EN[found["status"]] if lang == "en" else CLUE_STATUS_LABELS[found["status"]]
        return render("status.html", status, status_code=found["status"], status_label=label,
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
    @receipt_limit.after(guard)
    def submit():
        lang = page_lang()
        payload = clue_payload(request.form, lang)
        try:
            data = CLUE_SCHEMA.load(payload)
        except ValidationError as exc:
            return report_form(422, request.form, form_errors(flatten(exc.messages), lang))
        channel = data["reporter"].get("channel")
        if channel is not None and channel not in offered:
            return report_form(422, request.form,
                               form_errors({"reporter.channel": [text("channel_unavailable", lang)]}, lang))
        context = ctx()
        body, _ = handlers.post_clue(data, settings.web_frontline_unit, context.keys, outbox=context.outbox)
        return render("receipt.html", code=body["receipt"]["code"], secret=body["receipt"]["secret"],
                      received_at=_china_time(body["received_at"]))

    @bp.get("/receipt")
    def receipt():
        noted = text("noted_notice", page_lang()) if request.args.get("noted") == "yes" else None
        return lookup_form(notice=noted)

    @bp.post("/receipt")
    @receipt_limit.after(guard)
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
    @receipt_limit.after(guard)
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
                handlers.follow_up(data["code"], data["secret"], data["message"], data["objection"],
                                   context.keys, outbox=context.outbox)
        except handlers.ReceiptNotFound:
            return lookup_form(404, form_errors({"code": [text("not_found", lang)]}, lang))
        try:
            return status_page(data["code"], data["secret"], notice=text("sent_notice", lang))
        except (ConnectionFailure, DependencyDown):  # stored: never say "nothing was saved"
            return render("message.html", 202, title="follow_up_title", body=text("sent_notice", lang))

    from services.intake import card_pages  # the supervision card holder's page (/card/<code>)

    card_pages.register(bp, render, guard, receipt_limit)
    return bp
