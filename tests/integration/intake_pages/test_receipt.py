"""Looking a clue up with its receipt, following up and objecting, and the shared rate limit."""

import json
from datetime import UTC, datetime

import pytest

from services.intake import case_events, status
from services.intake.documents import Clue, FollowUp
from shared import events
from tests.integration.intake_pages.forms import (
    ANONYMOUS,
    IDENTITY,
    NAMED_EMAIL,
    look_up,
    receipt_of,
    send,
    submit,
)
from tests.integration.intake_pages.html import Page
from tests.integration.shared.helpers import read_topic

pytestmark = pytest.mark.stack


def page(resp) -> Page:
    return Page(resp.get_data(as_text=True))


@pytest.fixture
def receipt(client) -> tuple[str, str]:
    return receipt_of(submit(client, NAMED_EMAIL))


def close(clue_id: str) -> None:
    case_events.apply_case_event(events.decode(events.encode(events.make_event(events.CASE_CLOSED, {
        "case_id": "case-1", "clue_id": clue_id, "disposition": "concluded", "outcomes": ["unfounded"],
        "reporter_summary": "经核实，反映问题不属实。", "closed_at": datetime.now(UTC)}, source="/t"))))


def test_lookup_shows_the_status_and_updates_without_the_reporter(client, receipt):
    code, secret = receipt
    resp = look_up(client, code.lower().replace("-", " "), secret)  # typed back loosely
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    shown = page(resp)
    assert shown.by_id("clue-status").text == "已收到"
    assert status.RECEIVED_UPDATE.zh in shown.all("ol", class_="updates")[0].text
    assert shown.by_id("f-objection") is None  # only once the clue is closed
    assert shown.label_for("f-message") is not None
    assert not any(secret_ in resp.get_data(as_text=True) for secret_ in IDENTITY)


def test_wrong_secret_and_wrong_code_get_the_same_single_message(client, receipt):
    code, secret = receipt
    other_code = ("0000" if not code.startswith("0000") else "1111") + code[4:]
    answers = [look_up(client, code, secret + "x"), look_up(client, other_code, secret),
               look_up(client, "not a code", secret)]
    assert {a.status_code for a in answers} == {404}
    summaries = {page(a).all("div", class_="error-summary")[0].text for a in answers}
    assert summaries == {"请修改以下问题后再提交： 查询码：查询码或密码不正确。"}
    assert {page(a).by_id("f-code-error").text for a in answers} == {"查询码或密码不正确。"}


def test_missing_code_or_secret_shows_next_to_the_field(client):
    resp = look_up(client, "", "")
    assert resp.status_code == 422
    shown = page(resp)
    for input_id in ("f-code", "f-secret"):
        assert shown.by_id(input_id).attrs["aria-invalid"] == "true"
        assert shown.by_id(f"{input_id}-error").text == "此项为必填项。"


def test_a_follow_up_is_stored_with_its_event_and_shown(client, receipt, intake_settings):
    code, secret = receipt
    resp = send(client, code, secret, "他们每周三上午都来。")
    assert resp.status_code == 200
    shown = page(resp)
    assert shown.all("p", class_="notice")[0].text == "您补充的内容已收到，已转交办理。"
    assert status.MESSAGE_UPDATE.zh in shown.all("ol", class_="updates")[0].text
    item = FollowUp.objects.get()
    assert (item.message, item.objection) == ("他们每周三上午都来。", False)
    assert item.clue_id == Clue.objects.get().id
    records = read_topic(intake_settings.common.kafka_bootstrap_servers,
                         intake_settings.common.topic_prefix + "clue-followed-up", expect=1)
    data = json.loads(records[0].value)["data"]
    assert (data["clue_id"], data["message"], data["objection"]) == (item.clue_id, item.message, False)


def test_an_empty_follow_up_is_an_error_next_to_the_message(client, receipt):
    code, secret = receipt
    resp = send(client, code, secret, "   ")
    assert resp.status_code == 422
    shown = page(resp)
    assert shown.by_id("f-message").attrs["aria-invalid"] == "true"
    assert shown.by_id("f-message-error").text == "此项为必填项。"
    assert FollowUp.objects.count() == 0


def test_a_follow_up_with_a_wrong_secret_gets_the_single_message(client, receipt):
    code, secret = receipt
    resp = send(client, code, "wrong", "补充")
    assert resp.status_code == 404 and page(resp).by_id("f-code-error").text == "查询码或密码不正确。"
    assert FollowUp.objects.count() == 0


def test_an_objection_is_offered_once_closed_and_reopens_the_clue(client, receipt, intake_settings):
    code, secret = receipt
    close(Clue.objects.get().id)
    closed = page(look_up(client, code, secret))
    assert closed.by_id("clue-status").text == "已办结"
    assert "经核实，反映问题不属实。" in closed.all("ol", class_="updates")[0].text
    assert closed.by_id("f-objection").attrs["type"] == "checkbox"
    assert closed.label_for("f-objection").text == "我对办理结果有异议"
    resp = send(client, code, secret, "他仍在收钱。", objection=True)
    assert resp.status_code == 200
    assert page(resp).by_id("clue-status").text == "已受理"
    assert FollowUp.objects.get().objection is True
    records = read_topic(intake_settings.common.kafka_bootstrap_servers,
                         intake_settings.common.topic_prefix + "clue-followed-up", expect=1)
    assert json.loads(records[0].value)["data"]["objection"] is True


def test_english_status_page(client, receipt):
    code, secret = receipt
    shown = page(client.get("/receipt?lang=en"))
    resp = client.post("/receipt", data={"code": code, "secret": secret, "csrf_token": shown.csrf()})
    result = page(resp)
    assert result.lang == "en" and result.by_id("clue-status").text == "Received"
    assert status.RECEIVED_UPDATE.en in result.all("ol", class_="updates")[0].text


def test_page_posts_share_the_receipt_routes_rate_limit(limited_app):
    client = limited_app.test_client()
    client.post("/v1/receipts/lookup", json={"code": "AAAA-AAAA-AAAA-AAAA", "secret": "x"})
    look_up(client, "AAAA-AAAA-AAAA-AAAA", "x")
    submit(client, ANONYMOUS)
    resp = look_up(client, "AAAA-AAAA-AAAA-AAAA", "x")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert resp.mimetype == "text/html" and "操作过于频繁" in resp.get_data(as_text=True)
    assert client.post("/v1/receipts/lookup", json={"code": "A", "secret": "x"}).status_code == 429
