"""The casework pages on the real database: the triage list and route form, the supervise form,
the allegation first on the case page, and conflict escalations left off the escalations page of
the unit the case left."""

from __future__ import annotations

import pytest

from services.assignment import handlers

from .workspace import page, post_form, receive, rows, sign_in

pytestmark = pytest.mark.stack

TOWN = "foshan/d1/t1#commission"


def test_the_city_supervisor_routes_a_triage_case_with_the_form(http, app):
    case = receive(app, "t1", jurisdiction="foshan/nowhere", summary="夜市协管员收红包", details="周末")
    sign_in(http, "supervisor", "foshan")
    listed = http.get("/workspace/triage")
    assert listed.status_code == 200 and rows(listed) == [case["_id"]]
    url = f"/workspace/cases/{case['_id']}"
    shown = page(http.get(url))
    assert "夜市协管员收红包" in shown.by_id("allegation").text and shown.by_id("f-route") is not None
    refused = post_form(http, url, url + "/route", {"unit": ""})
    assert refused.status_code == 422 and "请从列表中选择承办单位" in page(refused).by_id("f-unit-error").text
    done = post_form(http, url, url + "/route", {"unit": TOWN, "note": "属一街"})
    assert done.status_code == 303 and "routed=yes" in done.headers["Location"]
    routed = handlers.cases().find_one({"_id": case["_id"]})
    assert routed["unit"] == TOWN and routed["triage_reason"] is None
    again = post_form(http, url, url + "/route", {"unit": TOWN})
    assert again.status_code == 409 and rows(http.get("/workspace/triage")) == []


def test_a_district_supervisor_sees_the_triage_list_without_the_citys_cases(http, app):
    receive(app, "t1", jurisdiction="foshan/nowhere")
    sign_in(http, "supervisor", "foshan/d1")
    listed = http.get("/workspace/triage")
    assert listed.status_code == 200 and rows(listed) == []


def test_the_supervise_form_and_the_escalations_page(http, app):
    case = receive(app, "s1")
    sign_in(http, "supervisor", "foshan/d1")
    url = f"/workspace/cases/{case['_id']}"
    late = post_form(http, url, url + "/supervise", {"note": "限期办结", "due_at": "2999-01-01"})
    assert late.status_code == 422 and page(late).by_id("f-due_at-error") is not None
    empty = post_form(http, url, url + "/supervise", {"note": ""})
    assert empty.status_code == 422 and page(empty).by_id("f-note-error") is not None
    done = post_form(http, url, url + "/supervise", {"note": "限期办结", "due_at": ""})
    assert done.status_code == 303
    escalations = http.get("/workspace/escalations")
    assert case["_id"] in rows(escalations)
    assert handlers.cases().find_one({"_id": case["_id"]})["status"] == "supervised"


def test_a_conflict_escalation_is_left_off_the_page_of_the_unit_it_left(http, app):
    case = receive(app, "k1", name="街领导")
    assert case["unit"] == "foshan/d1#commission"
    sign_in(http, "supervisor", "foshan/d1/t1")
    body = http.get("/workspace/escalations").get_data(as_text=True)
    assert case["_id"] not in body
    assert http.get(f"/workspace/cases/{case['_id']}").status_code == 403
