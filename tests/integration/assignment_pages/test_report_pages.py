"""The supervisors' report pages on the real database: duties, review batches, statistics rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from services.assignment import tracking

from .workspace import page, receive, sign_in

pytestmark = pytest.mark.stack


def test_the_duties_page_shows_missed_due_and_met_duties(http, app):
    ctx = app.extensions["assignment.ctx"]
    start = datetime.now(UTC) - timedelta(days=40)
    receive(app, "late", anonymous=False, reporter_contact_sealed="sealed", received_at=start)
    receive(app, "fresh", name="新对象", anonymous=False, reporter_contact_sealed="sealed")
    tracking.sweep(ctx)
    sign_in(http, "supervisor", "foshan/d1")
    missed = page(http.get("/workspace/duties"))  # missed first
    assert missed.by_id("tab-missed").attrs.get("aria-current") == "page"
    rows = [(r.attrs["data-kind"], r.attrs["data-state"]) for r in missed.all("tr") if "data-kind" in r.attrs]
    assert sorted(rows) == [("accept_notice", "missed"), ("still_handling", "missed")]
    assert missed.by_id("tab-missed").text == "已逾期（2）" and missed.by_id("tab-due").text == "待履行（2）"
    due = page(http.get("/workspace/duties?state=due"))
    assert {r.attrs["data-kind"] for r in due.all("tr") if "data-kind" in r.attrs} == {
        "accept_notice", "still_handling"}
    assert page(http.get("/workspace/duties?state=met")).by_id("no-duties") is not None
    cadre = app.test_client()
    sign_in(cadre, "cadre", "t-001")
    assert cadre.get("/workspace/duties").status_code == 403


def test_the_review_pages_show_each_batch_by_unit(http, app):
    deadline = datetime.now(UTC) + timedelta(days=30)
    batch = {"id": "b1", "name": "第一批回头看", "deadline": deadline}
    for i, prior in enumerate(("handled", "not_handled", "in_progress")):
        receive(app, f"old{i}", name=f"旧对象{i}", source="review", batch=batch, prior_disposition=prior,
                original_received_at=datetime(2017, 3, 1 + i, tzinfo=UTC))
    sign_in(http, "supervisor", "foshan/d1")
    listed = page(http.get("/workspace/review"))
    row = next(r for r in listed.all("tr") if r.attrs.get("data-batch") == "b1")
    assert "第一批回头看" in row.text
    cells = {e.attrs["data-key"]: e.text for e in listed.all("td") if "data-key" in e.attrs}
    assert cells == {"total": "3", "in_hand": "3", "closed": "0", "overdue": "0", "reviews": "1"}
    one = page(http.get("/workspace/review/b1"))
    assert one.by_id("batch-name").text == "第一批回头看"
    units = [r.attrs["data-unit"] for r in one.all("tr") if "data-unit" in r.attrs]
    assert units == ["foshan/d1/t1#commission"]
    assert http.get("/workspace/review/nope").status_code == 404


def test_the_stats_page_has_rows_per_child_and_downloads(http, app):
    for i in range(3):
        receive(app, f"q{i}", name=f"对象{i}")
    sign_in(http, "supervisor", "foshan/d1")
    shown = page(http.get("/workspace/stats"))
    for basis in ("received", "handled"):
        table = [r for r in shown.all("tr") if r.attrs.get("data-name")]
        assert {r.attrs["data-name"] for r in table} == {"一街", "本级", "合计"}
        assert shown.by_id(f"rows-{basis}") is not None
    street = next(r for r in shown.all("tr") if r.attrs.get("data-name") == "一街")
    assert street.attrs["data-jurisdiction"] == "foshan/d1/t1"
    cells = {e.attrs["data-col"]: e.text for e in shown.all("td") if "data-col" in e.attrs}  # the last row
    assert cells["received"] == "3" and cells["accepted"] == "3" and cells["duties_missed"] == "0"
    csv_resp = http.get(shown.by_id("download-csv").attrs["href"])
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(csv_resp.get_data().decode("utf-8-sig"))))
    assert lines[0][1] == "辖区" and lines[1][1:4] == ["一街", "foshan/d1/t1", "3"]
    xlsx = http.get(shown.by_id("download-xlsx").attrs["href"])
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet["B3"].value == "一街" and sheet["D3"].value == 3
