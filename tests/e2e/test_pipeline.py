"""Clues walked through all three services running as real processes (see conftest.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.shared.helpers import wait_for

pytestmark = pytest.mark.e2e

FRONTLINE = "foshan/chancheng/shiwan/contact"


def clue(**overrides) -> dict:
    body = {
        "source": "observer", "category": "solicitation",
        "summary": "城管执法队员收受商户香烟和红包",
        "jurisdiction": "foshan/chancheng/shiwan",
        "subject": {"name": f"许某{uuid.uuid4().hex[:6]}", "position": "城管执法队员",
                    "employer": "foshan/chancheng/urban-management", "rank": "staff"},
        "amount_cny": 4645,
        "reporter": {"anonymous": True},
    }
    body.update(overrides)
    return body


def post(e2e, body: dict, frontline: str = FRONTLINE) -> dict:
    resp = e2e.http.post(e2e.url("intake", "/v1/clues"), json=body,
                         headers=e2e.auth(e2e.credentials["frontline"][frontline]), timeout=10)
    assert resp.status_code == 202, resp.text
    return resp.json()


def lookup(e2e, receipt: dict) -> dict:
    resp = e2e.http.post(e2e.url("intake", "/v1/receipts/lookup"), json=receipt, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_status(e2e, receipt: dict, status: str, timeout: float = 120) -> dict:
    found: dict = {}

    def reached() -> bool:
        found.update(lookup(e2e, receipt))
        return found["status"] == status

    wait_for(reached, timeout=timeout, interval=0.3, message=f"receipt status {status}")
    return found


def find_case(e2e, clue_id: str, supervisor: str = "foshan", timeout: float = 120) -> dict:
    headers = e2e.auth(e2e.credentials["supervisor"][supervisor])
    found: dict = {}

    def search() -> bool:
        url = e2e.url("assignment", "/v1/cases?limit=500")
        while url:
            page = e2e.http.get(url, headers=headers, timeout=10).json()
            for case in page["items"]:
                if case["clue_id"] == clue_id or clue_id in case["linked_clue_ids"]:
                    found.update(case)
                    return True
            url = (e2e.url("assignment", f"/v1/cases?limit=500&cursor={page['next']}")
                   if page.get("next") else None)
        return False

    wait_for(search, timeout=timeout, interval=0.3, message=f"case of clue {clue_id}")
    return found


def case_detail(e2e, case_id: str, supervisor: str = "foshan") -> dict:
    resp = e2e.http.get(e2e.url("assignment", f"/v1/cases/{case_id}"),
                        headers=e2e.auth(e2e.credentials["supervisor"][supervisor]), timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def close(e2e, case: dict, summary: str = "经核实，已对相关人员诫勉谈话，责令退还财物。") -> None:
    token = e2e.credentials["cadre"][case["cadre_id"]]
    resp = e2e.http.post(e2e.url("assignment", f"/v1/cases/{case['case_id']}/close"),
                         headers=e2e.auth(token), timeout=10, json={
                             "disposition": "preliminary_verification",
                             "outcomes": ["admonition_talk", "restitution"],
                             "reporter_summary": summary})
    assert resp.status_code == 200, resp.text


def test_real_name_clue_from_post_to_the_reporters_inbox_and_mail(e2e):
    email = f"wang-{uuid.uuid4().hex[:6]}@example.org"
    posted = post(e2e, clue(reporter={"anonymous": False, "name": "王某", "email": email,
                                      "channel": "email"}))
    receipt = posted["receipt"]
    assert posted["status"] == "received"

    wait_status(e2e, receipt, "accepted")
    wait_for(lambda: len(e2e.mail.to(email)) >= 2, timeout=60, message="received + accepted mail")

    case = find_case(e2e, posted["clue_id"])
    assert case["status"] == "assigned"
    assert case["unit"] == "foshan/chancheng/shiwan#commission"
    assert case["cadre_id"] in e2e.credentials["cadre"]
    summary = f"经核实，已诫勉谈话并责令退还 {uuid.uuid4().hex[:6]}"
    close(e2e, case, summary)

    result = wait_status(e2e, receipt, "closed")
    assert any(summary in update["message"] for update in result["updates"])
    wait_for(lambda: any(summary in m.get_body(("plain",)).get_content()
                         for m in e2e.mail.to(email)), timeout=60, message="result mail")
    # Feedback never names the cadre who handled it.
    cadre_names = {case["cadre_id"]}
    for message in e2e.mail.to(email):
        text = message.get_body(("plain",)).get_content()
        assert not any(name in text for name in cadre_names)
        assert "shiwan#commission" not in text


def test_anonymous_clue_is_followed_only_by_receipt(e2e):
    posted = post(e2e, clue())
    result = wait_status(e2e, posted["receipt"], "accepted")
    assert [u["message"] for u in result["updates"]]
    notes = e2e.http.get(e2e.url("notify", f"/v1/notifications?clue_id={posted['clue_id']}"),
                         headers=e2e.auth(e2e.credentials["admin"]), timeout=10).json()["items"]
    assert notes and {n["channel"] for n in notes} == {"inbox"}


ESCALATIONS = [
    ("rank", {"subject": {"name": "科长甲", "employer": "foshan/chancheng/urban-management",
                          "rank": "section"}}, "foshan/chancheng#commission"),
    ("amount", {"amount_cny": 60_000}, "foshan/chancheng#commission"),
    ("conflict", {"subject": {"name": "冯某华", "rank": "staff"}}, "foshan/chancheng#commission"),
    ("collusion", {"collusion": True}, "foshan/chancheng#commission"),
]


@pytest.mark.parametrize("reason, overrides, to_unit", ESCALATIONS, ids=[r[0] for r in ESCALATIONS])
def test_escalation_by_rule(e2e, reason, overrides, to_unit):
    body = clue(**overrides)
    if "subject" in overrides and reason == "rank":
        body["subject"]["name"] += uuid.uuid4().hex[:4]
    posted = post(e2e, body)
    wait_status(e2e, posted["receipt"], "transferred")
    case = find_case(e2e, posted["clue_id"])
    assert case["unit"] == to_unit
    detail = case_detail(e2e, case["case_id"])
    assert detail["escalations"], detail
    first = detail["escalations"][0]
    assert reason in first["reasons"]
    assert first["from_unit"] == "foshan/chancheng/shiwan#commission"
    assert first["to_unit"] == to_unit


def test_repeat_clues_are_linked_and_the_third_escalates(e2e):
    subject = {"name": f"重复某{uuid.uuid4().hex[:4]}", "employer": "foshan/chancheng/urban-management",
               "rank": "staff"}
    first = post(e2e, clue(subject=subject))
    wait_status(e2e, first["receipt"], "accepted")
    second = post(e2e, clue(subject=subject))
    wait_status(e2e, second["receipt"], "accepted")
    case = find_case(e2e, second["clue_id"])
    assert case["clue_id"] == first["clue_id"]
    assert second["clue_id"] in case["linked_clue_ids"]
    third = post(e2e, clue(subject=subject, category="bribery"))
    wait_for(lambda: lookup(e2e, third["receipt"])["status"] in {"accepted", "transferred"}, 60)
    detail = case_detail(e2e, find_case(e2e, third["clue_id"])["case_id"])
    assert any("repeat" in esc["reasons"] for esc in detail["escalations"]), detail


def test_manual_escalation_by_a_supervisor(e2e):
    posted = post(e2e, clue())
    wait_status(e2e, posted["receipt"], "accepted")
    case = find_case(e2e, posted["clue_id"])
    resp = e2e.http.post(e2e.url("assignment", f"/v1/cases/{case['case_id']}/escalate"),
                         headers=e2e.auth(e2e.credentials["supervisor"]["foshan/chancheng"]),
                         json={"reason": "涉及多名执法人员，需区纪委监委直查"}, timeout=10)
    assert resp.status_code in (200, 202), resp.text
    wait_status(e2e, posted["receipt"], "transferred")
    detail = case_detail(e2e, case["case_id"])
    assert "manual" in detail["escalations"][-1]["reasons"]


def test_objection_reopens_a_closed_case(e2e):
    posted = post(e2e, clue())
    receipt = posted["receipt"]
    wait_status(e2e, receipt, "accepted")
    case = find_case(e2e, posted["clue_id"])
    close(e2e, case)
    wait_status(e2e, receipt, "closed")
    resp = e2e.http.post(e2e.url("intake", "/v1/receipts/messages"), timeout=10, json={
        **receipt, "message": "处理结果与事实不符，许某仍在收红包", "objection": True})
    assert resp.status_code in (200, 202), resp.text
    wait_for(lambda: case_detail(e2e, case["case_id"])["status"] == "reopened", timeout=60,
             message="case reopened")
    detail = case_detail(e2e, case["case_id"])
    assert any("objection" in str(entry.get("action", "")) for entry in detail["audit"]), detail["audit"]
