"""The seed's practices through the public APIs of the three services running as real processes on
the real local broker and database: supervision cards, integrity observers, the relationship map's
network escalation with joint handling, and recommendations to bureaus."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.test_pipeline import case_detail, find_case, lookup, wait_status
from tests.integration.shared.helpers import wait_for

pytestmark = pytest.mark.e2e

NANHAI_UM = "foshan/nanhai/urban-management"
CHANCHENG_UM = "foshan/chancheng/urban-management"


def supervisor(e2e, scope: str) -> dict[str, str]:
    return e2e.auth(e2e.credentials["supervisor"][scope])


def frontline(e2e, town: str) -> dict[str, str]:
    return e2e.auth(e2e.credentials["frontline"][f"{town}/contact"])


def tag() -> str:
    return uuid.uuid4().hex[:6]


def close(e2e, case: dict, outcomes: list[str]) -> None:
    resp = e2e.http.post(
        e2e.url("assignment", f"/v1/cases/{case['case_id']}/close"),
        timeout=10,
        headers=e2e.auth(e2e.credentials["cadre"][case["cadre_id"]]),
        json={
            "disposition": "talk_inquiry",
            "outcomes": outcomes,
            "reporter_summary": "已对相关执法人员进行提醒谈话。",
        },
    )
    assert resp.status_code == 200, resp.text


def test_card_opinions_naming_no_one_route_by_the_bureau_and_fill_the_funnel(e2e):
    resp = e2e.http.post(
        e2e.url("intake", "/v1/card-batches"),
        headers=supervisor(e2e, "foshan/nanhai"),
        json={"bureau": NANHAI_UM, "place_kind": "shop", "count": 5, "label": tag()},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    batch = resp.json()
    assert batch["jurisdiction"] == "foshan/nanhai" and batch["funnel"]["issued"] == 5
    detail = e2e.http.get(
        e2e.url("intake", f"/v1/card-batches/{batch['batch_id']}"),
        headers=supervisor(e2e, "foshan/nanhai"),
        timeout=10,
    ).json()
    codes = [c["code"] for c in detail["cards"]]
    assert len(set(codes)) == 5
    sheet = e2e.http.get(e2e.url("intake", batch["sheet_url"]), timeout=30)
    assert sheet.status_code == 200 and codes[0] in sheet.text and "<svg" in sheet.text

    posted = []
    for code in codes[:2]:  # two opinions about the bureau's conduct, no one named, same category
        resp = e2e.http.post(
            e2e.url("intake", f"/v1/cards/{code.lower()}/feedback"),
            timeout=10,
            json={
                "category": "obstruction",
                "summary": f"窗口办事故意拖延 {tag()}",
                "reporter": {"anonymous": True},
            },
        )
        assert resp.status_code == 202, resp.text
        posted.append(resp.json())
    for p in posted:
        wait_status(e2e, p["receipt"], "accepted")
    found = [find_case(e2e, p["clue_id"]) for p in posted]
    assert {c["unit"] for c in found} == {f"{NANHAI_UM}#embedded"}  # routed by the card's bureau
    assert {c["subject_employer"] for c in found} == {NANHAI_UM}
    assert found[0]["case_id"] != found[1]["case_id"]  # naming no one, they are not one subject
    assert all(c["source"] == "supervision_card" and c["subject_name"] == "" for c in found)
    close(e2e, found[0], ["reminder_talk"])
    wait_status(e2e, posted[0]["receipt"], "closed")

    def funnel() -> dict:
        items = e2e.http.get(
            e2e.url("intake", "/v1/card-batches"), headers=supervisor(e2e, "foshan/nanhai"), timeout=10
        ).json()["items"]
        return next(b["funnel"] for b in items if b["batch_id"] == batch["batch_id"])

    wait_for(lambda: funnel()["outcomes"].get("reminder_talk") == 1, timeout=60, message="funnel outcome")
    assert funnel() == {
        "issued": 5,
        "opinions": 2,
        "led_to_case": 2,
        "closed": 1,
        "outcomes": {"reminder_talk": 1},
    }
    by_bureau = e2e.http.get(
        e2e.url("intake", "/v1/card-batches/funnel"), timeout=10, headers=supervisor(e2e, "foshan/nanhai")
    ).json()["items"]
    row = next(r for r in by_bureau if r["bureau"] == NANHAI_UM)
    assert row["issued"] >= 5 and row["opinions"] >= 2
    # Another district's supervisor sees nothing of it.
    other = e2e.http.get(
        e2e.url("intake", "/v1/card-batches"), headers=supervisor(e2e, "foshan/shunde"), timeout=10
    ).json()["items"]
    assert all(b["batch_id"] != batch["batch_id"] for b in other)
    bad = e2e.http.post(
        e2e.url("intake", "/v1/cards/0000-0000/feedback"),
        timeout=10,
        json={"summary": "x", "reporter": {"anonymous": True}},
    )
    assert bad.status_code == 404 and bad.headers["Content-Type"].startswith("application/problem+json")


def test_observer_reports_are_posted_with_the_observer_key_and_never_reveal_the_observer(e2e):
    name = f"阿文{tag()}"
    phone = f"+86139{uuid.uuid4().int % 10**8:08d}"
    resp = e2e.http.post(
        e2e.url("intake", "/v1/observers"),
        headers=supervisor(e2e, "foshan/chancheng"),
        json={
            "town": "foshan/chancheng/shiwan",
            "background": "merchant",
            "liaison_cadre_id": "c-shiwan-1",
            "identity": {"name": name, "phone": phone},
        },
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    observer = resp.json()
    key = observer.pop("observer_key")
    assert name not in resp.text and phone not in resp.text

    subject = f"许某{tag()}"
    resp = e2e.http.post(
        e2e.url("intake", "/v1/observer-reports"),
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
        json={
            "category": "solicitation",
            "summary": "收受商户香烟和红包",
            "subject": {
                "name": subject,
                "position": "城管执法队员",
                "employer": CHANCHENG_UM,
                "rank": "staff",
            },
            "amount_cny": 4645,
        },
    )
    assert resp.status_code == 202, resp.text
    report = resp.json()
    wait_status(e2e, report["receipt"], "accepted")
    case = find_case(e2e, report["clue_id"], supervisor="foshan/chancheng")
    assert case["source"] == "observer" and case["unit"] == "foshan/chancheng/shiwan#commission"

    wrong = e2e.http.post(
        e2e.url("intake", "/v1/observer-reports"),
        headers={"Authorization": "Bearer nope"},
        json={"summary": "x"},
        timeout=10,
    )
    assert wrong.status_code == 401
    outside = e2e.http.post(
        e2e.url("intake", "/v1/observer-reports"),
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
        json={
            "category": "other",
            "summary": "x",
            "jurisdiction": "foshan/nanhai",
            "subject": {"name": "某", "rank": "staff"},
        },
    )
    assert outside.status_code == 422 and "jurisdiction" in outside.json()["errors"]

    def shiwan() -> dict:
        rows = e2e.http.get(
            e2e.url("intake", "/v1/observers/summary"),
            timeout=10,
            headers=supervisor(e2e, "foshan/chancheng"),
        ).json()["items"]
        return next(r for r in rows if r["town"] == "foshan/chancheng/shiwan")

    wait_for(lambda: shiwan()["led_to_case"] >= 1, timeout=60, message="observer summary")
    assert shiwan()["by_background"].get("merchant", 0) >= 1 and shiwan()["reports"] >= 1
    seen = [
        e2e.http.get(e2e.url("intake", "/v1/observers"), headers=supervisor(e2e, "foshan"), timeout=10).text,
        e2e.http.get(
            e2e.url("intake", "/v1/observers/summary"), headers=supervisor(e2e, "foshan"), timeout=10
        ).text,
        e2e.http.get(
            e2e.url("intake", f"/v1/clues/{report['clue_id']}"), headers=supervisor(e2e, "foshan"), timeout=10
        ).text,
        str(case_detail(e2e, case["case_id"])),
        str(lookup(e2e, report["receipt"])),
        e2e.logs(),
    ]
    for text in seen:
        assert name not in text and phone not in text and key not in text


def test_a_firm_linked_to_subjects_in_two_towns_escalates_both_cases_to_joint_handling(e2e):
    firm = f"佛山某环保科技有限公司{tag()}"
    clues = []
    for town in ("foshan/chancheng/shiwan", "foshan/chancheng/zumiao"):
        body = {
            "source": "inspection",
            "category": "business_steering",
            "summary": "向辖区企业推介环保业务",
            "jurisdiction": town,
            "reporter": {"anonymous": True},
            "subject": {
                "name": f"卢某{tag()}",
                "position": "协管员",
                "employer": "foshan/chancheng/traffic",
                "rank": "staff",
            },
            "parties": [{"kind": "firm", "name": firm}, {"kind": "relative", "name": f"妻子{tag()}"}],
        }
        resp = e2e.http.post(
            e2e.url("intake", "/v1/clues"), json=body, headers=frontline(e2e, town), timeout=10
        )
        assert resp.status_code == 202, resp.text
        clues.append(resp.json())
        receipt = resp.json()["receipt"]
        wait_for(
            lambda r=receipt: lookup(e2e, r)["status"] in {"accepted", "transferred"},
            timeout=60,
            message="clue accepted",
        )

    lead = "foshan/chancheng#commission"
    for posted in clues:
        wait_status(e2e, posted["receipt"], "transferred")

    def moved() -> list[dict]:
        cases = [find_case(e2e, p["clue_id"]) for p in clues]
        return cases if all(c["unit"] == lead for c in cases) else []

    cases = wait_for(moved, timeout=90, message="both cases at the district")
    for case in cases:
        detail = case_detail(e2e, case["case_id"])
        assert "network" in detail["escalations"][-1]["reasons"]
        assert detail["escalations"][-1]["to_unit"] == lead

    def network() -> dict | None:
        items = e2e.http.get(
            e2e.url("assignment", "/v1/networks"),
            timeout=10,
            headers=supervisor(e2e, "foshan/chancheng/zumiao"),
        ).json()["items"]
        return next((n for n in items if {"kind": "firm", "name": firm} in n["parties"]), None)

    joint = wait_for(network, timeout=30, message="the network in zumiao's list")
    assert joint["lead_unit"] == lead
    assert {u["unit"] for u in joint["assisting_units"]} == {
        "foshan/chancheng/shiwan#commission",
        "foshan/chancheng/zumiao#commission",
    }
    assert {c["case_id"] for c in joint["cases"]} == {c["case_id"] for c in cases}
    # An assisting unit's supervisor sees the joint case's map; another district's does not.
    graph = e2e.http.get(
        e2e.url("assignment", f"/v1/cases/{cases[0]['case_id']}/map"),
        timeout=10,
        headers=supervisor(e2e, "foshan/chancheng/shiwan"),
    )
    assert graph.status_code == 200, graph.text
    labels = {n["label"] for n in graph.json()["nodes"]}
    assert firm in labels and "禅城区交通运输局" in labels
    refused = e2e.http.get(
        e2e.url("assignment", f"/v1/cases/{cases[0]['case_id']}/map"),
        timeout=10,
        headers=supervisor(e2e, "foshan/nanhai"),
    )
    assert refused.status_code == 403


def test_recommendation_to_a_bureau_is_listed_overdue_until_answered(e2e):
    headers = supervisor(e2e, "foshan/chancheng")
    quarter = e2e.http.get(e2e.url("assignment", "/v1/bureaus/quarter"), headers=headers, timeout=10)
    assert quarter.status_code == 200 and "items" in quarter.json()
    import datetime as dt

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    resp = e2e.http.post(
        e2e.url("assignment", "/v1/recommendations"),
        headers=headers,
        timeout=10,
        json={
            "bureau": CHANCHENG_UM,
            "kind": "supervision",
            "text": f"加强执法监督 {tag()}",
            "due_on": today.isoformat(),
        },
    )
    assert resp.status_code == 201, resp.text
    rec = resp.json()
    assert rec["status"] == "open"
    past = e2e.http.post(
        e2e.url("assignment", "/v1/recommendations"),
        headers=headers,
        timeout=10,
        json={
            "bureau": CHANCHENG_UM,
            "kind": "supervision",
            "text": "x",
            "due_on": (today - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert past.status_code == 422 and "due_on" in past.json()["errors"]
    elsewhere = e2e.http.post(
        e2e.url("assignment", "/v1/recommendations"),
        headers=headers,
        timeout=10,
        json={"bureau": NANHAI_UM, "kind": "discipline", "text": "x", "due_on": today.isoformat()},
    )
    assert elsewhere.status_code == 403
    answer = e2e.http.post(
        e2e.url("assignment", f"/v1/recommendations/{rec['recommendation_id']}/answer"),
        headers=headers,
        timeout=10,
        json={"answer": "已整改", "answered_on": today.isoformat()},
    )
    assert answer.status_code == 200 and answer.json()["status"] == "answered"
    again = e2e.http.post(
        e2e.url("assignment", f"/v1/recommendations/{rec['recommendation_id']}/answer"),
        headers=headers,
        timeout=10,
        json={"answer": "再次", "answered_on": today.isoformat()},
    )
    assert again.status_code == 409
    listed = e2e.http.get(
        e2e.url("assignment", f"/v1/recommendations?bureau={CHANCHENG_UM}"), headers=headers, timeout=10
    ).json()["items"]
    assert any(r["recommendation_id"] == rec["recommendation_id"] for r in listed)
