"""A reporter submits anonymously; the cadre who got the case signs in to the workspace, opens it and
closes it with the form; the reporter's look-up then shows 已办结 and the summary. A supervisor's
pages are visited too. Every workspace page is saved under var/screenshots/."""

import re

import pytest
import requests

from tests.integration.shared.helpers import unique, wait_for

pytestmark = pytest.mark.stack

SUMMARY = "经核实，该城管队员确有索要香烟行为，已予诫勉谈话并责令退还。感谢您的监督。"


def submit_anonymous_clue(page, intake: str, subject: str) -> tuple[str, str]:
    """Fill the reporter's form with the mouse; the receipt code and secret shown."""
    page.goto(intake + "/report")
    page.select_option("#f-category", "solicitation")
    page.fill("#f-summary", "城管队员向商户索要香烟")
    page.fill("#f-details", "每周三上午在中心路市场。")
    page.select_option("#f-jurisdiction", "foshan/chancheng/shiwan")
    page.fill("#f-subject-name", subject)
    page.select_option("#f-subject-rank", "staff")
    page.check("#f-reporter-anonymous")
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector("#receipt-code")
    return page.locator("#receipt-code").inner_text().strip(), page.locator(
        "#receipt-secret"
    ).inner_text().strip()


def find_case(browser_pipeline, subject: str) -> dict:
    """The case of the clue about `subject`, through the supervisor API, once a cadre has it."""
    key = browser_pipeline.credentials["supervisor"]["foshan"]
    found: dict = {}

    def assigned() -> bool:
        resp = requests.get(
            browser_pipeline.url("assignment", "/v1/cases"),
            params={"limit": 100},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        resp.raise_for_status()
        match = [c for c in resp.json()["items"] if c["subject_name"] == subject and c["cadre_id"]]
        if match:
            found.update(match[0])
        return bool(match)

    wait_for(assigned, timeout=90, interval=0.5, message=f"a case with a cadre for {subject}")
    return found


def sign_in(page, workspace: str, key: str) -> None:
    page.goto(workspace + "/sign-in")
    page.fill("#f-key", key)
    page.get_by_role("button", name="登录").click()


def test_a_cadre_closes_the_case_and_the_reporter_sees_the_result(
    browser_pipeline, browser, page, screenshot
):
    intake, workspace = browser_pipeline.url("intake"), browser_pipeline.url("assignment", "/workspace")
    subject = f"许某{unique('s')[-6:]}"
    code, secret = submit_anonymous_clue(page, intake, subject)
    case = find_case(browser_pipeline, subject)
    key = browser_pipeline.credentials["cadre"][case["cadre_id"]]

    cadre = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
    cadre.set_default_timeout(15_000)
    tab = cadre.new_page()
    tab.goto(workspace + "/sign-in")
    tab.fill("#f-key", "wrong-key")
    tab.get_by_role("button", name="登录").click()
    tab.wait_for_selector("#f-key-error")
    assert "密钥不正确" in tab.locator("#f-key-error").inner_text()
    assert "wrong-key" not in tab.url
    screenshot(tab, "workspace-sign-in-error")
    sign_in(tab, workspace, key)
    tab.wait_for_url(re.compile(r"/workspace/cases$"))
    assert key not in tab.url
    session = next(c for c in cadre.cookies() if c["name"] == "workspace_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict" and key not in session["value"]
    row = tab.locator(f"tr[data-case='{case['case_id']}']")
    assert subject in row.inner_text()
    screenshot(tab, "workspace-my-cases")

    row.get_by_role("link", name=case["case_id"]).click()
    tab.wait_for_selector("#case-status")
    assert tab.locator("#case-status").inner_text() == "办理中"
    assert "查看案件" in tab.locator("#audit").inner_text()
    screenshot(tab, "workspace-case")

    tab.get_by_role("button", name="办结").click()  # nothing chosen yet
    tab.wait_for_selector(".error-summary")
    assert tab.locator("#f-disposition-error").text_content() == "错误：此项为必填项。"
    assert tab.locator("#f-reporter_summary-error").is_visible()
    screenshot(tab, "workspace-close-errors")
    tab.select_option("#f-disposition", "preliminary_verification")
    tab.get_by_label("诫勉谈话").check()
    tab.get_by_label("责令退还").check()
    tab.fill("#f-reporter_summary", SUMMARY)
    tab.get_by_role("button", name="办结").click()
    tab.wait_for_url(re.compile(r"closed=yes"))
    assert tab.locator("#case-status").inner_text() == "已办结"
    assert tab.locator("#case-summary").inner_text() == SUMMARY
    screenshot(tab, "workspace-case-closed")
    tab.get_by_role("button", name="退出登录").click()
    tab.wait_for_url(re.compile(r"/workspace/sign-in\?out=yes"))
    cadre.close()

    boss = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
    boss.set_default_timeout(15_000)
    tab = boss.new_page()
    sign_in(tab, workspace, browser_pipeline.credentials["supervisor"]["foshan/chancheng"])
    tab.wait_for_url(re.compile(r"/workspace/queue$"))
    assert tab.locator("svg[id^='workload-']").count() >= 1
    screenshot(tab, "workspace-queue-workload")
    tab.get_by_role("link", name="提级与督办").click()
    tab.wait_for_selector("h1")
    screenshot(tab, "workspace-escalations")
    tab.get_by_role("link", name="季度统计").click()
    tab.wait_for_selector("#stats-chart")
    assert int(tab.locator("td[data-key='closed']").inner_text()) >= 1
    screenshot(tab, "workspace-stats")
    boss.close()

    def closed_for_the_reporter() -> bool:
        page.goto(intake + "/receipt")
        page.fill("#f-code", code)
        page.fill("#f-secret", secret)
        page.locator("#f-secret").press("Enter")
        page.wait_for_selector("#clue-status")
        return page.locator("#clue-status").inner_text() == "已办结"

    wait_for(closed_for_the_reporter, timeout=90, interval=1, message="status 已办结 on the look-up")
    assert SUMMARY in page.locator("ol.updates").inner_text()
    screenshot(page, "reporter-sees-result")
