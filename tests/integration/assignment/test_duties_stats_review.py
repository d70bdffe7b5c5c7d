"""Duties, quarterly statistics and review batches through the public API, on the real database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from services.assignment import handlers, tracking
from shared import events

from .test_api import auth, client  # noqa: F401 - the fixture
from .workers import clue_event

pytestmark = pytest.mark.stack

# Thursday 9 October 2025, 10:00 in Foshan: the first working day after 国庆 (1-8 October off).
T0 = datetime(2025, 10, 9, 2, tzinfo=UTC)
BOSS = ("supervisor", "foshan/d1")


def at(app, moment: datetime) -> None:
    app.extensions["assignment.ctx"].clock = lambda: moment


def receive(app, clue_id: str, **kw) -> dict:
    ctx = app.extensions["assignment.ctx"]
    kw.setdefault("received_at", T0)
    handlers.clue_received(events.decode(events.encode(clue_event(clue_id, **kw))), ctx)
    return handlers.cases().find_one({"$or": [{"clue_id": clue_id}, {"linked_clue_ids": clue_id}]})


def notified(app, clue_id: str, kind: str, outcome: str, when: datetime, reason: str | None = None) -> None:
    envelope = events.make_event(events.CLUE_NOTIFIED, {
        "clue_id": clue_id, "notification_id": f"n-{clue_id}-{kind}-{outcome}", "kind": kind,
        "outcome": outcome, "channel": "sms", "reason": reason, "at": when}, source="/services/notify")
    tracking.notified(events.decode(events.encode(envelope)), app.extensions["assignment.ctx"])


def duties(http, state: str | None = None) -> dict[tuple[str, str], dict]:
    url = "/v1/duties" + (f"?state={state}" if state else "")
    resp = http.get(url, headers=auth(*BOSS))
    assert resp.status_code == 200, resp.get_json()
    return {(d["clue_id"], d["kind"]): d for d in resp.get_json()["items"]}


def real_name(**kw) -> dict:
    return {"anonymous": False, "reporter_contact_sealed": "sealed-ciphertext", **kw}


def test_duties_are_met_by_deliveries_and_missed_when_late(client):  # noqa: F811
    http, app = client
    at(app, T0)
    case = receive(app, "r1", **real_name())
    receive(app, "a1", name="匿名对象", anonymous=True)
    due = duties(http, "due")
    assert set(due) == {("r1", "accept_notice"), ("r1", "still_handling")}  # anonymous: none
    # 15 working days from Thursday 9 October 2025 (Saturday 11 October is a make-up working day)
    assert due[("r1", "accept_notice")]["due_at"] == "2025-10-29T02:00:00+00:00"

    notified(app, "r1", "accepted", "delivered", T0 + timedelta(seconds=3))
    assert set(duties(http, "met")) == {("r1", "accept_notice")}
    detail = http.get(f"/v1/cases/{case['_id']}", headers=auth(*BOSS)).get_json()
    assert {(d["kind"], d["state"]) for d in detail["duties"]} == {("accept_notice", "met"),
                                                                   ("still_handling", "due")}

    at(app, T0 + timedelta(days=5))
    closed = handlers.close_case(case["_id"], _cadre(case), "concluded", ["unfounded"], "查无实据", _ctx(app))
    assert closed["status"] == "closed"
    notified(app, "r1", "closed", "failed", T0 + timedelta(days=5), reason="channel not available")
    open_ = duties(http, "due")
    assert open_[("r1", "result_notice")]["failure"] == "channel not available"  # open and visible
    assert ("r1", "still_handling") in open_  # a failed note told the reporter nothing

    at(app, T0 + timedelta(days=40))
    assert tracking.sweep(_ctx(app)) == 2
    missed = duties(http, "missed")
    assert set(missed) == {("r1", "result_notice"), ("r1", "still_handling")}
    assert duties(http, "due") == {}
    figures = http.get("/v1/stats?quarter=2025Q4", headers=auth(*BOSS)).get_json()
    assert figures["duties_missed"] == 2
    row = next(r for r in figures["bases"]["received"]["rows"] if r["jurisdiction"] == "foshan/d1/t1")
    assert row["duties_missed"] == 2
    assert tracking.sweep(_ctx(app)) == 0  # counted once
    notified(app, "r1", "closed", "delivered", T0 + timedelta(days=41))  # late: still missed
    assert set(duties(http, "missed")) == {("r1", "result_notice"), ("r1", "still_handling")}
    assert http.get("/v1/stats?quarter=2025Q4", headers=auth(*BOSS)).get_json()["duties_missed"] == 2


def test_a_triage_clue_owes_a_transfer_until_routed(client):  # noqa: F811
    http, app = client
    at(app, T0)
    case = receive(app, "u1", jurisdiction="nowhere/at/all")
    assert case["triage_reason"] == "unroutable"
    admin = auth("admin")
    found = http.get("/v1/duties?state=due", headers=admin).get_json()["items"]
    assert [(d["clue_id"], d["kind"]) for d in found] == [("u1", "transfer")]
    at(app, T0 + timedelta(days=1))
    moved = handlers.cases().find_one_and_update(
        {"_id": case["_id"]}, {"$set": {"unit": "foshan/d1/t1#commission", "triage_reason": None}},
        return_document=True)
    tracking.case_routed(moved, T0 + timedelta(days=1), _ctx(app))
    met = http.get("/v1/duties?state=met", headers=admin).get_json()["items"]
    assert [(d["clue_id"], d["kind"], d["unit"]) for d in met] == [
        ("u1", "transfer", "foshan/d1/t1#commission")]


def test_stats_rows_count_where_received_and_where_handled(client):  # noqa: F811
    http, app = client
    at(app, T0)
    first = receive(app, "s1")
    second = receive(app, "s2", name="另一人")
    receive(app, "s1")  # a redelivery counts nothing twice
    at(app, T0 + timedelta(days=2))
    moved = http.post(f"/v1/cases/{first['_id']}/escalate", json={"reason": "领导批示"}, headers=auth(*BOSS))
    assert moved.status_code == 200 and moved.get_json()["unit"] == "foshan/d1#commission"
    at(app, T0 + timedelta(days=10))
    moved_case = handlers.cases().find_one({"_id": first["_id"]})
    handlers.close_case(first["_id"], _cadre(moved_case), "talk_inquiry", ["reminder_talk"], "已谈话",
                        _ctx(app))
    handlers.close_case(second["_id"], _cadre(second), "concluded", ["unfounded"], "查无实据", _ctx(app))

    figures = http.get("/v1/stats?quarter=2025Q4", headers=auth(*BOSS)).get_json()
    received = {r["name"]: r for r in figures["bases"]["received"]["rows"]}
    handled = {r["name"]: r for r in figures["bases"]["handled"]["rows"]}
    assert set(received) == {"一街", "本级"}
    # where the clues were received: everything at the street
    street = received["一街"]
    assert (street["received"], street["escalated"], street["closed"]) == (2, 1, 2)
    assert received["一街"]["escalated_by_reason"]["manual"] == 1 and received["本级"]["closed"] == 0
    # where handled: the escalated case closed at the district's own level
    assert (handled["一街"]["escalated"], handled["一街"]["closed"], handled["本级"]["closed"]) == (1, 1, 1)
    assert handled["本级"]["closed_by_disposition"]["talk_inquiry"] == 1
    assert figures["bases"]["handled"]["total"]["days_to_close"] == {"mean": 10.0, "p90": 10.0}
    assert figures["received"] == 2
    assert figures["closed"]["by_outcome"] == {"reminder_talk": 1, "unfounded": 1}
    assert http.get("/v1/stats?quarter=2025Q3", headers=auth(*BOSS)).get_json()["received"] == 0

    table = http.get("/v1/stats.csv?quarter=2025Q4", headers=auth(*BOSS))
    assert table.status_code == 200 and table.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(table.get_data().decode("utf-8-sig"))))
    assert rows[0][:4] == ["统计口径", "辖区", "辖区代码", "受理线索"] and "逾期未履行职责" in rows[0]
    assert ["按受理地统计", "一街", "foshan/d1/t1", "2"] == rows[1][:4]
    book = http.get("/v1/stats.xlsx?quarter=2025Q4", headers=auth(*BOSS))
    assert book.status_code == 200 and "attachment" in book.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(book.get_data())).active
    assert [c.value for c in sheet[2]][:4] == rows[0][:4]
    assert [c.value for c in sheet[3]][:4] == ["按受理地统计", "一街", "foshan/d1/t1", 2]


BAD_QUERIES = [
    ("/v1/stats?quarter=2025Q5", "quarter"),
    ("/v1/stats?quarter=2025Q4&colour=red", "colour"),
    ("/v1/stats.csv?from=yesterday", "from"),
    ("/v1/stats.csv?from=0019-07-19T16%3A15%3A03-02%3A21", "from"),  # found by the fuzz test: a 500
    ("/v1/stats?to=9999-12-31T23%3A00%3A00%2B08%3A00", "to"),
    ("/v1/stats?quarter=0000Q1", "quarter"),
    ("/v1/stats.xlsx?quarter=9999Q4", "quarter"),
    ("/v1/stats?jurisdiction=nowhere", "jurisdiction"),  # (an admin's: a supervisor gets 403)
    ("/v1/duties?state=late", "state"),
    ("/v1/duties?limit=0", "limit"),
]


@pytest.mark.parametrize("url,field", BAD_QUERIES, ids=[b[0] for b in BAD_QUERIES])
def test_bad_report_queries_name_the_field(client, url, field):  # noqa: F811
    http, _app = client
    resp = http.get(url, headers=auth("admin") if "nowhere" in url else auth(*BOSS))
    assert resp.status_code == 422 and resp.content_type == "application/problem+json"
    assert field in resp.get_json()["errors"]


def test_reports_are_for_supervisors_in_scope(client):  # noqa: F811
    http, _app = client
    assert http.get("/v1/duties?jurisdiction=foshan", headers=auth(*BOSS)).status_code == 403
    assert http.get("/v1/stats.xlsx?jurisdiction=foshan", headers=auth(*BOSS)).status_code == 403
    assert http.get("/v1/duties", headers=auth("cadre", "t-001")).status_code == 403
    assert http.get("/v1/review-batches").status_code == 401


def test_a_review_batch_keeps_the_past(client):  # noqa: F811
    http, app = client
    at(app, T0)
    deadline = datetime(2025, 12, 31, 15, 59, tzinfo=UTC)
    batch = {"id": "b-2025", "name": "2025年大起底", "deadline": deadline}
    old = {"source": "review", "batch": batch, "original_unit": "foshan/d1/t1#commission",
           "file_number": "禅纪〔2016〕12号"}
    handled = receive(app, "o1", original_received_at=datetime(2016, 5, 3, tzinfo=UTC),
                      prior_disposition="handled", **old)
    assert handled["kind"] == "review" and handled["lead_cadre_id"]  # 复查, with a lead cadre
    assert handled["due_at"] == int(deadline.timestamp() * 1000)  # the batch's 限期处置
    assert handled["received_at"].year == 2016 and handled["file_number"] == "禅纪〔2016〕12号"
    # three old clues about one person, years apart: no repeat escalation
    for i, day in enumerate((datetime(2016, 1, 5, tzinfo=UTC), datetime(2017, 6, 1, tzinfo=UTC),
                             datetime(2019, 2, 1, tzinfo=UTC))):
        receive(app, f"p{i}", name="老对象", category=("bribery", "extortion", "tip_off")[i],
                original_received_at=day, prior_disposition="not_handled", **old)
    assert not any("repeat" in (c.get("escalation_reasons") or []) for c in handlers.cases().find({}))
    assert handlers.cases().find_one({"clue_id": "p0"})["kind"] == "new"

    listed = http.get("/v1/review-batches", headers=auth(*BOSS)).get_json()["items"]
    assert [(b["name"], b["total"], b["in_hand"], b["reviews"]) for b in listed] == [
        ("2025年大起底", 4, 4, 1)]
    at(app, deadline + timedelta(days=1))
    one = http.get(f"/v1/review-batches/{quote('b-2025')}", headers=auth(*BOSS)).get_json()
    assert (one["total"], one["closed"], one["overdue"]) == (4, 0, 4)
    assert [(u["unit"], u["total"]) for u in one["by_unit"]] == [("foshan/d1/t1#commission", 4)]
    assert http.get("/v1/review-batches/nope", headers=auth(*BOSS)).status_code == 404
    # statistics use the original dates
    assert http.get("/v1/stats?quarter=2016Q2", headers=auth(*BOSS)).get_json()["received"] == 1
    assert http.get("/v1/stats?quarter=2016Q1", headers=auth(*BOSS)).get_json()["received"] == 1
    # accepted at the import, and timed from it: not nine years to accept
    now = http.get("/v1/stats?quarter=2025Q4", headers=auth(*BOSS)).get_json()
    assert now["received"] == 0 and now["accepted"] == 4
    assert now["days_to_accept"] == {"mean": 0.0, "p90": 0.0}


def _ctx(app):
    return app.extensions["assignment.ctx"]


def _cadre(case: dict):
    from shared.auth import Principal

    return Principal("cadre", case["cadre_id"], f"cadre:{case['cadre_id']}")


def test_a_redelivered_clue_restores_what_a_failure_left_out(client):  # noqa: F811
    http, app = client
    at(app, T0)
    receive(app, "x1", **real_name())
    from services.assignment import duty_store
    from services.assignment.documents import StatCounter, StatMark

    # as if the process died after the case's write, before its duties and counts
    duty_store.collection().delete_many({})
    StatMark._get_collection().delete_many({})
    StatCounter._get_collection().delete_many({})
    receive(app, "x1", **real_name())  # the broker's redelivery
    assert set(duties(http, "due")) == {("x1", "accept_notice"), ("x1", "still_handling")}
    receive(app, "x1", **real_name())
    figures = http.get("/v1/stats?quarter=2025Q4", headers=auth(*BOSS)).get_json()
    assert (figures["received"], figures["accepted"]) == (1, 1)


def test_the_duty_store_keeps_milliseconds_and_hands_out_datetimes(client):  # noqa: F811
    from services.assignment import duty_store
    from services.assignment.duties import Duty
    from shared.times import to_ms

    _http, app = client
    registry = app.extensions["assignment.ctx"].registry()
    case = {"_id": "case-t", "unit": "no-such-unit", "jurisdiction": "foshan/d1"}
    late, swept = Duty("transfer", "clue-t", T0, T0 + timedelta(days=1)), Duty("transfer", "clue-u", T0, T0)
    assert duty_store.add(case, [late, swept], T0) == 2
    raw = duty_store.collection().find_one({"_id": late.key("case-t")})
    assert (raw["start_at"], raw["due_at"], raw["met_at"]) == (to_ms(T0), to_ms(T0 + timedelta(days=1)), None)
    [duty] = duty_store.open_duties("clue-t", ("transfer",))
    assert (duty["start_at"], duty["due_at"], duty["met_at"]) == (T0, T0 + timedelta(days=1), None)
    assert duty_store.meet(duty, T0 + timedelta(days=2), registry) == "missed"
    assert duty_store.meet(duty, T0 + timedelta(days=2), registry) is None
    met = duty_store.collection().find_one({"_id": late.key("case-t")})
    assert (met["met_at"], met["state"]) == (to_ms(T0 + timedelta(days=2)), "missed")
    assert duty_store.sweep_missed(T0 + timedelta(seconds=1), registry) == 1
    [shown] = [d for d in duty_store.case_duties("case-t", T0, registry) if d["clue_id"] == "clue-u"]
    assert (shown["state"], shown["due_at"], shown["met_at"]) == ("missed", T0, None)
