"""The workspace pages of the seed's practices on the real database: networks, a case's SVG
relationship map, recommendations to bureaus (issue, overdue, the bureau's answer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import consumer, handlers
from services.assignment.recommendation_store import Recommendation
from shared import events
from tests.integration.assignment.workers import clue_event

from .workspace import page, post_form, sign_in

pytestmark = pytest.mark.stack
BUREAU = "foshan/d1/bureau"


def receive(app, clue_id: str, **kw) -> dict:
    ctx = app.extensions["assignment.ctx"]
    consumer.received([events.decode(events.encode(clue_event(clue_id, **kw)))], ctx, one=True)
    return handlers.cases().find_one({"clue_id": clue_id})


def test_a_subject_steering_firms_is_a_network_shown_on_the_map(http, app):
    parties = [{"kind": "firm", "name": f"环保公司{i}"} for i in range(3)] + [
        {"kind": "relative", "name": "妻子"}
    ]
    case = receive(app, "n1", name="卢某", parties=parties)
    assert case["unit"] == "foshan/d1#commission"  # one unit's network: the level above leads
    assert "network" in case["escalation_reasons"]
    sign_in(http, "supervisor", "foshan/d1/t1")  # the assisting town's supervisor
    shown = http.get("/workspace/networks").get_data(as_text=True)
    assert "区纪委" in shown and "街纪工委" in shown and "环保公司1" in shown
    resp = http.get(f"/workspace/cases/{case['_id']}/map")
    assert resp.status_code == 200
    svg = page(resp).by_id("case-map")
    assert svg.tag == "svg"
    labels = {e.attrs["data-label"] for e in page(resp).all("g") if "data-label" in e.attrs}
    assert {"卢某", "环保公司0", "环保公司2", "妻子", "区纪委"} <= labels
    assert "n1" not in resp.get_data(as_text=True).split("<svg")[1].split("</svg>")[0]  # no subject keys


def test_the_map_of_a_case_outside_scope_is_refused(http, app):
    case = receive(app, "n2", parties=[{"kind": "firm", "name": "甲"}])
    sign_in(http, "supervisor", "foshan/d2")
    assert http.get(f"/workspace/cases/{case['_id']}/map").status_code == 403


def test_recommendations_issue_overdue_and_answer(http, app):
    receive(app, "r1", subject={"name": "许某", "employer": BUREAU, "rank": "staff"})
    sign_in(http, "supervisor", "foshan/d1")
    shown = page(http.get("/workspace/recommendations"))
    assert shown.by_id("bureau-quarter") is not None and "一区城管局" in shown.by_id("bureau-quarter").text
    bad = post_form(
        http,
        "/workspace/recommendations",
        "/workspace/recommendations",
        {"bureau": BUREAU, "kind": "supervision", "text": "x", "due_on": "2020-01-01"},
    )
    assert bad.status_code == 422 and "不能早于今天" in bad.get_data(as_text=True)
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    ok = post_form(
        http,
        "/workspace/recommendations",
        "/workspace/recommendations",
        {"bureau": BUREAU, "kind": "supervision", "text": "规范窗口执法", "due_on": today.isoformat()},
    )
    assert ok.status_code == 303
    Recommendation(
        id="0000late",
        bureau=BUREAU,
        kind="discipline",
        jurisdiction="foshan/d1",
        text="逾期的建议",
        due_on=(today - timedelta(days=3)).isoformat(),
        year=today.year,
        quarter=1,
        issued_by="supervisor:foshan/d1",
        issued_at=datetime.now(UTC),
    ).save()
    shown = page(http.get("/workspace/recommendations"))
    assert "逾期的建议" not in shown.by_id("overdue").text and "一区城管局" in shown.by_id("overdue").text
    answered = post_form(
        http,
        "/workspace/recommendations",
        "/workspace/recommendations/0000late/answer",
        {"answer": "已整改完毕", "answered_on": today.isoformat()},
    )
    assert answered.status_code == 303
    shown = page(http.get("/workspace/recommendations"))
    assert shown.by_id("overdue").text == "没有逾期的建议。"
    assert "逾期后反馈" in shown.by_id("recommendations").text
