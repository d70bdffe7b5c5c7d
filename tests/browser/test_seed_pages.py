"""The seed's practices in Chromium: a card holder sends an opinion from a phone-sized window; a
supervisor walks the networks, a case's relationship map, the printable card sheet and the
recommendations page, issuing one and recording the bureau's answer. Screenshots under
var/screenshots/."""

from __future__ import annotations

import pytest
import requests

from deploy import demo
from tests.integration.shared.helpers import wait_for

pytestmark = pytest.mark.stack
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def demo_loaded(browser_pipeline):
    demo.load(browser_pipeline.pipeline.urls, browser_pipeline.credentials, lambda _text: None)
    return browser_pipeline


def api(pipeline, service: str, path: str, scope: str) -> dict:
    key = pipeline.credentials["supervisor"][scope]
    resp = requests.get(pipeline.url(service, path), headers={"Authorization": f"Bearer {key}"}, timeout=10)
    resp.raise_for_status()
    return resp.json()


def fits(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_card_holder_sends_an_opinion_from_a_phone(browser, demo_loaded, screenshot):
    batch = next(
        b
        for b in api(demo_loaded, "intake", "/v1/card-batches", "foshan/nanhai")["items"]
        if b["label"] == demo.DEMO_LABEL
    )
    card = api(demo_loaded, "intake", f"/v1/card-batches/{batch['batch_id']}", "foshan/nanhai")["cards"][999]
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    tab = context.new_page()
    try:
        tab.goto(demo_loaded.url("intake", f"/card/{card['code']}"))
        assert tab.locator("#card-bureau").inner_text() == "南海区城市管理和综合执法局"
        assert tab.locator("#card-number").inner_text() == card["number"]
        assert fits(tab)
        screenshot(tab, "card-form")
        tab.get_by_role("button", name="提交").click()  # empty: the summary is required
        tab.wait_for_selector(".error-summary")
        assert tab.locator("#f-summary-error").is_visible()
        screenshot(tab, "card-error")
        tab.select_option("#f-category", "obstruction")
        tab.fill("#f-summary", "渣土车检查时故意刁难司机")
        tab.get_by_role("button", name="提交").click()
        tab.wait_for_selector("#receipt-code")
        assert fits(tab)
        screenshot(tab, "card-receipt")
        code, secret = tab.locator("#receipt-code").inner_text(), tab.locator("#receipt-secret").inner_text()
    finally:
        context.close()
    wait_for(
        lambda: (
            requests.post(
                demo_loaded.url("intake", "/v1/receipts/lookup"),
                timeout=10,
                json={"code": code, "secret": secret},
            ).json()["status"]
            == "accepted"
        ),
        timeout=60,
        message="the card opinion accepted",
    )
    row = next(
        b
        for b in api(demo_loaded, "intake", "/v1/card-batches", "foshan/nanhai")["items"]
        if b["batch_id"] == batch["batch_id"]
    )
    assert row["funnel"]["opinions"] == 16


def test_a_supervisor_walks_networks_map_sheet_and_recommendations(page, demo_loaded, screenshot):
    workspace = demo_loaded.url("assignment", "/workspace")
    page.goto(workspace + "/sign-in")
    page.fill("#f-key", demo_loaded.credentials["supervisor"]["foshan/chancheng"])
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="关系图与协作办案").click()
    page.wait_for_url("**/workspace/networks")  # a reload during the link's navigation is refused

    def network_shown() -> bool:
        if page.locator("section.network").count() > 0:
            return True
        page.reload()  # the demo's networks are built by the consumers, maybe not yet
        return False

    wait_for(
        network_shown,
        interval=0.5,
        timeout=60,
        message="the network on the page",
    )
    network = page.locator("section.network").first
    assert "禅城区纪委监委" in network.locator(".lead-unit").inner_text()
    assert "佛山市绿源环保科技有限公司" in network.locator(".parties").inner_text()
    screenshot(page, "networks")
    network.get_by_role("link", name="查看").first.click()
    page.wait_for_selector("#case-map")
    labels = page.locator("#case-map g.node").evaluate_all("nodes => nodes.map(n => n.dataset.label)")
    assert "佛山市汇丰源环保科技有限公司" in labels and "禅城区交通运输局" in labels
    screenshot(page, "case-map")

    batch = next(
        b
        for b in api(demo_loaded, "intake", "/v1/card-batches", "foshan/nanhai")["items"]
        if b["label"] == demo.DEMO_LABEL
    )
    page.goto(demo_loaded.url("intake", batch["sheet_url"]))
    assert page.locator("section.card").count() == 100 and page.locator("section.card svg").count() == 100
    assert "提醒谈话 2" in page.locator("#funnel").inner_text()
    screenshot(page, "card-sheet")

    page.goto(workspace + "/recommendations")
    assert page.locator("#bureau-quarter").count() == 1
    page.select_option("#f-bureau", "foshan/chancheng/traffic")
    page.select_option("#f-kind", "discipline")
    page.fill("#f-text", "针对协管员违规推介业务问题，建议开展廉政风险排查。")
    page.fill("#f-due_on", "2000-01-01")
    page.get_by_role("button", name="发出建议").click()
    page.wait_for_selector(".error-summary")
    assert "不能早于今天" in page.locator("#f-due_on-error").inner_text()
    page.fill("#f-due_on", page.locator("#f-due_on-hint").inner_text().split()[-1])
    page.get_by_role("button", name="发出建议").click()
    page.wait_for_selector(".notice")
    row = page.locator("#recommendations tr", has_text="违规推介业务").first
    row.locator("textarea").fill("已开展排查，建立轮岗制度。")
    row.get_by_role("button", name="记录反馈").click()
    page.wait_for_selector(".notice")
    assert "已反馈整改情况" in page.locator("#recommendations tr", has_text="违规推介业务").first.inner_text()
    screenshot(page, "recommendations")
