"""The reporter's submit form: Chinese and English, CSRF, the API's validation, the receipt shown once."""

import json
import logging

import pytest

from services.intake.documents import Clue
from services.intake.follow_ups import lookup
from services.intake.page_forms import clue_payload, form_errors
from tests.integration.intake_pages.forms import (
    ANONYMOUS,
    CODE_PATTERN,
    IDENTITY,
    NAMED_EMAIL,
    NAMED_SMS,
    form,
    receipt_of,
    submit,
)
from tests.integration.intake_pages.html import Page
from tests.integration.shared.helpers import read_topic

pytestmark = pytest.mark.stack


def page(resp) -> Page:
    return Page(resp.get_data(as_text=True))


def test_pages_are_chinese_by_default_and_every_input_has_a_label(client):
    home = client.get("/")
    assert home.status_code == 200 and page(home).lang == "zh-CN"
    report = page(client.get("/report"))
    assert report.lang == "zh-CN" and "反映问题线索" in report.all("h1")[0].text
    inputs = [e for e in report.elements if e.tag in ("input", "select", "textarea")
              and e.attrs.get("type") != "hidden"]
    assert len(inputs) >= 15
    for element in inputs:
        assert report.label_for(element.attrs["id"]) is not None, element.attrs
    shiwan = report.all("option", value="foshan/chancheng/shiwan")
    assert shiwan and shiwan[0].text == "石湾镇街道"
    assert report.all("option", value="solicitation")[0].text == "吃拿卡要"
    employer = report.all("option", value="foshan/chancheng/urban-management")[0]
    assert employer.text == "禅城区城市管理和综合执法局"


def test_english_switch_is_remembered_in_a_cookie(client):
    english = client.get("/report?lang=en")
    assert page(english).lang == "en" and "Kind of problem" in english.get_data(as_text=True)
    assert "reporter_lang=en" in english.headers["Set-Cookie"] or any(
        "reporter_lang=en" in h for h in english.headers.getlist("Set-Cookie"))
    later = page(client.get("/receipt"))
    assert later.lang == "en" and later.all("h1")[0].text == "Check progress"
    switch = later.all("a", hreflang="zh-CN")[0]
    assert switch.attrs["href"] == "/receipt?lang=zh" and switch.text == "中文"
    assert page(client.get("/receipt?lang=zh")).lang == "zh-CN"
    assert page(client.get("/")).lang == "zh-CN"


def test_english_labels_come_from_the_catalog_and_accept_language_chooses_nothing(client):
    """Flask-Babel's locale is today's choice alone: ?lang=, then the cookie; never the browser's."""
    browser = page(client.get("/report", headers={"Accept-Language": "en-US,en;q=0.9"}))
    assert browser.lang == "zh-CN" and browser.all("option", value="solicitation")[0].text == "吃拿卡要"
    english = page(client.get("/report?lang=en"))
    assert english.all("option", value="solicitation")[0].text == "Asking for gifts or favours"
    assert english.all("option", value="staff")[0].text == "Staff or auxiliary staff"
    remembered = client.get("/card/NOSUCHCARD")  # the card page, on the cookie alone
    assert remembered.status_code == 404 and page(remembered).lang == "en"
    assert "check the code on the card" in remembered.get_data(as_text=True)


def test_anonymous_clue_is_stored_as_a_public_report_and_the_receipt_shown_once(app, client):
    resp = submit(client, ANONYMOUS)
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    code, secret = receipt_of(resp)
    assert CODE_PATTERN.match(code) and len(secret) >= 32
    receipt_page = page(resp)
    noted = receipt_page.by_id("f-noted")
    assert noted.attrs["type"] == "checkbox" and "required" in noted.attrs
    assert "请记下" in receipt_page.all("h1")[0].text
    clue = Clue.objects.get()
    assert (clue.source, clue.frontline_unit, clue.anonymous) == ("public_report", "public/web", True)
    assert clue.amount_cny == 4645 and clue.subject["party_member"] is True
    assert lookup(code, secret, app.extensions["intake"].keys)["status"] == "received"
    for path in ("/", "/report", "/receipt", "/receipt?noted=yes&confirmed=yes"):
        text = client.get(path).get_data(as_text=True)
        assert code not in text and secret not in text


@pytest.mark.parametrize("fields, channel, contact", [
    (NAMED_EMAIL, "email", ("email", "wang.xiaoming@example.org")),
    (NAMED_SMS, "sms", ("phone", "+8613812345678")),
])
def test_real_name_clue_keeps_the_identity_sealed_and_never_shows_or_logs_it(
        app, client, intake_settings, caplog, fields, channel, contact):
    caplog.set_level(logging.DEBUG)
    resp = submit(client, fields, "?lang=en")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert not any(secret in text for secret in IDENTITY)
    raw = Clue._get_collection().find_one()
    assert raw["anonymous"] is False and raw["contact_sealed"]
    reporter = app.extensions["intake"].keys.vault.open(raw["reporter_sealed"])
    assert reporter == {"anonymous": False, "name": "王小明", "channel": channel, contact[0]: contact[1],
                        "lang": "en"}
    stored = json.dumps(raw, default=str, ensure_ascii=False)
    records = read_topic(intake_settings.common.kafka_bootstrap_servers,
                         intake_settings.common.topic_prefix + "clue-received", expect=1)
    published = b"".join(r.value for r in records).decode()
    logged = "\n".join(json.dumps(r.__dict__, default=str, ensure_ascii=False) for r in caplog.records)
    for secret in (*IDENTITY, contact[1]):
        assert secret not in stored and secret not in published and secret not in logged
    assert json.loads(records[0].value)["data"]["source"] == "public_report"


@pytest.mark.parametrize("breakage", ["no field", "no cookie", "mismatch", "forged"])
def test_a_post_without_a_matching_signed_csrf_token_is_refused(client, breakage):
    token = Page(client.get("/report").get_data(as_text=True)).csrf()
    data = {**ANONYMOUS, "csrf_token": token}
    if breakage == "no field":
        del data["csrf_token"]
    elif breakage == "no cookie":
        client.delete_cookie("reporter_csrf")
    elif breakage == "mismatch":
        data["csrf_token"] = Page(client.application.test_client().get("/report").get_data(
            as_text=True)).csrf()
    else:
        client.set_cookie("reporter_csrf", "abc.def")
        data["csrf_token"] = "abc.def"
    resp = client.post("/report", data=data)
    assert resp.status_code == 400
    assert "页面已过期" in resp.get_data(as_text=True)
    assert Clue.objects.count() == 0


def _invalid(page_: Page, input_id: str) -> str:
    """The error shown next to `input_id`, after checking it is tied to the input."""
    element = page_.by_id(input_id)
    assert element.attrs.get("aria-invalid") == "true", input_id
    assert f"{input_id}-error" in element.attrs.get("aria-describedby", "").split()
    return page_.by_id(f"{input_id}-error").text


BAD_FORMS = [
    ("summary missing", form(ANONYMOUS, summary="  "), "f-summary", "此项为必填项。"),
    ("category missing", form(ANONYMOUS, category=""), "f-category", "此项为必填项。"),
    ("rank missing", form(ANONYMOUS, subject__rank=""), "f-subject-rank", "此项为必填项。"),
    ("subject name too long", form(ANONYMOUS, subject__name="许" * 101), "f-subject-name", "最多 100 字"),
    ("amount not a number", form(ANONYMOUS, amount_cny="四千"), "f-amount_cny", "请填写整数。"),
    ("date in the future", form(ANONYMOUS, occurred_on="2999-01-01"), "f-occurred_on", "日期不能晚于今天。"),
    ("bad date", form(ANONYMOUS, occurred_on="2019-13-45"), "f-occurred_on", "请填写有效的日期"),
    ("no anonymity choice", {k: v for k, v in ANONYMOUS.items() if k != "reporter.anonymous"},
     "f-reporter-anonymous", "此项为必填项。"),
    ("name missing", form(NAMED_EMAIL, reporter__name=""), "f-reporter-name", "此项为必填项。"),
    ("channel missing", form(NAMED_EMAIL, reporter__channel=""), "f-reporter-channel", "此项为必填项。"),
    ("bad email", form(NAMED_EMAIL, reporter__contact="not-an-email"), "f-reporter-contact",
     "请填写有效的电子邮箱地址。"),
    ("bad phone", form(NAMED_SMS, reporter__contact="12345"), "f-reporter-contact", "请填写有效的手机号码"),
    ("contact missing", form(NAMED_SMS, reporter__contact=""), "f-reporter-contact",
     "请填写与所选反馈方式对应的联系方式。"),
]


@pytest.mark.parametrize("name, fields, input_id, message", BAD_FORMS, ids=[c[0] for c in BAD_FORMS])
def test_errors_show_next_to_their_field_and_in_the_summary(client, name, fields, input_id, message):
    resp = submit(client, fields)
    assert resp.status_code == 422
    shown = page(resp)
    assert message in _invalid(shown, input_id)
    summary = shown.all("div", class_="error-summary")[0]
    assert summary.attrs["role"] == "alert"
    assert any(a.attrs["href"] == f"#{input_id}" and message in a.text for a in shown.all("a")
               if a.attrs.get("href", "").startswith("#f-"))
    assert Clue.objects.count() == 0


def test_errors_are_in_english_on_the_english_page(client):
    resp = submit(client, form(NAMED_EMAIL, summary="", reporter__contact="not-an-email"), "?lang=en")
    shown = page(resp)
    assert shown.lang == "en"
    assert _invalid(shown, "f-summary") == "Missing data for required field."
    assert _invalid(shown, "f-reporter-contact") == "Not a valid email address."


def test_only_a_real_name_reporter_gets_their_identity_back_in_their_own_form(client):
    named = page(submit(client, form(NAMED_EMAIL, summary="")))
    assert named.field("reporter.name").attrs["value"] == "王小明"
    assert named.field("reporter.contact").attrs["value"] == "wang.xiaoming@example.org"
    # Chose anonymous, yet the (hidden) identity inputs held something: never sent back.
    anonymous = submit(client, form(NAMED_EMAIL, summary="", reporter__anonymous="yes"))
    assert not any(secret in anonymous.get_data(as_text=True) for secret in IDENTITY)


@pytest.mark.parametrize("name, fields, input_id, message", BAD_FORMS, ids=[c[0] for c in BAD_FORMS])
def test_the_page_rejects_exactly_what_the_api_rejects(client, keys, name, fields, input_id, message):
    """The body the form stands for, posted to POST /v1/clues, fails on the same dotted paths."""
    api = client.post("/v1/clues", json=clue_payload(fields, "zh"), headers=keys["shiwan"])
    assert api.status_code == 422
    mapped = form_errors(api.json["errors"])
    assert input_id in mapped.by_input and any(message in m for m in mapped.by_input[input_id])


@pytest.mark.parametrize("path, input_id", [
    ("reporter.email", "f-reporter-contact"), ("reporter.phone", "f-reporter-contact"),
    ("reporter", "f-reporter-anonymous"), ("subject.rank", "f-subject-rank"), ("subject", "f-subject-name"),
    ("amount_cny", "f-amount_cny"), ("_schema", "f-form"), ("message", "f-message"),
])
def test_dotted_paths_map_to_their_inputs(path, input_id):
    assert list(form_errors({path: ["Missing data for required field."]}).by_input) == [input_id]
