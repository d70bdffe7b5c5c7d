"""A cadre's workspace: sign-in, my cases (overdue first), the case page, the close form, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.assignment import handlers
from services.assignment.pages import SESSION_COOKIE
from shared import events
from shared.auth import issue_key, revoke_key
from shared.mongo import utcnow
from shared.times import to_ms
from tests.integration.shared.helpers import wait_for

from .workspace import page, post_form, receive, rows, sign_in

pytestmark = pytest.mark.stack

GOOD = {
    "disposition": "preliminary_verification",
    "outcomes": ["admonition_talk", "restitution"],
    "reporter_summary": "经核实，已对许某诫勉谈话并责令退还财物。",
}


def cookie(http, name: str):
    return http.get_cookie(name, path="/workspace")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not-a-key", "密钥不正确或已被吊销。"),
        ("", "请输入密钥。"),
        ("frontline", "此密钥不能登录工作台（仅限办案干部和监督人员）。"),
    ],
)
def test_a_bad_key_is_refused_next_to_the_field(http, key, message):
    if key == "frontline":
        key = issue_key("frontline", "foshan/d1/t1/contact")
    resp = post_form(http, "/workspace/sign-in", "/workspace/sign-in", {"key": key})
    assert resp.status_code == 401
    shown = page(resp)
    assert shown.by_id("f-key-error").text == f"错误：{message}"
    assert shown.by_id("f-key").attrs.get("aria-invalid") == "true"
    assert shown.by_id("f-key").attrs["type"] == "password" and "value" not in shown.by_id("f-key").attrs
    assert cookie(http, SESSION_COOKIE) is None
    assert http.get("/workspace/cases").status_code == 303


def test_the_session_cookie_is_signed_httponly_strict_and_holds_no_key(http):
    token = issue_key("cadre", "t-001")
    resp = post_form(http, "/workspace/sign-in", "/workspace/sign-in", {"key": token})
    assert resp.status_code == 303 and token not in resp.headers["Location"]
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/workspace" in header
    assert token not in header
    assert http.get("/workspace").headers["Location"].endswith("/workspace/cases")
    forged = cookie(http, SESSION_COOKIE).value[:-3] + "xyz"
    http.set_cookie(SESSION_COOKIE, forged, path="/workspace")
    assert http.get("/workspace/cases").status_code == 303


def test_sign_out_and_a_revoked_key_end_the_session(http, app):
    token = sign_in(http, "cadre", "t-001")
    assert http.get("/workspace/cases").status_code == 200
    out = post_form(http, "/workspace/cases", "/workspace/sign-out", {})
    assert out.status_code == 303 and cookie(http, SESSION_COOKIE) is None
    assert http.get("/workspace/cases").status_code == 303
    assert post_form(http, "/workspace/sign-in", "/workspace/sign-in", {"key": token}).status_code == 303
    assert http.get("/workspace/cases").status_code == 200
    revoke_key(token)
    app.extensions["workspace.keys"]._items.clear()  # the key cache would forget it within 5 s anyway
    assert http.get("/workspace/cases").status_code == 303


def test_a_cadre_sees_only_their_cases_overdue_first_in_red_and_in_words(http, app):
    made = [receive(app, f"c{i}") for i in range(4)]
    mine = [c for c in made if c["cadre_id"] == "t-001"]
    theirs = [c for c in made if c["cadre_id"] == "t-002"]
    assert len(mine) == 2 and len(theirs) == 2
    late = mine[1]
    handlers.cases().update_one(
        {"_id": late["_id"]}, {"$set": {"due_at": to_ms(utcnow() - timedelta(days=3))}}
    )
    sign_in(http, "cadre", "t-001")
    resp = http.get("/workspace/cases")
    assert resp.status_code == 200
    assert rows(resp) == [late["_id"], mine[0]["_id"]]
    shown = page(resp)
    first, second = [e for e in shown.all("tr") if "data-case" in e.attrs]
    assert first.attrs["class"] == "overdue" and "已逾期" in first.text and "已逾期 3 天" in first.text
    assert second.attrs["class"] == "" and "已逾期" not in second.text and "剩余" in second.text
    body = resp.get_data(as_text=True)
    assert all(c["_id"] not in body for c in theirs)
    audit = handlers.CaseAudit._get_collection()
    assert audit.count_documents({"case_id": late["_id"], "action": "listed", "actor": "cadre:t-001"}) == 1


def test_the_case_page_shows_the_trail_and_audits_the_read(http, app):
    case = receive(app, "d1", amount_cny=4645)
    other = "t-002" if case["cadre_id"] == "t-001" else "t-001"
    sign_in(http, "cadre", case["cadre_id"])
    resp = http.get(f"/workspace/cases/{case['_id']}")
    assert resp.status_code == 200
    shown = page(resp)
    assert shown.by_id("case-status").text == "办理中"
    trail = shown.by_id("audit").text
    assert "收到线索" in trail and "分配承办" in trail and "查看案件" in trail
    reads = handlers.CaseAudit._get_collection().count_documents(
        {"case_id": case["_id"], "action": "read", "actor": f"cadre:{case['cadre_id']}"}
    )
    assert reads == 1
    assert [o.attrs["value"] for o in shown.all("option")] == [
        "",
        "talk_inquiry",
        "preliminary_verification",
        "shelved",
        "concluded",
        "transferred",
    ]
    assert shown.label_for("f-outcome-admonition_talk").text == "诫勉谈话"
    assert shown.label_for("f-disposition").text.startswith("处置方式")

    stranger = http.application.test_client()
    sign_in(stranger, "cadre", other)
    refused = stranger.get(f"/workspace/cases/{case['_id']}")
    assert refused.status_code == 403 and case["subject_name"] not in refused.get_data(as_text=True)
    assert "f-disposition" not in stranger.get("/workspace/cases").get_data(as_text=True)


def test_the_close_form_shows_errors_next_to_fields_then_closes_and_publishes(http, app):
    case = receive(app, "e1")
    receive(app, "e2", name=case["subject_name"])  # a repeat clue joins the case
    sign_in(http, "cadre", case["cadre_id"])
    url = f"/workspace/cases/{case['_id']}"
    empty = post_form(http, url, url + "/close", {})
    assert empty.status_code == 422
    shown = page(empty)
    assert shown.by_id("f-disposition-error").text == "错误：此项为必填项。"
    assert shown.by_id("f-reporter_summary-error").text == "错误：此项为必填项。"
    assert shown.by_id("f-outcomes-error") is None
    assert shown.by_id("f-disposition").attrs.get("aria-invalid") == "true"
    assert [a.attrs["href"] for a in shown.all("a") if a.attrs.get("href", "").startswith("#f-")] == [
        "#f-disposition",
        "#f-reporter_summary",
    ]

    bad = post_form(
        http,
        url,
        url + "/close",
        {"disposition": "burn_it", "outcomes": ["nope", "restitution"], "reporter_summary": "已处理"},
    )
    assert bad.status_code == 422
    shown = page(bad)
    assert shown.by_id("f-disposition-error").text == "错误：请从列表中选择。"
    assert shown.by_id("f-outcomes-error").text == "错误：请从列表中选择。"
    assert shown.by_id("f-outcome-restitution").attrs.get("checked") == ""  # the form keeps what was typed
    assert shown.by_id("f-reporter_summary").text == "已处理"
    assert handlers.cases().find_one({"_id": case["_id"]})["status"] != "closed"

    ok = post_form(http, url, url + "/close", GOOD)
    assert ok.status_code == 303 and ok.headers["Location"].endswith(f"{url}?closed=yes")
    stored = handlers.cases().find_one({"_id": case["_id"]})
    assert stored["status"] == "closed" and stored["outcomes"] == GOOD["outcomes"]
    after = page(http.get(ok.headers["Location"]))
    assert (
        after.by_id("case-status").text == "已办结"
        and after.by_id("case-summary").text == GOOD["reporter_summary"]
    )
    assert after.by_id("f-form") is None and "办结 cadre:" in after.by_id("audit").text

    broker = app.extensions["broker"]
    wait_for(lambda: len(broker.events(events.CASE_CLOSED)) == 2, timeout=10, message="case-closed per clue")
    closed = broker.events(events.CASE_CLOSED)
    assert {e.data["clue_id"] for e in closed} == {"e1", "e2"}
    assert {e.data["reporter_summary"] for e in closed} == {GOOD["reporter_summary"]}

    again = post_form(http, url, url + "/close", GOOD)
    assert again.status_code == 409
    assert page(again).by_id("f-form-error").text == "错误：案件已办结，或刚被他人修改，请刷新后再试。"


def test_posts_without_the_csrf_token_are_refused(http, app):
    case = receive(app, "f1")
    token = issue_key("cadre", case["cadre_id"])
    assert http.post("/workspace/sign-in", data={"key": token}).status_code == 400
    assert cookie(http, SESSION_COOKIE) is None
    sign_in(http, "cadre", case["cadre_id"])
    url = f"/workspace/cases/{case['_id']}"
    http.get(url)
    assert http.post(url + "/close", data=GOOD).status_code == 400
    assert post_form(http, url, url + "/close", GOOD, token="forged.0000").status_code == 400
    signed_elsewhere = page(app.test_client().get("/workspace/sign-in")).csrf()  # valid, not this browser's
    assert post_form(http, url, url + "/close", GOOD, token=signed_elsewhere).status_code == 400
    assert post_form(http, url, "/workspace/sign-out", {}, token="x").status_code == 400
    assert handlers.cases().find_one({"_id": case["_id"]})["status"] != "closed"
