"""A supervisor walks the report pages in Chromium, on the services as `make run` starts them: a
real-name reporter (offered no SMS: no gateway is set) is told the clue was accepted, so the
acceptance duty shows as met; a review batch of old clues is imported and shown by unit; the
quarterly statistics have a row per street and download as CSV. Screenshots in var/screenshots/."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.integration.shared.helpers import unique, wait_for

from .test_cadre_closes import find_case, sign_in

pytestmark = pytest.mark.stack


def submit_real_name_clue(page, intake: str, subject: str) -> None:
    page.goto(intake + "/report")
    channels = page.locator("#f-reporter-channel option").evaluate_all("els => els.map(e => e.value)")
    assert "sms" not in channels and "email" in channels  # notify has no SMS gateway here
    page.select_option("#f-category", "obstruction")
    page.fill("#f-summary", "窗口人员故意刁难，拖延办理营业执照")
    page.select_option("#f-jurisdiction", "foshan/chancheng/shiwan")
    page.fill("#f-subject-name", subject)
    page.select_option("#f-subject-rank", "staff")
    page.check("#f-reporter-anonymous-no")
    page.fill("#f-reporter-name", "王某")
    page.select_option("#f-reporter-channel", "email")
    page.fill("#f-reporter-contact", "wang@example.org")
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector("#receipt-code")


def import_batch(browser_pipeline, name: str) -> list[dict]:
    key = browser_pipeline.credentials["frontline"]["foshan/chancheng/shiwan/contact"]
    deadline = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    lines = [{"source": "review", "category": "business_steering",
              "summary": f"辅警向商户推介亲属公司（{i}）",
              "jurisdiction": "foshan/chancheng/shiwan", "reporter": {"anonymous": True},
              "subject": {"name": f"辅警{name[-4:]}{i}", "rank": "staff"},
              "original_received_at": f"201{6 + i}-0{3 + i}-15T09:00:00+08:00",
              "original_unit": "foshan/chancheng/shiwan#commission",
              "file_number": f"禅纪〔201{6 + i}〕{i + 3}号",
              "prior_disposition": ("handled", "not_handled")[i % 2]} for i in range(2)]
    resp = requests.post(browser_pipeline.url("intake", "/v1/clues:import"),
                         params={"batch": name, "deadline": deadline},
                         data="\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode(),
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"},
                         timeout=30)
    results = [json.loads(line) for line in resp.text.splitlines()]
    assert [r["code"] for r in results] == [202, 202], results
    return results


def test_a_supervisor_walks_duties_review_batches_and_statistics(browser_pipeline, browser, page, screenshot):
    intake, workspace = browser_pipeline.url("intake"), browser_pipeline.url("assignment", "/workspace")
    subject = f"张某{unique('d')[-6:]}"
    submit_real_name_clue(page, intake, subject)
    screenshot(page, "reporter-channels-without-sms")
    case = find_case(browser_pipeline, subject)
    batch = f"回头看{unique('b')[-6:]}"
    import_batch(browser_pipeline, batch)

    boss = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    boss.set_default_timeout(15_000)
    tab = boss.new_page()
    sign_in(tab, workspace, browser_pipeline.credentials["supervisor"]["foshan/chancheng"])
    tab.wait_for_url(re.compile(r"/workspace/queue$"))

    tab.get_by_role("link", name="职责履行").click()
    tab.wait_for_selector("#tab-missed[aria-current='page']")
    screenshot(tab, "workspace-duties-missed")

    def accept_notice_met() -> bool:
        tab.goto(workspace + "/duties?state=met")
        return tab.locator(f"tr[data-kind='accept_notice'] a:text('{case['case_id']}')").count() == 1

    wait_for(accept_notice_met, timeout=120, interval=2, message="the acceptance notice delivered and met")
    assert "已履行" in tab.locator("#tab-met").inner_text()
    screenshot(tab, "workspace-duties-met")
    tab.locator("#tab-due").click()
    tab.wait_for_selector("#tab-due[aria-current='page']")
    assert tab.locator("tr[data-kind='still_handling']").count() >= 1
    screenshot(tab, "workspace-duties-due")

    tab.get_by_role("link", name="回头看批次").click()

    def batch_listed() -> bool:
        tab.goto(workspace + "/review")
        return tab.get_by_role("link", name=batch).count() == 1

    wait_for(batch_listed, timeout=90, interval=1, message="the review batch with its cases")
    screenshot(tab, "workspace-review-batches")
    tab.get_by_role("link", name=batch).click()
    tab.wait_for_selector("#batch-name")
    assert tab.locator("#batch-figures td[data-key='total']").inner_text() == "2"
    assert tab.locator("#batch-figures td[data-key='reviews']").inner_text() == "1"
    assert tab.locator("tr[data-unit]").count() >= 1
    screenshot(tab, "workspace-review-batch")

    tab.get_by_role("link", name="季度统计").click()
    tab.wait_for_selector("#rows-received")
    shiwan = tab.locator("#rows-received tr[data-jurisdiction='foshan/chancheng/shiwan']")
    assert int(shiwan.locator("td[data-col='received']").inner_text()) >= 1
    screenshot(tab, "workspace-stats-rows")
    with tab.expect_download() as info:
        tab.locator("#download-csv").click()
    rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8-sig").read())))
    assert rows[0][:4] == ["统计口径", "辖区", "辖区代码", "受理线索"]
    assert any(r[2] == "foshan/chancheng/shiwan" for r in rows[1:])
    boss.close()
