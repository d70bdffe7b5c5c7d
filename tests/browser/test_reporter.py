"""A reporter, with the keyboard only, submits a real-name clue, keeps the receipt, looks it up and
adds information; assignment accepts the clue and notify mails the reporter."""

import re

import pytest

from services.intake import status
from tests.integration.shared.helpers import wait_for

pytestmark = pytest.mark.stack

EMAIL = "wang.browser@example.org"


def press(page, key: str, times: int = 1) -> None:
    for _ in range(times):
        page.keyboard.press(key)


def value(page, selector: str) -> str:
    return page.eval_on_selector(selector, "e => e.value")


def fill_report_with_the_keyboard(page) -> None:
    """Tab through the report form in order, typing and choosing with arrow keys."""
    page.locator("#f-category").focus()
    press(page, "ArrowDown")                               # 吃拿卡要 (solicitation)
    press(page, "Tab")
    page.keyboard.type("城管队员向中心路商户索要香烟和红包")   # summary
    press(page, "Tab")
    page.keyboard.type("连续三个集市日看到。")                 # details
    press(page, "Tab")
    press(page, "ArrowDown", 3)                            # 佛山市, 禅城区, 石湾镇街道
    press(page, "Tab")
    page.keyboard.type("2019-12-01")                       # occurred_on
    press(page, "Tab")
    page.keyboard.type("4645")                             # amount_cny
    press(page, "Tab")                                     # collusion: leave unticked
    press(page, "Tab")
    page.keyboard.type("许某")                              # subject.name
    press(page, "Tab")
    page.keyboard.type("城管执法队员")                        # subject.position
    press(page, "Tab", 2)                                  # employer: not sure; to rank
    press(page, "ArrowDown")                               # 一般工作人员 (staff)
    press(page, "Tab", 2)                                  # party member: not sure; to the radios
    press(page, "ArrowDown")                               # real name (shows the named-only inputs)
    press(page, "Tab")
    page.keyboard.type("王小明")                             # reporter.name
    press(page, "Tab")
    press(page, "ArrowDown")                               # email
    press(page, "Tab")
    page.keyboard.type(EMAIL)                              # contact


def test_reporter_submits_keeps_the_receipt_looks_it_up_and_follows_up(browser_pipeline, page, screenshot):
    intake = browser_pipeline.url("intake")
    page.goto(intake)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    screenshot(page, "home")
    page.get_by_role("link", name="我要反映问题").first.focus()
    press(page, "Enter")
    page.wait_for_url(re.compile(r"/report$"))

    fill_report_with_the_keyboard(page)
    values = {s: value(page, s) for s in ("#f-category", "#f-jurisdiction", "#f-subject-rank",
                                          "#f-reporter-channel")}
    assert values == {"#f-category": "solicitation", "#f-jurisdiction": "foshan/chancheng/shiwan",
                      "#f-subject-rank": "staff", "#f-reporter-channel": "email"}
    assert page.locator("#f-reporter-anonymous-no").is_checked()
    # First forget the summary: the error summary and the field say so.
    page.locator("#f-summary").fill("")
    screenshot(page, "report-form")
    page.locator("#f-reporter-contact").focus()
    press(page, "Enter")                                   # implicit submission
    page.wait_for_selector(".error-summary")
    assert page.locator("#f-summary").get_attribute("aria-invalid") == "true"
    assert page.locator("#f-summary-error").inner_text() == "此项为必填项。"
    assert page.locator("#f-reporter-name").input_value() == "王小明"  # their own form keeps it
    screenshot(page, "report-errors")
    page.locator(".error-summary a[href='#f-summary']").focus()
    press(page, "Enter")
    assert page.evaluate("document.activeElement.id") == "f-summary"
    page.keyboard.type("城管队员向中心路商户索要香烟和红包")
    press(page, "Enter")

    page.wait_for_selector("#receipt-code")
    code = page.locator("#receipt-code").inner_text().strip()
    secret = page.locator("#receipt-secret").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code) and len(secret) >= 32
    assert "王小明" not in page.content() and EMAIL not in page.content()
    screenshot(page, "receipt")
    page.get_by_role("button", name="继续").focus()
    press(page, "Enter")                                   # not ticked yet: the browser holds it
    assert page.locator("#receipt-code").is_visible()
    page.locator("#f-noted").focus()
    press(page, "Space")
    press(page, "Tab")
    press(page, "Enter")
    page.wait_for_url(re.compile(r"/receipt\?noted=yes"))
    assert code not in page.content() and secret not in page.content()
    screenshot(page, "lookup")

    page.locator("#f-code").focus()
    page.keyboard.type(code.lower())
    press(page, "Tab")
    page.keyboard.type(secret)
    press(page, "Enter")
    page.wait_for_selector("#clue-status")
    assert page.locator("#clue-status").inner_text() in ("已收到", "已受理")
    assert page.locator("#f-objection").count() == 0       # offered only once closed
    screenshot(page, "status")

    page.locator("#f-message").focus()
    page.keyboard.type("他们每周三上午都来，穿制服。")
    press(page, "Tab")
    press(page, "Enter")
    page.wait_for_selector(".notice")
    assert page.locator(".notice").inner_text() == "您补充的内容已收到，已转交办理。"
    assert status.MESSAGE_UPDATE.zh in page.locator("ol.updates").inner_text()
    screenshot(page, "follow-up-sent")

    # The pipeline took the clue: notify mails the reporter, and the look-up shows it accepted.
    wait_for(lambda: browser_pipeline.mail.to(EMAIL), timeout=90, message="the reporter's email")

    def accepted() -> bool:
        page.goto(intake + "/receipt")
        page.locator("#f-code").fill(code)
        page.locator("#f-secret").fill(secret)
        page.locator("#f-secret").press("Enter")
        page.wait_for_selector("#clue-status")
        return page.locator("#clue-status").inner_text() == "已受理"

    wait_for(accepted, timeout=90, interval=1, message="status 已受理")
    assert status.ACCEPTED_UPDATE.zh in page.locator("ol.updates").inner_text()
    screenshot(page, "status-accepted")
    logs = browser_pipeline.logs()
    assert "王小明" not in logs and EMAIL not in logs


def test_the_english_page_is_remembered(browser_pipeline, page, screenshot):
    page.goto(browser_pipeline.url("intake", "/report"))
    page.get_by_role("link", name="English").focus()
    press(page, "Enter")
    page.wait_for_url(re.compile(r"lang=en"))
    page.goto(browser_pipeline.url("intake", "/receipt"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Check progress"
    screenshot(page, "lookup-en")
