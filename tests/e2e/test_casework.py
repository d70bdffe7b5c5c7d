"""Casework rules walked through all three services as real processes on the real broker and
database, through the public APIs only (see conftest.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.shared.helpers import wait_for

from .test_pipeline import case_detail, close, clue, find_case, lookup, post, wait_status

pytestmark = pytest.mark.e2e


def get_clue(e2e, clue_id: str, supervisor: str) -> int:
    return e2e.http.get(e2e.url("intake", f"/v1/clues/{clue_id}"), timeout=10,
                        headers=e2e.auth(e2e.credentials["supervisor"][supervisor])).status_code


def test_a_clue_about_a_cadre_of_the_unit_goes_up_and_is_hidden_from_it(e2e):
    # 郭锦辉 is a cadre of Shiwan's 纪工委 in the demo registry
    posted = post(e2e, clue(subject={"name": "郭锦辉", "position": "执法队员", "rank": "staff",
                                     "employer": f"foshan/chancheng/b{uuid.uuid4().hex[:6]}"}))
    wait_status(e2e, posted["receipt"], "transferred")
    case = find_case(e2e, posted["clue_id"])
    assert case["unit"] == "foshan/chancheng#commission" and "conflict" in case["escalation_reasons"]
    assert case["cadre_id"] != "c-shiwan-2"
    wait_for(lambda: get_clue(e2e, posted["clue_id"], "foshan/chancheng/shiwan") == 404, timeout=60,
             message="the town's supervisor no longer reads the clue")
    assert get_clue(e2e, posted["clue_id"], "foshan/chancheng") == 200
    town = e2e.auth(e2e.credentials["supervisor"]["foshan/chancheng/shiwan"])
    resp = e2e.http.get(e2e.url("assignment", f"/v1/cases/{case['case_id']}"), headers=town, timeout=10)
    assert resp.status_code == 403


def test_small_amounts_add_up_across_linked_clues(e2e):
    subject = {"name": f"积少某{uuid.uuid4().hex[:4]}", "employer": "foshan/chancheng/urban-management",
               "rank": "staff"}
    first = post(e2e, clue(subject=subject, amount_cny=30_000))
    wait_status(e2e, first["receipt"], "accepted")
    second = post(e2e, clue(subject=subject, amount_cny=20_000))
    wait_status(e2e, first["receipt"], "transferred")
    case = find_case(e2e, second["clue_id"])
    assert case["amount_total_cny"] == 50_000 and case["unit"] == "foshan/chancheng#commission"
    detail = case_detail(e2e, case["case_id"])
    assert detail["escalations"][-1]["reasons"] == ["amount"]
    assert [c["clue_id"] for c in detail["linked_clues"]] == [second["clue_id"]]
    assert detail["allegation"]["summary"] == clue()["summary"]


def test_supervision_by_hand_and_a_review_after_an_objection(e2e):
    posted = post(e2e, clue())
    receipt = posted["receipt"]
    wait_status(e2e, receipt, "accepted")
    case = find_case(e2e, posted["clue_id"])
    district = e2e.auth(e2e.credentials["supervisor"]["foshan/chancheng"])
    url = e2e.url("assignment", f"/v1/cases/{case['case_id']}")
    resp = e2e.http.post(url + "/supervise", json={"note": "限期办结"}, headers=district, timeout=10)
    assert resp.status_code == 200 and resp.json()["status"] == "supervised"
    other = e2e.auth(e2e.credentials["supervisor"]["foshan/nanhai"])
    assert e2e.http.post(url + "/supervise", json={"note": "x"}, headers=other, timeout=10).status_code == 404
    close(e2e, case)
    wait_status(e2e, receipt, "closed")
    closed = e2e.http.post(url + "/supervise", json={"note": "x"}, headers=district, timeout=10)
    assert closed.status_code == 409
    resp = e2e.http.post(e2e.url("intake", "/v1/receipts/messages"), timeout=10,
                         json={**receipt, "message": "处理结果与事实不符", "objection": True})
    assert resp.status_code in (200, 202), resp.text
    wait_for(lambda: case_detail(e2e, case["case_id"])["status"] in {"reopened", "queued"}, timeout=60,
             message="case reopened for review")
    review = case_detail(e2e, case["case_id"])
    assert review["review"] is True and review["cadre_id"] != case["cadre_id"]
    assert review["lead_cadre_id"] == "c-shiwan-1"  # Shiwan's leader
    assert review["follow_ups"][-1] == {**review["follow_ups"][-1], "objection": True}
    assert any("复查" in u["message_zh"] for u in lookup(e2e, receipt)["updates"])


def test_routing_a_triage_case_through_the_api(e2e):
    posted = post(e2e, clue(jurisdiction="foshan/chancheng/new-market"))
    receipt = posted["receipt"]
    wait_for(lambda: any("分办" in u["message_zh"] for u in lookup(e2e, receipt)["updates"]), timeout=90,
             message="the reporter reads that the clue is being routed")
    assert lookup(e2e, receipt)["status"] == "received"
    case = find_case(e2e, posted["clue_id"])
    assert case["triage_reason"] == "unroutable"
    city = e2e.auth(e2e.credentials["supervisor"]["foshan"])
    url = e2e.url("assignment", f"/v1/cases/{case['case_id']}/route")
    bad = e2e.http.post(url, json={"unit": "foshan/atlantis#commission"}, headers=city, timeout=10)
    assert bad.status_code == 422 and "unit" in bad.json()["errors"]
    ok = e2e.http.post(url, json={"unit": "foshan/chancheng/shiwan#commission"}, headers=city, timeout=10)
    assert ok.status_code == 200, ok.text
    wait_status(e2e, receipt, "accepted")
    assert e2e.http.post(url, json={"unit": "foshan/chancheng/shiwan#commission"}, headers=city,
                         timeout=10).status_code == 409
