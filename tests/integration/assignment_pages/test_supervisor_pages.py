"""A supervisor's workspace: the queue, workload bars against capacity, escalations, the quarter's SVG."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from services.assignment import handlers
from shared.auth import issue_key
from tests.integration.intake_pages.html import Page

from .workspace import page, receive, rows, sign_in

pytestmark = pytest.mark.stack
TOWN = "foshan/d1/t1#commission"


@pytest.fixture
def town_capacities() -> list[int]:
    return [1, 2]


def bars(shown: Page, svg_id: str) -> dict[str, tuple[str, str, str]]:
    """label -> (value, fill width, text) of one SVG chart's bars."""
    svg = shown.by_id(svg_id)
    start = shown.elements.index(svg)
    out = {}
    for i, e in enumerate(shown.elements[start:], start):
        if e.tag == "g" and "data-label" in e.attrs:
            fill = next(x for x in shown.elements[i:] if x.tag == "rect" and x.attrs.get("class") == "fill")
            value_text = next(
                x for x in shown.elements[i:] if x.tag == "text" and x.attrs.get("class") == "value"
            )
            out[e.attrs["data-label"]] = (e.attrs["data-value"], fill.attrs["width"], value_text.text)
        if e.tag == "svg" and i > start:
            break
    return out


def test_queue_and_workload_bars_show_the_numbers(http, app):
    made = [receive(app, f"q{i}") for i in range(5)]
    queued = [c for c in made if c["status"] == "queued"]
    assert len(queued) == 2
    sign_in(http, "supervisor", "foshan/d1")
    assert http.get("/workspace").headers["Location"].endswith("/workspace/queue")
    resp = http.get("/workspace/queue")
    assert resp.status_code == 200
    shown = page(resp)
    assert shown.by_id("queued-count").text == "2"
    assert sorted(rows(resp)) == sorted(c["_id"] for c in queued)
    town = next(e for e in shown.all("section") if e.attrs.get("data-unit") == TOWN)
    assert "在办 3 / 上限 3" in town.text and "排队 2 件" in town.text
    svg_id = next(e.attrs["id"] for e in shown.elements[shown.elements.index(town) :] if e.tag == "svg")
    assert bars(shown, svg_id) == {"干部1": ("1", "360.0", "1 / 1"), "干部2": ("2", "360.0", "2 / 2")}
    api = http.get(
        f"/v1/workload?unit={quote(TOWN)}",
        headers={"Authorization": f"Bearer {issue_key('supervisor', 'foshan/d1')}"},
    ).get_json()
    assert api["queued"] == 2 and api["capacity"] == 3
    district = next(e for e in shown.all("section") if e.attrs.get("data-unit") == "foshan/d1#commission")
    assert "在办 0 / 上限 10" in district.text


def test_a_cadre_cannot_open_supervisor_pages_and_a_supervisor_sees_only_their_jurisdiction(http, app):
    sign_in(http, "cadre", "t-001")
    assert http.get("/workspace/queue").status_code == 403
    assert http.get("/workspace/stats").status_code == 403
    other = app.test_client()
    sign_in(other, "supervisor", "foshan/d1/t1")
    shown = page(other.get("/workspace/queue"))
    assert [e.attrs["data-unit"] for e in shown.all("section")] == [TOWN]


def test_escalations_list_their_reasons(http, app):
    case = receive(app, "x1")
    boss = {"Authorization": f"Bearer {issue_key('supervisor', 'foshan/d1')}"}
    moved = http.post(f"/v1/cases/{case['_id']}/escalate", json={"reason": "领导批示"}, headers=boss)
    assert moved.status_code == 200
    big = receive(app, "x2", name="大额", amount_cny=80_000)
    sign_in(http, "supervisor", "foshan/d1")
    shown = page(http.get("/workspace/escalations"))
    rows = [e for e in shown.all("tr") if "data-case" in e.attrs]
    listed = {e.attrs["data-case"]: e.text for e in rows}
    assert set(listed) == {case["_id"], big["_id"]} and len(rows) == 2  # each move once
    assert "上级指定提级" in listed[case["_id"]] and "领导批示" in listed[case["_id"]]
    assert "涉案金额较大" in listed[big["_id"]] and "提级直查" in listed[big["_id"]]
    detail = http.get(f"/workspace/cases/{case['_id']}").get_data(as_text=True)
    assert "上级指定提级" in detail and "领导批示" in detail
    assert (
        handlers.CaseAudit._get_collection().count_documents(
            {"case_id": case["_id"], "action": "read", "actor": "supervisor:foshan/d1"}
        )
        == 1
    )


def test_the_quarter_chart_shows_the_stats_figures(http, app):
    made = [receive(app, f"s{i}") for i in range(5)]
    first = next(c for c in made if c["status"] != "queued")
    cadre = app.test_client()
    sign_in(cadre, "cadre", first["cadre_id"])
    url = f"/workspace/cases/{first['_id']}"
    token = page(cadre.get(url)).csrf()
    closed = cadre.post(
        url + "/close",
        data={
            "disposition": "concluded",
            "outcomes": ["reminder_talk"],
            "reporter_summary": "已提醒谈话",
            "csrf_token": token,
        },
    )
    assert closed.status_code == 303
    sign_in(http, "supervisor", "foshan/d1")
    resp = http.get("/workspace/stats")
    assert resp.status_code == 200 and "<svg" in resp.get_data(as_text=True)
    api = http.get("/v1/stats", headers={"Authorization": f"Bearer {issue_key('supervisor', 'foshan/d1')}"})
    figures = api.get_json()
    shown = page(resp)
    chart = bars(shown, "stats-chart")
    assert {k: v[2] for k, v in chart.items()} == {
        "收到线索": "5",
        "受理": "5",
        "提级/督办": "0",
        "办结": "1",
        "逾期未办结": "0",
        "排队待分配": "1",
    }
    assert figures["received"] == 5 and figures["closed"]["cases"] == 1 and figures["queued"] == 1
    assert chart["收到线索"][1] == "360.0" and chart["办结"][1] == "72.0"
    assert {e.attrs["data-key"]: e.text for e in shown.all("td") if "data-key" in e.attrs} == {
        "received": "5",
        "accepted": "5",
        "escalated": "0",
        "closed": "1",
        "overdue": "0",
        "queued": "1",
        "duties_missed": "0",
    }
    assert bars(shown, "disposition-chart")["予以了结"][2] == "1"
    assert re.fullmatch(r"\d{4} 年第 [1-4] 季度", shown.by_id("period").text)
    out_of_range = http.get("/workspace/stats?year=2000&quarter=9")  # falls back to the current quarter
    assert page(out_of_range).by_id("period").text == shown.by_id("period").text
