"""Casework in the workspace, walked in Chromium: a clue no rule can route waits in triage (its
reporter reads 已收到, being routed); the city supervisor finds it on the triage list, reads the
allegation and routes it with the form; the district supervisor puts it under 重点督办 with an
earlier deadline and finds it on the escalations page; the cadre who got it reads the allegation
and the reporter's follow-up first on the case page. Pages are saved under var/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests

from tests.integration.shared.helpers import unique, wait_for

from .test_cadre_closes import sign_in

pytestmark = pytest.mark.stack

SUMMARY = "市场监管协管员向摊贩索要红包"
FRONTLINE = "foshan/chancheng/shiwan/contact"


def post_clue(browser_pipeline, subject: str) -> dict:
    resp = requests.post(
        browser_pipeline.url("intake", "/v1/clues"),
        json={
            "source": "observer",
            "category": "solicitation",
            "summary": SUMMARY,
            "details": "每逢周末在新开的夜市，金额不详。",
            "jurisdiction": "foshan/chancheng/new-market",  # not in the registry: triage
            "subject": {"name": subject, "position": "协管员", "rank": "staff"},
            "reporter": {"anonymous": True},
        },
        headers={"Authorization": f"Bearer {browser_pipeline.credentials['frontline'][FRONTLINE]}"},
        timeout=10,
    )
    assert resp.status_code == 202, resp.text
    return resp.json()


def lookup(browser_pipeline, receipt: dict) -> dict:
    resp = requests.post(browser_pipeline.url("intake", "/v1/receipts/lookup"), json=receipt, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def api(browser_pipeline, path: str, who: str) -> dict:
    key = browser_pipeline.credentials["supervisor"][who]
    resp = requests.get(
        browser_pipeline.url("assignment", path), headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    resp.raise_for_status()
    return resp.json()


def context(browser):
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    return ctx


def test_triage_route_supervise_and_the_allegation_in_the_workspace(browser_pipeline, browser, screenshot):
    subject = f"林某{unique('t')[-6:]}"
    posted = post_clue(browser_pipeline, subject)
    receipt = posted["receipt"]

    def routing_line() -> bool:
        found = lookup(browser_pipeline, receipt)
        return found["status"] == "received" and any("分办" in u["message_zh"] for u in found["updates"])

    wait_for(routing_line, timeout=90, interval=0.5, message="the reporter reads: received, being routed")
    workspace = browser_pipeline.url("assignment", "/workspace")

    city = context(browser)
    tab = city.new_page()
    sign_in(tab, workspace, browser_pipeline.credentials["supervisor"]["foshan"])
    tab.wait_for_url(re.compile(r"/workspace/queue$"))
    tab.get_by_role("link", name="待分办线索").click()
    tab.wait_for_selector("#triage-count")
    row = tab.locator("tr[data-case]", has_text=subject)
    assert row.count() == 1
    screenshot(tab, "triage-list")
    row.get_by_role("link").first.click()
    tab.wait_for_selector("#allegation")
    assert SUMMARY in tab.locator("#allegation").inner_text()
    assert tab.locator("#no-follow-ups").is_visible()
    tab.get_by_role("button", name="分办").click()  # no unit chosen
    tab.wait_for_selector("#f-unit-error")
    assert "请从列表中选择承办单位" in tab.locator("#f-unit-error").inner_text()
    screenshot(tab, "route-error")
    tab.select_option("#f-unit", "foshan/chancheng/shiwan#commission")
    tab.fill("#f-route-note", "新夜市属石湾街道管辖")
    tab.get_by_role("button", name="分办").click()
    tab.wait_for_url(re.compile(r"routed=yes"))
    assert tab.locator("#case-status").inner_text() in {"办理中", "排队待分配"}
    assert "分办" in tab.locator("#audit").inner_text()
    screenshot(tab, "routed")
    case_url = tab.url.split("?")[0]
    case_id = case_url.rsplit("/", 1)[-1]
    city.close()
    wait_for(lambda: lookup(browser_pipeline, receipt)["status"] == "accepted", timeout=90,
             message="the reporter reads: accepted, once routed")

    district = context(browser)
    tab = district.new_page()
    sign_in(tab, workspace, browser_pipeline.credentials["supervisor"]["foshan/chancheng"])
    tab.wait_for_url(re.compile(r"/workspace/queue$"))
    tab.goto(case_url)
    tab.wait_for_selector("#f-supervise")
    detail = api(browser_pipeline, f"/v1/cases/{case_id}", "foshan")
    later = (detail_due(detail) + timedelta(days=10)).strftime("%Y-%m-%d")
    tab.fill("#f-note", "请于本月内办结并报告")
    tab.fill("#f-due_at", later)
    tab.get_by_role("button", name="列入重点督办").click()
    tab.wait_for_selector("#f-due_at-error")
    screenshot(tab, "supervise-error")
    sooner = (detail_due(detail) - timedelta(days=60)).strftime("%Y-%m-%d")
    tab.fill("#f-due_at", sooner)
    tab.get_by_role("button", name="列入重点督办").click()
    tab.wait_for_url(re.compile(r"supervised=yes"))
    assert sooner in tab.locator("#case-due").inner_text()
    screenshot(tab, "supervised")
    tab.get_by_role("link", name="提级与督办").click()
    tab.wait_for_selector("h1")
    assert tab.locator(f"tr[data-case='{case_id}']").count() >= 1
    screenshot(tab, "escalations-with-supervised")
    district.close()

    resp = requests.post(browser_pipeline.url("intake", "/v1/receipts/messages"), timeout=10,
                         json={**receipt, "message": "他上周又收了一次", "objection": False})
    assert resp.status_code in (200, 202), resp.text
    wait_for(lambda: api(browser_pipeline, f"/v1/cases/{case_id}", "foshan")["follow_ups"], timeout=90,
             message="the follow-up reaches the case")
    cadre_id = api(browser_pipeline, f"/v1/cases/{case_id}", "foshan")["cadre_id"]
    if cadre_id is None:
        return  # queued: no cadre to sign in as
    cadre = context(browser)
    tab = cadre.new_page()
    sign_in(tab, workspace, browser_pipeline.credentials["cadre"][cadre_id])
    tab.wait_for_url(re.compile(r"/workspace/cases$"))
    tab.locator(f"tr[data-case='{case_id}']").get_by_role("link").first.click()
    tab.wait_for_selector("#allegation")
    assert SUMMARY in tab.locator("#allegation").inner_text()
    assert "他上周又收了一次" in tab.locator("#follow-ups").inner_text()
    assert tab.locator("#f-supervise").count() == 0 and tab.locator("#f-route").count() == 0
    screenshot(tab, "cadre-reads-the-allegation")
    cadre.close()


def detail_due(detail: dict):
    from datetime import datetime

    return datetime.fromisoformat(detail["due_at"].replace("Z", "+00:00"))
