"""Casework use cases on the in-memory stores (test_handlers.make_world; one thread): conflict of
interest, linked clues re-deciding, triage routing, supervision by hand, review after an
objection, registry changes moving work, slot releases after a crash, deadlines on escalation.
One row per rule and boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import handlers, queries, store, workload_store
from services.assignment.access import escalation_visible
from services.assignment.deadlines import DeadlineRules
from services.assignment.model import CaseError
from services.assignment.problems import problem_for
from services.assignment.registry_file import parse_registry
from shared import events
from shared.auth import Principal

from .kills import Killed
from .sample_registries import small_registry_yaml
from .test_handlers import T0, as_cadre, audits, data, load, loads, make_world, one_case, stored

TOWN = "foshan/d1/t1#commission"
DISTRICT = "foshan/d1#commission"
CITY = "foshan#commission"
CITY_SUPERVISOR = Principal("supervisor", "foshan", "k")
DISTRICT_SUPERVISOR = Principal("supervisor", "foshan/d1", "k")
TOWN_SUPERVISOR = Principal("supervisor", "foshan/d1/t1", "k")


def clue(
    clue_id: str,
    *,
    jurisdiction="foshan/d1/t1",
    name="许某",
    employer=None,
    rank="staff",
    amount=None,
    collusion=False,
    received=T0,
    category="solicitation",
    source="observer",
):
    env = events.make_event(
        events.CLUE_RECEIVED,
        {
            "clue_id": clue_id,
            "received_at": received,
            "source": source,
            "category": category,
            "jurisdiction": jurisdiction,
            "summary": f"{name}收受红包（{clue_id}）",
            "details": "在检查时收受",
            "occurred_on": "2026-11-30",
            "subject": {"name": name, "position": "执法队员", "employer": employer, "rank": rank},
            "amount_cny": amount,
            "collusion": collusion,
            "reporter_ref": "ref-secret-1",
            "reporter_contact_sealed": "c2VhbGVk",
        },
        source="/services/intake",
    )
    return events.decode(events.encode(env))


def followed_up(clue_id: str, objection: bool, message: str = "不服") -> events.Event:
    env = events.make_event(
        events.CLUE_FOLLOWED_UP,
        {"clue_id": clue_id, "message": message, "objection": objection, "at": T0},
        source="/x",
    )
    return events.decode(events.encode(env))


@pytest.fixture
def world():
    return make_world(parse_registry(small_registry_yaml([3, 3, 3], leaders=1), "small.yaml"))


def status_of(call) -> int:
    try:
        call()
    except CaseError as exc:
        return problem_for(exc).status
    return 200


# ---- conflict of interest -------------------------------------------------------------------------

# (subject name, employer, where the case goes, reasons)
CONFLICTS = [
    ("干部2", None, DISTRICT, ["conflict"]),  # a cadre of the town unit, by the registry's name
    ("干部２", None, DISTRICT, ["conflict"]),  # names compare normalised (NFKC)
    ("街领导", None, DISTRICT, ["conflict"]),  # a leader of the town
    ("区领导", None, CITY, ["conflict"]),  # a leader of the district: the district is passed too
    ("某人", "foshan/d1/t1#commission", DISTRICT, ["conflict"]),  # employed by the town commission
    ("某人", "foshan/d1#commission", CITY, ["conflict"]),  # by the district's: goes past it
    ("区干部二", None, TOWN, []),  # a district cadre is no conflict for the town
    ("某人", "foshan/d1/bureau", "foshan/d1/bureau#embedded", []),  # a bureau: its embedded group
]


def stored_where(**fields) -> list[dict]:
    return [d for d in stored() if all(d.get(k) == v for k, v in fields.items())]


@pytest.mark.parametrize(("name", "employer", "unit", "reasons"), CONFLICTS)
def test_conflict_of_interest_sends_the_case_up(world, name, employer, unit, reasons):
    ctx, _, _ = world
    handlers.clue_received(clue("c1", name=name, employer=employer), ctx)
    case = one_case("c1")
    assert (case["unit"], case["escalation_reasons"]) == (unit, reasons)


def test_a_case_is_never_assigned_to_its_subject():
    """At the city nothing is higher: the city cadre who is the subject is passed over."""
    ctx, _, _ = make_world(parse_registry(small_registry_yaml([3], city_capacity=9), "one.yaml"))
    handlers.clue_received(clue("c1", name="市干部二", jurisdiction="foshan"), ctx)
    case = one_case("c1")
    assert case["unit"] == CITY and case["cadre_id"] == "city-1" and case["lead_cadre_id"] != "city-2"


def test_no_one_of_the_unit_it_left_sees_a_conflict_case(world):
    ctx, _, _ = world
    handlers.clue_received(clue("c1", name="街领导"), ctx)
    case, registry = one_case("c1"), ctx.registry()
    assert status_of(lambda: queries.case_detail(case["_id"], TOWN_SUPERVISOR, registry, T0)) == 403
    assert queries.list_cases(TOWN_SUPERVISOR, registry, T0)["items"] == []
    for cadre in ("t-001", "t-002", "t-003"):
        assert queries.list_cases(as_cadre(cadre), registry, T0)["items"] == []
    [entry] = store.case_store().escalations_of(case["_id"])
    assert not escalation_visible(entry, TOWN_SUPERVISOR, registry)
    assert escalation_visible(entry, DISTRICT_SUPERVISOR, registry)
    assert queries.case_detail(case["_id"], DISTRICT_SUPERVISOR, registry, T0)["unit"] == DISTRICT


# ---- linked clues add up and re-decide ------------------------------------------------------------

# (first clue, repeat clue, where the case is after, the reasons it moved for)
LINKED = [
    ({"amount": 30_000}, {"amount": 19_999}, TOWN, []),  # 49,999: below the district threshold
    ({"amount": 30_000}, {"amount": 20_000}, DISTRICT, ["amount"]),  # 50,000: at it
    ({"amount": 300_000}, {"amount": 200_000}, CITY, ["amount"]),  # 500,000: straight to the city
    ({}, {"collusion": True}, DISTRICT, ["collusion"]),
    ({}, {"rank": "section"}, DISTRICT, ["rank"]),
    ({}, {"rank": "division"}, CITY, ["rank"]),
    ({}, {}, TOWN, []),
]


@pytest.mark.parametrize(("first", "second", "unit", "reasons"), LINKED)
def test_a_linked_clue_re_decides_on_the_whole_case(world, first, second, unit, reasons):
    ctx, broker, _ = world
    handlers.clue_received(clue("c1", **first), ctx)
    handlers.clue_received(clue("c2", **second), ctx)
    case = one_case("c2")
    assert case["clue_id"] == "c1" and case["linked_clue_ids"] == ["c2"]
    assert (case["unit"], case["escalation_reasons"]) == (unit, reasons)
    escalated = data(broker, events.CASE_ESCALATED)
    assert {e["clue_id"] for e in escalated} == ({"c1", "c2"} if reasons else set())


def test_a_third_clue_still_escalates_for_repeat_once(world):
    ctx, broker, _ = world
    for i in range(4):
        handlers.clue_received(clue(f"c{i}", received=T0 + timedelta(days=i)), ctx)
    case = one_case("c0")
    assert case["escalation_reasons"] == ["repeat"] and case["unit"] == DISTRICT
    assert len({e["case_id"] for e in data(broker, events.CASE_ESCALATED)}) == 1


def test_the_case_shows_every_clues_allegation_and_the_follow_ups(world):
    ctx, _, _ = world
    handlers.clue_received(clue("c1", amount=100), ctx)
    handlers.clue_received(clue("c2", amount=200), ctx)
    handlers.clue_followed_up(followed_up("c2", False, "还有一次"), ctx)
    case = one_case("c1")
    detail = queries.case_detail(case["_id"], DISTRICT_SUPERVISOR, ctx.registry(), T0)
    assert detail["allegation"]["summary"] == "许某收受红包（c1）"
    assert detail["allegation"]["occurred_on"] == "2026-11-30"
    assert [c["clue_id"] for c in detail["linked_clues"]] == ["c2"]
    assert detail["linked_clues"][0]["details"] == "在检查时收受" and detail["amount_total_cny"] == 300
    assert detail["follow_ups"] == [{"at": T0, "message": "还有一次", "objection": False}]
    assert "ref-secret" not in str(detail) and "c2VhbGVk" not in str(detail)


def test_a_case_from_before_the_allegation_was_kept_shows_none(world):
    ctx, _, _ = world
    handlers.clue_received(clue("c1"), ctx)
    del store.case_store().cases[one_case("c1")["_id"]]["allegation"]
    detail = queries.case_detail(one_case("c1")["_id"], DISTRICT_SUPERVISOR, ctx.registry(), T0)
    assert detail["allegation"] is None and detail["linked_clues"] == []


# ---- triage ---------------------------------------------------------------------------------------


def triage_case(ctx) -> dict:
    handlers.clue_received(clue("c1", jurisdiction="foshan/nowhere"), ctx)
    return one_case("c1")


# (who routes, to which unit, HTTP status)
ROUTES = [
    (CITY_SUPERVISOR, TOWN, 200),
    (Principal("admin", "", "k"), TOWN, 200),
    (CITY_SUPERVISOR, "foshan/nowhere#commission", 422),
    (DISTRICT_SUPERVISOR, TOWN, 404),  # the city's triage queue is outside their jurisdiction
]


@pytest.mark.parametrize(("who", "unit", "status"), ROUTES)
def test_routing_a_triage_case(world, who, unit, status):
    ctx, broker, _ = world
    case = triage_case(ctx)
    [queued] = data(broker, events.CASE_ASSIGNED)
    assert queued["status"] == "queued" and queued["reason"] == "unroutable" and case["accepted_at"] is None
    assert status_of(lambda: handlers.route_case(case["_id"], who, unit, "属石湾", ctx)) == status
    if status != 200:
        return
    routed = one_case("c1")
    assert routed["unit"] == TOWN and routed["status"] == "assigned" and routed["triage_reason"] is None
    assert routed["accepted_at"] is not None
    assigned = data(broker, events.CASE_ASSIGNED)[-1]
    assert assigned["unit"] == TOWN and "reason" not in assigned
    # routed once: routing it again is a conflict
    assert status_of(lambda: handlers.route_case(case["_id"], who, unit, None, ctx)) == 409


def test_a_routed_case_meets_the_escalation_rules_there(world):
    ctx, broker, _ = world
    handlers.clue_received(clue("c1", jurisdiction="foshan/nowhere", name="街领导"), ctx)
    case = one_case("c1")
    handlers.route_case(case["_id"], CITY_SUPERVISOR, TOWN, None, ctx)
    routed = one_case("c1")
    assert routed["unit"] == DISTRICT and routed["escalation_reasons"] == ["conflict"]
    assert data(broker, events.CASE_ESCALATED)[-1]["from_unit"] == TOWN


def test_a_triage_case_becomes_overdue_like_any_other(world):
    ctx, _, clock = world
    case = triage_case(ctx)
    clock.now = case["due_at"] + timedelta(seconds=1)
    assert handlers.run_deadlines(ctx)["supervised"] == 1
    assert one_case("c1")["watched_by"] == CITY and one_case("c1")["status"] == "queued"
    assert [c["case_id"] for c in queries.triage_cases(CITY_SUPERVISOR, ctx.registry(), T0)] == [case["_id"]]


# ---- supervision by hand --------------------------------------------------------------------------

# (who, deadline given (days from now), closed first, HTTP status)
SUPERVISIONS = [
    (DISTRICT_SUPERVISOR, None, False, 200),
    (TOWN_SUPERVISOR, None, False, 200),  # the unit's own jurisdiction
    (CITY_SUPERVISOR, 30, False, 200),  # earlier than the case's 90 days
    (CITY_SUPERVISOR, 120, False, 422),  # later: refused
    (CITY_SUPERVISOR, -1, False, 422),  # in the past
    (Principal("supervisor", "foshan/d2", "k"), None, False, 404),
    (DISTRICT_SUPERVISOR, None, True, 409),
]


@pytest.mark.parametrize(("who", "days", "closed", "status"), SUPERVISIONS)
def test_supervision_by_hand(world, who, days, closed, status):
    ctx, broker, _ = world
    handlers.clue_received(clue("c1"), ctx)
    case = one_case("c1")
    if closed:
        handlers.close_case(case["_id"], as_cadre(case["cadre_id"]), "concluded", [], "x", ctx)
    due = None if days is None else T0 + timedelta(days=days)
    assert status_of(lambda: handlers.supervise_case(case["_id"], who, "限期办结", due, ctx)) == status
    if status != 200:
        return
    watched = one_case("c1")
    assert watched["status"] == "supervised" and watched["unit"] == TOWN
    assert watched["watched_by"] == ctx.registry().unit_for_jurisdiction(who.scope)
    [event] = data(broker, events.CASE_ESCALATED)
    assert (event["mode"], event["reasons"]) == ("supervised", ["manual"])
    if days is not None:
        assert watched["due_at"] == due
        assert len(audits(case["_id"], "deadline_changed")) == 1
    listed = queries.supervised_cases(CITY_SUPERVISOR, ctx.registry(), T0)
    assert [c["case_id"] for c in listed] == [case["_id"]]


# ---- an objection gets a review (复查) -------------------------------------------------------------


def test_an_objection_reopens_the_case_for_another_cadre_with_the_leader(world):
    ctx, broker, clock = world
    handlers.clue_received(clue("c1"), ctx)
    case = one_case("c1")
    closer = case["cadre_id"]
    handlers.close_case(case["_id"], as_cadre(closer), "concluded", [], "x", ctx)
    before = loads(ctx)
    clock.now = T0 + timedelta(days=10)
    handlers.clue_followed_up(followed_up("c1", True), ctx)
    review = one_case("c1")
    assert review["status"] == "reopened" and review["cadre_id"] not in {None, closer}
    assert review["lead_cadre_id"] == "t-001" and review["due_at"] == clock.now + timedelta(days=90)
    assert load(ctx, review["cadre_id"]) == before[review["cadre_id"]] + 1
    assert data(broker, events.CASE_ASSIGNED)[-1]["status"] == "reopened"
    handlers.close_case(case["_id"], as_cadre(review["cadre_id"]), "concluded", ["cleared"], "复查结果", ctx)
    closed = data(broker, events.CASE_CLOSED)
    assert [c["reporter_summary"] for c in closed] == ["x", "复查结果"]
    assert loads(ctx) == before


# ---- registry changes move work -------------------------------------------------------------------


def fill_town(ctx, n: int) -> None:
    for i in range(n):
        handlers.clue_received(clue(f"q{i}", name=f"人{i}"), ctx)


def change(ctx, yaml: str) -> None:
    """What PUT /v1/registry does (api._save): the new registry saved, its cadres synced into the
    slot store (deactivating the removed ones), read by the use cases from then on; then the
    work moved from the registry before to the one after."""
    before = ctx.registry()
    after = parse_registry(yaml, "changed.yaml")
    workload_store.sync_roster(after)
    ctx.registry.registry = after
    handlers.registry_changed(before, after, ctx, "admin")


# (the town's capacities after the change, queued after, how many cases moved to other cadres)
CHANGES = [
    ([2, 1, 1], 1, 0),  # more capacity: the queue drains at once
    ([1, 1, 1, 1], 1, 0),  # a new cadre: the same
    ([1, 1], 3, 0),  # a cadre removed: their case goes back to the queue (nobody free)
    ([3, 3], 0, 1),  # a cadre removed with room elsewhere: their case moves, the queue drains
]


@pytest.mark.parametrize(("capacities", "queued", "moved"), CHANGES)
def test_registry_changes_move_work(capacities, queued, moved):
    ctx, broker, _ = make_world(parse_registry(small_registry_yaml([1, 1, 1]), "three.yaml"))
    fill_town(ctx, 5)
    assert len(stored_where(status="queued")) == 2
    change(ctx, small_registry_yaml(capacities))
    assert len(stored_where(status="queued")) == queued
    assert len(audits(action="reassigned")) == (1 if len(capacities) < 3 else 0)
    town = loads(ctx, TOWN)
    open_by = {}
    for doc in [d for d in stored() if d["cadre_id"] is not None]:
        open_by[doc["cadre_id"]] = open_by.get(doc["cadre_id"], 0) + 1
    assert town.get("t-003", 0) == open_by.get("t-003", 0)
    assert all(
        town[c] <= cap for c, cap in zip(("t-001", "t-002", "t-003", "t-004"), capacities, strict=False)
    )
    reassigned = [e for e in data(broker, events.CASE_ASSIGNED) if e["cadre_id"] not in (None,)]
    assert len(reassigned) >= 3 + moved


# ---- slot releases are journaled --------------------------------------------------------------------


def test_a_close_killed_before_giving_the_slot_back_is_finished_by_the_sweep(world, monkeypatch):
    ctx, _, clock = world
    handlers.clue_received(clue("c1"), ctx)
    case = one_case("c1")
    cadre = case["cadre_id"]

    def killed(_doc):
        raise Killed

    monkeypatch.setattr(store.case_store(), "finish_release", killed)
    with pytest.raises(Killed):
        handlers.close_case(case["_id"], as_cadre(cadre), "concluded", [], "x", ctx)
    monkeypatch.undo()
    assert one_case("c1")["status"] == "closed" and load(ctx, cadre) == 1
    clock.now = T0 + timedelta(minutes=5)
    handlers.sweep_stranded_slots(ctx, clock.now - timedelta(seconds=120))
    handlers.sweep_stranded_slots(ctx, clock.now - timedelta(seconds=120))  # once only
    assert load(ctx, cadre) == 0 and one_case("c1")["release_key"] is None
    assert workload_store.marks(cadre) == set()


# ---- deadlines survive moves ----------------------------------------------------------------------

CAMPAIGN = datetime(2024, 4, 30, 16, 0, tzinfo=UTC)

# (source, campaign deadline set, the deadline after an escalation a day later)
ESCALATED_DEADLINES = [
    ("observer", None, T0 + timedelta(days=91)),
    ("review", CAMPAIGN, CAMPAIGN),  # the campaign's is earlier: kept
    ("review", T0 + timedelta(days=200), T0 + timedelta(days=91)),  # the rule's is earlier
]


@pytest.mark.parametrize(("source", "campaign", "due"), ESCALATED_DEADLINES)
def test_an_escalation_keeps_the_earlier_deadline(source, campaign, due):
    ctx, _, clock = make_world(parse_registry(small_registry_yaml([3, 3]), "two.yaml"))
    ctx.deadlines = DeadlineRules(campaign_deadline=campaign)
    handlers.clue_received(clue("c1", source=source), ctx)
    clock.now = T0 + timedelta(days=1)
    handlers.escalate_case(one_case("c1")["_id"], DISTRICT_SUPERVISOR, "领导批示", ctx)
    assert one_case("c1")["due_at"] == due
