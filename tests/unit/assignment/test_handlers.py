"""The use cases on the in-memory stores (cases, counters, duties, the cadres' slots; one thread):
routing, queue, linking, close, deadlines, the slot journal and its sweep. No database: the
stores' contracts on the real one are tests/integration/assignment/test_case_store.py,
test_counter_store.py, test_duty_store.py and test_workload_store.py."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from services.assignment import counter_store, duty_store, handlers, queries, receiving, workload_store
from services.assignment.errors import DomainError, Forbidden
from services.assignment.memory_duties import MemoryDutyStore
from services.assignment.memory_slots import MemoryWorkloadStore
from services.assignment.memory_store import MemoryCaseStore
from services.assignment.problems import problem_for
from services.assignment.registry import Registry
from services.assignment.registry_file import parse_registry
from services.assignment.store import case_store, use
from services.assignment.workload_store import SlotState
from shared import events
from shared.auth import Principal
from shared.fakes import FakeBroker
from shared.outbox import OutboxRelay

from .kills import draining, killed_at_update, killed_before_settling, moving
from .sample_registries import small_registry_yaml

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RegistryHolder:
    """The registry the use cases read (`ctx.registry()`), as the service's cache of the stored one
    serves it; a test replaces `registry` as an admin's change would (test_casework.change)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def __call__(self) -> Registry:
        return self.registry


@pytest.fixture
def world(foshan):
    """A context on the Foshan registry, publishing synchronously into a fake broker."""
    return make_world(foshan)


def make_world(registry: Registry):
    """The use cases on fresh in-memory stores (cases, counters, duties, slots), the slots synced
    from `registry` as saving it does; no database. The conftest restores the stores in use."""
    broker = FakeBroker()
    cases = MemoryCaseStore()
    use(cases)
    counter_store.use(counter_store.MemoryCounterStore())
    duty_store.use(MemoryDutyStore())
    workload_store.use(MemoryWorkloadStore())
    workload_store.sync_roster(registry)
    relay = OutboxRelay(cases.outbox, broker)
    clock = Clock(T0)
    ctx = handlers.Context(registry=RegistryHolder(registry), wake=lambda doc: relay.publish_docs([doc]),
                           clock=clock)
    return ctx, broker, clock


def slots(ctx, unit: str | None = None) -> list[SlotState]:
    """The counters of every cadre of `unit` (of every unit of the registry), read through the slot
    store in use; cadres removed from the registry stay in their unit, deactivated."""
    units = [unit] if unit else [u.code for u in ctx.registry().units()]
    return [s for code in units for s in workload_store.unit_slots(code)]


def loads(ctx, unit: str | None = None) -> dict[str, int]:
    """cadre -> load, of `unit` or of every unit."""
    return {s.id: s.load for s in slots(ctx, unit)}


def load(ctx, cadre_id: str) -> int:
    return loads(ctx)[cadre_id]


def no_journal(ctx, unit: str | None = None) -> bool:
    """Whether no cadre (of `unit`) has a claim journaled and not settled."""
    return all(workload_store.journal(s.id) == {} for s in slots(ctx, unit))


def clue(
    clue_id: str,
    *,
    jurisdiction="foshan/chancheng/shiwan",
    name="许某",
    employer=None,
    rank="staff",
    category="solicitation",
    amount=None,
    collusion=False,
    received=T0,
    source="observer",
) -> events.Event:
    env = events.make_event(
        events.CLUE_RECEIVED,
        {
            "clue_id": clue_id,
            "received_at": received,
            "source": source,
            "category": category,
            "jurisdiction": jurisdiction,
            "subject": {
                "name": name,
                "position": "城管执法队员",
                "employer": employer,
                "rank": rank,
                "party_member": True,
            },
            "amount_cny": amount,
            "collusion": collusion,
            "reporter_ref": "ref-secret-1",
            "reporter_contact_sealed": "c2VhbGVk",
        },
        source="/services/intake",
    )
    return events.decode(events.encode(env))


def one_case(clue_id: str) -> dict:
    return case_store().by_clue(clue_id)


def stored() -> list[dict]:
    """Every case the store holds."""
    return case_store().select({})


def audits(case_id: str | None = None, action: str | None = None) -> list[dict]:
    """The audit entries appended (not a case's opening ones), of a case, of a kind."""
    return [a for a in case_store().audits.values()
            if case_id in (None, a["case_id"]) and action in (None, a["action"])]


def data(broker: FakeBroker, topic: str) -> list[dict]:
    return [e.data for e in broker.events(topic)]


CADRE = Principal("cadre", "", "k")


def as_cadre(cadre_id: str) -> Principal:
    return Principal("cadre", cadre_id, "k")


def test_new_clue_goes_to_the_town_unit_and_its_least_loaded_cadre(world):
    ctx, broker, _ = world
    handlers.clue_received(clue("c1"), ctx)
    case = one_case("c1")
    assert case["unit"] == "foshan/chancheng/shiwan#commission"
    assert case["status"] == "assigned" and case["cadre_id"] == "c-shiwan-1"
    assert case["due_at"] == T0 + timedelta(days=90)
    [assigned] = data(broker, events.CASE_ASSIGNED)
    assert assigned["case_id"] == case["_id"] and assigned["cadre_id"] == "c-shiwan-1"
    assert assigned["status"] == "assigned"
    assert load(ctx, "c-shiwan-1") == 1
    # the next clue (another subject) goes to a cadre with a lower load/capacity ratio
    handlers.clue_received(clue("c2", name="王某"), ctx)
    assert one_case("c2")["cadre_id"] in {"c-shiwan-2", "c-shiwan-3"}


def test_the_case_never_stores_the_reporter(world):
    ctx, _, _ = world
    handlers.clue_received(clue("c1"), ctx)
    text = repr(stored()) + repr(audits())
    assert "ref-secret-1" not in text and "c2VhbGVk" not in text and "reporter_ref" not in text


def test_the_same_event_twice_makes_one_case_and_announces_it_again(world):
    """A repeat delivery (e.g. intake's reconciler resending after a broker lost the announcement)
    takes no second slot and makes no second case, but announces the case again for the clue."""
    ctx, broker, _ = world
    event = clue("c1")
    handlers.clue_received(event, ctx)
    handlers.clue_received(event, ctx)
    assert len(stored()) == 1
    assert sum(loads(ctx).values()) == 1
    first, again = data(broker, events.CASE_ASSIGNED)
    assert again["case_id"] == first["case_id"] and again["cadre_id"] == first["cadre_id"]
    assert again["clue_id"] == "c1"


def test_a_closed_case_is_announced_again_with_its_result(world):
    ctx, broker, _ = world
    handlers.clue_received(clue("c1"), ctx)
    case = one_case("c1")
    handlers.close_case(case["_id"], as_cadre(case["cadre_id"]), "concluded", ["unfounded"], "查无实据", ctx)
    handlers.clue_received(clue("c1"), ctx)
    assert [d["reporter_summary"] for d in data(broker, events.CASE_CLOSED)] == ["查无实据"] * 2
    assert len(data(broker, events.CASE_ASSIGNED)) == 2
    assert sum(loads(ctx).values()) == 0


@pytest.mark.parametrize("jurisdiction", ["foshan/nowhere", "", "beijing/chaoyang"])
def test_unknown_jurisdiction_goes_to_city_triage_as_unroutable(world, jurisdiction):
    ctx, broker, _ = world
    handlers.clue_received(clue("c1", jurisdiction=jurisdiction), ctx)
    case = one_case("c1")
    assert (case["unit"], case["status"], case["triage_reason"]) == (
        "foshan#commission",
        "queued",
        "unroutable",
    )
    [assigned] = data(broker, events.CASE_ASSIGNED)
    assert (
        assigned["cadre_id"] is None and assigned["status"] == "queued" and assigned["reason"] == "unroutable"
    )


def test_employer_with_an_embedded_group_goes_there(world):
    ctx, _, _ = world
    handlers.clue_received(
        clue("c1", jurisdiction="foshan/nanhai/guicheng", employer="foshan/nanhai/urban-management"), ctx
    )
    assert one_case("c1")["unit"] == "foshan/nanhai/urban-management#embedded"


@pytest.mark.parametrize(
    "amount, rank, unit, reasons",
    [
        (49_999, "staff", "foshan/chancheng/shiwan#commission", None),
        (50_000, "staff", "foshan/chancheng#commission", ["amount"]),
        (500_000, "staff", "foshan#commission", ["amount"]),
        (None, "section", "foshan/chancheng#commission", ["rank"]),
        (None, "division", "foshan#commission", ["rank"]),
    ],
)
def test_escalation_at_intake(world, amount, rank, unit, reasons):
    ctx, broker, _ = world
    handlers.clue_received(clue("c1", amount=amount, rank=rank), ctx)
    case = one_case("c1")
    assert case["unit"] == unit
    escalated = data(broker, events.CASE_ESCALATED)
    if reasons is None:
        assert escalated == []
    else:
        [e] = escalated
        assert e["from_unit"] == "foshan/chancheng/shiwan#commission" and e["to_unit"] == unit
        assert e["reasons"] == reasons and e["mode"] == "direct_investigation"
        assert case["lead_cadre_id"] is not None
        assert len(case_store().escalations_of(case["_id"])) == 1


def test_serious_category_gets_a_lead_cadre_who_is_a_leader(world, foshan):
    ctx, _, _ = world
    handlers.clue_received(clue("c1", category="bribery"), ctx)
    case = one_case("c1")
    assert foshan.cadre(case["lead_cadre_id"]).role == "leader"
    leaders = [c for c in foshan.cadres_of(case["unit"]) if c.role == "leader"]
    assert case["lead_cadre_id"] != case["cadre_id"] or len(leaders) == 1


def test_repeat_clues_are_linked_and_the_third_escalates(world):
    ctx, broker, clock = world
    handlers.clue_received(clue("c1"), ctx)
    first = one_case("c1")
    handlers.clue_received(clue("c2", name=" 许某 ", received=T0 + timedelta(days=10)), ctx)
    assert one_case("c2")["_id"] == first["_id"]
    assert [d["clue_id"] for d in data(broker, events.CASE_ASSIGNED)] == ["c1", "c2"]
    handlers.clue_received(clue("c3", received=T0 + timedelta(days=20)), ctx)
    case = one_case("c3")
    assert case["_id"] == first["_id"] and case["linked_clue_ids"] == ["c2", "c3"]
    assert case["unit"] == "foshan/chancheng#commission" and "repeat" in case["escalation_reasons"]
    escalated = data(broker, events.CASE_ESCALATED)
    assert sorted(e["clue_id"] for e in escalated) == ["c1", "c2", "c3"]
    assert all(e["reasons"] == ["repeat"] for e in escalated)
    assert load(ctx, first["cadre_id"]) == 0


@pytest.mark.parametrize("days_between, repeat", [(365, True), (366, False)])
def test_repeat_window_edges_across_closed_cases(world, days_between, repeat):
    ctx, _, _ = world
    # two earlier clues in other categories (so not linked), then a third
    handlers.clue_received(clue("c1", category="obstruction"), ctx)
    handlers.clue_received(clue("c2", category="tip_off", received=T0 + timedelta(days=days_between)), ctx)
    handlers.clue_received(clue("c3", category="shielding", received=T0 + timedelta(days=days_between)), ctx)
    assert ("repeat" in one_case("c3")["escalation_reasons"]) is repeat


def test_different_category_is_not_linked(world):
    ctx, _, _ = world
    handlers.clue_received(clue("c1"), ctx)
    handlers.clue_received(clue("c2", category="tip_off"), ctx)
    assert one_case("c1")["_id"] != one_case("c2")["_id"]


@pytest.fixture
def tiny():
    return make_world(parse_registry(small_registry_yaml([1, 1]), "tiny.yaml"))


def test_queue_when_full_and_drain_on_close(tiny):
    ctx, broker, clock = tiny
    for i in range(4):
        clock.now = T0 + timedelta(minutes=i)
        handlers.clue_received(
            clue(f"c{i}", jurisdiction="foshan/d1/t1", name=f"人{i}", received=T0 + timedelta(minutes=i)), ctx
        )
    statuses = [one_case(f"c{i}")["status"] for i in range(4)]
    assert statuses == ["assigned", "assigned", "queued", "queued"]
    queued_event = [d for d in data(broker, events.CASE_ASSIGNED) if d["clue_id"] == "c2"][0]
    assert queued_event["cadre_id"] is None and queued_event["status"] == "queued"
    first = one_case("c0")
    handlers.close_case(
        first["_id"], as_cadre(first["cadre_id"]), "concluded", ["unfounded"], "查无实据", ctx
    )
    assert one_case("c2")["cadre_id"] == first["cadre_id"] and one_case("c3")["status"] == "queued"
    later = [d for d in data(broker, events.CASE_ASSIGNED) if d["clue_id"] == "c2"]
    assert later[-1]["status"] == "assigned" and later[-1]["cadre_id"] == first["cadre_id"]
    assert list(loads(ctx, "foshan/d1/t1#commission").values()) == [1, 1]
    [closed] = data(broker, events.CASE_CLOSED)
    assert closed["clue_id"] == "c0" and closed["outcomes"] == ["unfounded"]


def test_close_rules(tiny):
    ctx, _, _ = tiny
    handlers.clue_received(clue("c1", jurisdiction="foshan/d1/t1"), ctx)
    case = one_case("c1")
    other = "t-002" if case["cadre_id"] == "t-001" else "t-001"
    with pytest.raises(DomainError) as exc:
        handlers.close_case(case["_id"], as_cadre(other), "concluded", [], "x", ctx)
    assert status(exc.value) == 403
    with pytest.raises(DomainError) as exc:
        handlers.close_case(case["_id"], Principal("supervisor", "foshan", "k"), "concluded", [], "x", ctx)
    assert status(exc.value) == 403
    handlers.close_case(case["_id"], as_cadre(case["cadre_id"]), "concluded", [], "x", ctx)
    with pytest.raises(DomainError) as exc:
        handlers.close_case(case["_id"], as_cadre(case["cadre_id"]), "concluded", [], "x", ctx)
    assert status(exc.value) == 409
    with pytest.raises(DomainError) as exc:
        handlers.close_case("nope", as_cadre(case["cadre_id"]), "concluded", [], "x", ctx)
    assert status(exc.value) == 404


def status(exc: Exception) -> int:
    return problem_for(exc).status


def followed_up(clue_id: str, objection: bool, message: str = "补充材料") -> events.Event:
    env = events.make_event(
        events.CLUE_FOLLOWED_UP,
        {"clue_id": clue_id, "message": message, "objection": objection, "at": T0},
        source="/t",
    )
    return events.decode(events.encode(env))


def test_follow_up_is_a_note_and_objection_reopens_a_closed_case(tiny):
    ctx, _, _ = tiny
    handlers.clue_received(clue("c1", jurisdiction="foshan/d1/t1"), ctx)
    case = one_case("c1")
    note = followed_up("c1", False)
    handlers.clue_followed_up(note, ctx)
    handlers.clue_followed_up(note, ctx)
    assert len(audits(case["_id"], "follow_up")) == 1
    handlers.clue_followed_up(followed_up("c1", True), ctx)
    assert one_case("c1")["status"] == "assigned"
    handlers.close_case(case["_id"], as_cadre(case["cadre_id"]), "concluded", [], "x", ctx)
    handlers.clue_followed_up(followed_up("c1", True, "不服"), ctx)
    reopened = one_case("c1")
    # reviewed (复查) by another cadre of the unit, the unit's leader as lead cadre
    assert reopened["status"] == "reopened" and reopened["review"] is True
    assert reopened["cadre_id"] not in {None, case["cadre_id"]} and reopened["lead_cadre_id"] == "t-001"
    assert len(audits(case["_id"], "reopened")) == 1


def test_a_follow_up_before_its_case_waits_for_it(tiny):
    """Never dead-lettered for want of a case: kept, and noted on the case once it comes."""
    ctx, _, _ = tiny
    handlers.clue_followed_up(followed_up("early", False, "先到的补充"), ctx)
    assert one_case("early") is None
    handlers.clue_received(clue("early", jurisdiction="foshan/d1/t1"), ctx)
    case = one_case("early")
    [note] = audits(case["_id"], "follow_up")
    assert note["details"]["message"] == "先到的补充"
    handlers.retry_waiting(ctx)  # nothing left to hand over, nothing noted twice
    assert len(audits(case["_id"], "follow_up")) == 1


def test_deadline_supervision_then_escalation_each_once(tiny):
    ctx, broker, clock = tiny
    handlers.clue_received(clue("c1", jurisdiction="foshan/d1/t1"), ctx)
    case = one_case("c1")
    clock.now = case["due_at"] + timedelta(seconds=1)
    assert handlers.run_deadlines(ctx) == {"supervised": 1, "escalated": 0}
    assert handlers.run_deadlines(ctx) == {"supervised": 0, "escalated": 0}
    supervised = one_case("c1")
    assert supervised["status"] == "supervised" and supervised["watched_by"] == "foshan/d1#commission"
    [e] = data(broker, events.CASE_ESCALATED)
    assert e["mode"] == "supervised" and e["reasons"] == ["overdue"]
    clock.now += timedelta(days=15)
    assert handlers.run_deadlines(ctx) == {"supervised": 0, "escalated": 1}
    assert handlers.run_deadlines(ctx) == {"supervised": 0, "escalated": 0}
    moved = one_case("c1")
    assert moved["unit"] == "foshan/d1#commission" and moved["status"] == "assigned"
    assert load(ctx, case["cadre_id"]) == 0
    assert [x["mode"] for x in data(broker, events.CASE_ESCALATED)] == ["supervised", "direct_investigation"]


def test_manual_escalation_and_city_becomes_supervised(tiny):
    ctx, broker, _ = tiny
    handlers.clue_received(clue("c1", jurisdiction="foshan/d1/t1"), ctx)
    case = one_case("c1")
    supervisor = Principal("supervisor", "foshan/d1", "k")
    with pytest.raises(DomainError) as exc:
        handlers.escalate_case(case["_id"], Principal("supervisor", "foshan/d2", "k"), "x", ctx)
    assert status(exc.value) == 403
    moved = handlers.escalate_case(case["_id"], supervisor, "领导批示", ctx)
    assert moved["unit"] == "foshan/d1#commission"
    city = handlers.escalate_case(case["_id"], supervisor, "again", ctx)
    assert city["unit"] == "foshan#commission"
    with pytest.raises(DomainError) as exc:  # now above the district supervisor's reach
        handlers.escalate_case(case["_id"], supervisor, "again", ctx)
    assert status(exc.value) == 403
    top = handlers.escalate_case(case["_id"], Principal("supervisor", "foshan", "k"), "once more", ctx)
    assert top["unit"] == "foshan#commission" and top["status"] == "supervised"
    modes = [(e["to_unit"], e["mode"], e["reasons"]) for e in data(broker, events.CASE_ESCALATED)]
    assert modes[-1] == ("foshan#commission", "supervised", ["manual"])


def test_reads_are_audited_and_scoped(tiny):
    ctx, _, _ = tiny
    handlers.clue_received(clue("c1", jurisdiction="foshan/d1/t1"), ctx)
    case = one_case("c1")
    registry = ctx.registry()
    me = as_cadre(case["cadre_id"])
    listed = queries.list_cases(me, registry, T0)
    assert [c["case_id"] for c in listed["items"]] == [case["_id"]] and listed["next"] is None
    other = as_cadre("t-002" if case["cadre_id"] == "t-001" else "t-001")
    assert queries.list_cases(other, registry, T0)["items"] == []
    detail = queries.case_detail(case["_id"], me, registry, T0)
    assert detail["audit"][-1]["action"] == "read" and detail["audit"][-1]["actor"] == me.actor
    # the opening entries stored in the case come first, then the list and the read
    assert [a["action"] for a in detail["audit"]] == ["received", "assigned", "listed", "read"]
    assert detail["audit"][1]["cadre_id"] == case["cadre_id"] and "opening_audit" not in detail
    assert {"escalations", "audit", "due_at", "linked_clue_ids", "lead_cadre_id"} <= set(detail)
    with pytest.raises(DomainError) as exc:
        queries.case_detail(case["_id"], other, registry, T0)
    assert status(exc.value) == 403
    assert len(audits(case["_id"], "listed")) == 1


def test_list_pagination_newest_first(tiny):
    ctx, _, clock = tiny
    for i in range(5):
        handlers.clue_received(clue(f"c{i}", jurisdiction="foshan/d1/t1", name=f"人{i}"), ctx)
    boss = Principal("supervisor", "foshan/d1", "k")
    page1 = queries.list_cases(boss, ctx.registry(), T0, limit=2)
    page2 = queries.list_cases(boss, ctx.registry(), T0, limit=2, cursor=page1["next"])
    page3 = queries.list_cases(boss, ctx.registry(), T0, limit=2, cursor=page2["next"])
    ids = [c["case_id"] for p in (page1, page2, page3) for c in p["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5 and page3["next"] is None
    assert len(queries.list_cases(boss, ctx.registry(), T0, status="queued")["items"]) == 3


def test_a_cadre_lists_the_cases_they_handle_and_those_they_lead_once_each(tiny):
    ctx, _, _ = tiny
    for i in range(5):
        handlers.clue_received(clue(f"c{i}", jurisdiction="foshan/d1/t1", name=f"人{i}"), ctx)
    roles = [("x", None), (None, "x"), ("x", "x"), ("y", "x"), ("y", None)]  # (handler, lead)
    for i, (handler, lead) in enumerate(roles):
        roles_of = {"cadre_id": handler, "lead_cadre_id": lead}
        case_store().cases[one_case(f"c{i}")["_id"]].update(roles_of)
    ids = {f"c{i}": one_case(f"c{i}")["_id"] for i in range(5)}
    registry, me, pages, cursor = ctx.registry(), as_cadre("x"), [], None
    while True:
        page = queries.list_cases(me, registry, T0, limit=2, cursor=cursor)
        pages.append([c["case_id"] for c in page["items"]])
        if not (cursor := page["next"]):
            break
    listed = [case_id for p in pages for case_id in p]
    assert listed == sorted(ids[f"c{i}"] for i in range(4))[::-1] and [len(p) for p in pages] == [2, 2]
    handled_by_y = queries.list_cases(me, registry, T0, cadre="y")["items"]
    assert [c["case_id"] for c in handled_by_y] == [ids["c3"]]


def test_stats_and_workload(tiny):
    ctx, _, clock = tiny
    for i in range(3):
        handlers.clue_received(clue(f"c{i}", jurisdiction="foshan/d1/t1", name=f"人{i}"), ctx)
    case = one_case("c0")
    clock.now = T0 + timedelta(days=10)
    handlers.close_case(case["_id"], as_cadre(case["cadre_id"]), "talk_inquiry", ["reminder_talk"], "x", ctx)
    boss = Principal("supervisor", "foshan/d1", "k")
    figures = queries.stats(boss, ctx.registry(), clock.now, None, None, None)
    assert figures["received"] == 3 and figures["accepted"] == 3
    assert figures["closed"] == {
        "cases": 1,
        "by_disposition": {"talk_inquiry": 1},
        "by_outcome": {"reminder_talk": 1},
    }
    assert figures["days_to_close"] == {"mean": 10.0, "p90": 10.0}
    assert figures["queued"] == 0
    answer = queries.workload("foshan/d1/t1#commission", boss, ctx.registry())
    assert sum(c["open_cases"] for c in answer["cadres"]) == 2 and answer["capacity"] == 2
    with pytest.raises(Forbidden):
        queries.stats(Principal("supervisor", "foshan/d1", "k"), ctx.registry(), T0, "foshan", None, None)


# ---- clue-received in batches ------------------------------------------------------------------


def outcome(ctx, broker: FakeBroker, clue_ids: list[str]) -> dict:
    """What a run left behind, comparable across runs: per clue its case's first clue, unit,
    status, cadre and whether it has a lead; the loads; the audit actions; the events per clue."""
    cases = {}
    for clue_id in clue_ids:
        case = one_case(clue_id)
        cases[clue_id] = (case["clue_id"], case["unit"], case["status"], case["cadre_id"],
                          case["lead_cadre_id"] is not None, tuple(case["linked_clue_ids"]))
    counters = {s.id: (s.load, s.leads) for s in slots(ctx) if s.load or s.leads}
    audit = sorted(
        (a["action"], one_case_by_id(a["case_id"])["clue_id"])
        for a in [*audits(), *opening_entries()]
    )
    published = sorted((topic, d["clue_id"]) for topic in (events.CASE_ASSIGNED, events.CASE_ESCALATED)
                       for d in data(broker, topic))
    return {"cases": cases, "loads": counters, "audit": audit, "events": published}


def one_case_by_id(case_id: str) -> dict:
    return case_store().get(case_id)


def opening_entries() -> list[dict]:
    return [a for case in stored() for a in case["opening_audit"]]


BATCH = [
    clue("b1"),
    clue("b2", name="王某"),
    clue("b3", name="李某", amount=60_000),  # escalated to the district, serious: a lead cadre
    clue("b4", name="许某", received=T0 + timedelta(days=1)),  # same subject as b1: linked
    clue("b5", jurisdiction="nowhere", name="周某"),  # unroutable: city triage
    clue("b6", name="赵某", category="bribery"),  # serious category
    clue("b1"),  # the same event again in the same poll
]


def test_a_batch_ends_as_the_same_clues_one_by_one(foshan):
    runs = []
    for batched in (False, True):
        ctx, broker, _ = make_world(foshan)  # fresh stores for each run
        if batched:
            handlers.clues_received(BATCH, ctx)
        else:
            for event in BATCH:
                handlers.clue_received(event, ctx)
        runs.append(outcome(ctx, broker, [e.data["clue_id"] for e in BATCH]))
    one_by_one, batch = runs
    assert batch == one_by_one
    assert batch["cases"]["b4"][0] == "b1" and batch["cases"]["b5"][1] == "foshan#commission"
    assert batch["cases"]["b3"][4] and batch["cases"]["b6"][4]
    assert batch["events"].count((events.CASE_ASSIGNED, "b1")) == 2  # announced again, one case


def test_a_batch_balances_as_claims_one_at_a_time_and_queues_the_rest():
    ctx, broker, _ = make_world(parse_registry(small_registry_yaml([2, 1, 3]), "three.yaml"))
    batch = [clue(f"q{i}", jurisdiction="foshan/d1/t1", name=f"人{i}") for i in range(8)]
    handlers.clues_received(batch, ctx)
    assert loads(ctx, "foshan/d1/t1#commission") == {"t-001": 2, "t-002": 1, "t-003": 3}
    statuses = [one_case(f"q{i}")["status"] for i in range(8)]
    assert statuses.count("assigned") == 6 and statuses.count("queued") == 2
    # all at 0 and never assigned: by id; then t-001 holds 1/2 while the others are still at 0
    assert [one_case(f"q{i}")["cadre_id"] for i in range(3)] == ["t-001", "t-002", "t-003"]
    queued = [d for d in data(broker, events.CASE_ASSIGNED) if d["status"] == "queued"]
    assert len(queued) == 2 and all(d["cadre_id"] is None for d in queued)
    assert [a["action"] for a in opening_entries()].count("queued") == 2


def test_a_redelivered_batch_makes_no_second_case_and_takes_no_slot():
    ctx, broker, _ = make_world(parse_registry(small_registry_yaml([5, 5]), "two.yaml"))
    batch = [clue(f"r{i}", jurisdiction="foshan/d1/t1", name=f"人{i}") for i in range(4)]
    handlers.clues_received(batch, ctx)
    handlers.clues_received(batch, ctx)
    assert len(stored()) == 4
    assert sum(loads(ctx).values()) == 4
    assert len(data(broker, events.CASE_ASSIGNED)) == 8
    assert sorted(a["action"] for a in opening_entries()) == ["assigned"] * 4 + ["received"] * 4
    assert audits() == []


def test_a_case_stored_meanwhile_gives_its_slot_back():
    """Another worker stored the clue's case between this batch's read and its insert."""
    ctx, _, _ = make_world(parse_registry(small_registry_yaml([5, 5]), "two.yaml"))
    handlers.clues_received([clue("s1", jurisdiction="foshan/d1/t1")], ctx)
    again = [clue("s1", jurisdiction="foshan/d1/t1"), clue("s2", jurisdiction="foshan/d1/t1", name="王某")]
    news = [handlers.decide_case(e.data, *subject_and_key(e), 1, ctx) for e in again]
    kept, refused = handlers.store_new_cases(news, ctx)
    assert [d["clue_id"] for d in kept] == ["s2"] and refused == [0]
    assert sum(loads(ctx).values()) == 2 and len(stored()) == 2


def subject_and_key(event) -> tuple[object, str]:
    subject, _bad = receiving._subject(event.data["subject"])
    return subject, handlers.subject_key(subject.name, subject.employer)


def test_a_batch_leaves_no_claim_journal():
    ctx, _, _ = make_world(parse_registry(small_registry_yaml([3, 3]), "two.yaml"))
    batch = [clue(f"j{i}", jurisdiction="foshan/d1/t1", name=f"人{i}") for i in range(4)]
    handlers.clues_received(batch, ctx)
    journals = [workload_store.journal(s.id) for s in slots(ctx)]
    assert journals == [{}] * len(journals) and len(journals) > 0
    assert sum(loads(ctx).values()) == 4


def test_slots_of_a_worker_that_died_before_storing_are_swept_and_drained():
    """Claims journaled, then the worker dies: one of its three cases was stored, two never were."""
    from services.assignment import workload

    ctx, _, clock = make_world(parse_registry(small_registry_yaml([2, 1]), "tiny3.yaml"))
    unit = "foshan/d1/t1#commission"
    claims = workload.claim_for_cases(unit, ["x1", "x2", "x3"], T0)
    assert len(claims.cadre_of) == 3 and sum(loads(ctx, unit).values()) == 3
    case_store().insert([{"_id": "x2", "clue_id": "x2", "unit": unit, "status": "assigned",
                          "cadre_id": claims.cadre_of["x2"], "holds_slot": True}])
    # meanwhile a clue waits in the queue (the unit was full)
    handlers.clue_received(clue("waiting", jurisdiction="foshan/d1/t1", name="等某"), ctx)
    assert one_case("waiting")["status"] == "queued"
    # too recent: a live worker may still store them
    assert handlers.sweep_stranded_slots(ctx, T0 - timedelta(seconds=1)) == 0
    assert handlers.sweep_stranded_slots(ctx, T0 + timedelta(minutes=2)) == 2
    assert one_case("waiting")["status"] == "assigned"
    assert sum(loads(ctx, unit).values()) == 2  # x2 and the drained one
    assert no_journal(ctx)
    assert handlers.sweep_stranded_slots(ctx, T0 + timedelta(minutes=2)) == 0  # once only
    # the dead worker's late settle finds its journal swept: nothing is given back twice
    workload.settle(claims, {"x2"})
    assert sum(loads(ctx, unit).values()) == 2


def test_a_refused_case_gives_its_journaled_slot_back_once():
    from services.assignment import workload

    ctx, _, _ = make_world(parse_registry(small_registry_yaml([5]), "one.yaml"))
    unit = "foshan/d1/t1#commission"
    claims = workload.claim_for_cases(unit, ["y1", "y2"], T0)
    workload.settle(claims, {"y1"})
    [cadre] = slots(ctx, unit)
    assert cadre.load == 1 and workload_store.journal(cadre.id) == {}


def test_a_block_that_misses_is_planned_again_and_only_taken_blocks_are_journaled(monkeypatch):
    """The first read is stale for one cadre (another worker claimed there meanwhile): that block
    misses, the others land in the same bulk write, and the next round places the rest."""
    from services.assignment import workload

    ctx, _, _ = make_world(parse_registry(small_registry_yaml([4, 4, 4]), "three4.yaml"))
    unit = "foshan/d1/t1#commission"
    other = workload.claim_for_cases(unit, ["other"], T0)  # the other worker's claim, on t-001
    workload.settle(other, {"other"})
    assert loads(ctx, unit)["t-001"] == 1
    reads = []
    real = workload.unit_loads

    def stale_first(u):
        docs = real(u)
        if not reads:
            docs = [dataclasses.replace(d, load=0) if d.id == "t-001" else d for d in docs]
        reads.append(u)
        return docs

    monkeypatch.setattr(workload, "unit_loads", stale_first)
    claims = workload.claim_for_cases(unit, [f"z{i}" for i in range(6)], T0)
    assert len(reads) == 2 and len(claims.cadre_of) == 6
    counts = loads(ctx, unit)
    assert sum(counts.values()) == 7 and max(counts.values()) - min(counts.values()) <= 1
    for cadre_id in counts:
        journaled = sorted(i for ids in workload_store.journal(cadre_id).values() for i in ids)
        assert journaled == sorted(i for i, c in claims.cadre_of.items() if c == cadre_id)
    workload.settle(claims, set(claims.cadre_of))
    assert no_journal(ctx, unit)


# ---- one open case per subject and category, across workers --------------------------------------


def test_a_clue_whose_subject_got_a_case_meanwhile_is_linked_to_it(monkeypatch):
    """Another worker stores a case on the same subject and category between this batch's read
    and its insert: the insert is refused, the slot given back, and the clue linked instead."""
    ctx, broker, _ = make_world(parse_registry(small_registry_yaml([5, 5]), "two.yaml"))
    real = handlers.store_new_cases

    def other_worker_first(news, ctx):
        monkeypatch.setattr(receiving, "store_new_cases", real)
        handlers.clues_received([clue("w2", jurisdiction="foshan/d1/t1")], ctx)
        return real(news, ctx)

    monkeypatch.setattr(receiving, "store_new_cases", other_worker_first)
    handlers.clues_received([clue("w1", jurisdiction="foshan/d1/t1"), clue("x1", name="王某")], ctx)
    linked = one_case("w1")
    assert linked["clue_id"] == "w2" and linked["linked_clue_ids"] == ["w1"]
    assert len(stored()) == 2
    assert sum(loads(ctx).values()) == 1  # w2's case; x1 went to triage
    assert {d["clue_id"] for d in data(broker, events.CASE_ASSIGNED)} == {"w1", "w2", "x1"}


def test_only_open_cases_hold_the_open_key(tiny):
    ctx, _, _ = tiny
    handlers.clue_received(clue("c1", jurisdiction="foshan/d1/t1"), ctx)
    first = one_case("c1")
    assert first["open_key"] == handlers.open_key(first["subject_key"], "solicitation")
    handlers.close_case(first["_id"], as_cadre(first["cadre_id"]), "concluded", [], "x", ctx)
    assert "open_key" not in one_case("c1")
    handlers.clue_received(clue("c2", jurisdiction="foshan/d1/t1"), ctx)  # a new case, not refused
    second = one_case("c2")
    assert second["_id"] != first["_id"] and second["open_key"] == first["open_key"]


def test_a_reopened_case_takes_its_key_back_unless_a_newer_case_holds_it(tiny):
    ctx, _, _ = tiny
    handlers.clue_received(clue("c1", jurisdiction="foshan/d1/t1"), ctx)
    handlers.clue_received(clue("d1", jurisdiction="foshan/d1/t1", name="王某"), ctx)
    for clue_id in ("c1", "d1"):
        case = one_case(clue_id)
        handlers.close_case(case["_id"], as_cadre(case["cadre_id"]), "concluded", [], "x", ctx)
    handlers.clue_received(clue("c2", jurisdiction="foshan/d1/t1"), ctx)  # c1's subject: a new case
    handlers.clue_followed_up(followed_up("c1", True, "不服"), ctx)
    handlers.clue_followed_up(followed_up("d1", True, "不服"), ctx)
    c1, c2, d1 = one_case("c1"), one_case("c2"), one_case("d1")
    assert c1["status"] == "reopened" and "open_key" not in c1 and c2["open_key"]
    # both cadres busy (c2's and c1's reviewer): d1's review waits in the queue
    assert d1["status"] == "queued" and d1["review"] is True and d1["cadre_id"] is None
    assert d1["open_key"] == handlers.open_key(d1["subject_key"], "solicitation")


def test_backfill_gives_earlier_open_cases_their_key_the_older_first(tiny):
    ctx, _, _ = tiny
    for clue_id, category in (("c1", "solicitation"), ("c2", "tip_off")):
        handlers.clue_received(clue(clue_id, jurisdiction="foshan/d1/t1", category=category), ctx)
    for case in stored():
        del case_store().cases[case["_id"]]["open_key"]
    # a case from before open keys on c1's subject and category, newer than c1's
    twin = {**one_case("c1"), "_id": "twin", "clue_id": "c0", "received_at": T0 + timedelta(hours=1)}
    case_store().insert([twin])
    assert handlers.backfill_open_keys() == 2
    assert one_case("c1")["open_key"] and one_case("c2")["open_key"] != one_case("c1")["open_key"]
    assert "open_key" not in case_store().get("twin")
    assert handlers.backfill_open_keys() == 0


# ---- single claims (the queue's drain, an escalation's move) are journaled too ---------------------


def closed_with_a_queue(ctx):
    """Capacity 1: c1 assigned, c2 queued; c1's close frees the slot that the drain gives c2."""
    handlers.clue_received(clue("c1", jurisdiction="foshan/d1/t1", name="甲"), ctx)
    handlers.clue_received(clue("c2", jurisdiction="foshan/d1/t1", name="乙"), ctx)
    assert one_case("c2")["status"] == "queued"
    first = one_case("c1")
    cadre = first["cadre_id"]
    return lambda: handlers.close_case(first["_id"], as_cadre(cadre), "concluded", [], "x", ctx), cadre


def loads_match_holders(ctx) -> bool:
    held = {c["cadre_id"] for c in stored() if c.get("holds_slot")}
    return all(load == (1 if cadre_id in held else 0) for cadre_id, load in loads(ctx).items())


def test_a_drain_leaves_no_journal_and_records_its_claim_on_the_case():
    ctx, _, _ = make_world(parse_registry(small_registry_yaml([1]), "one1.yaml"))
    close, _cadre = closed_with_a_queue(ctx)
    close()
    drained = one_case("c2")
    assert drained["status"] == "assigned" and len(drained["slot_keys"]) == 1
    assert no_journal(ctx) and loads_match_holders(ctx)


def test_a_drain_killed_between_its_claim_and_the_case_gives_the_slot_back_at_the_sweep(monkeypatch):
    ctx, _, _ = make_world(parse_registry(small_registry_yaml([1]), "one1.yaml"))
    close, cadre = closed_with_a_queue(ctx)
    with killed_at_update(monkeypatch, draining):
        close()
    assert load(ctx, cadre) == 1 and one_case("c2")["status"] == "queued"  # stranded
    assert handlers.sweep_stranded_slots(ctx, T0 + timedelta(minutes=3)) == 1
    assert one_case("c2")["status"] == "assigned" and loads_match_holders(ctx)


def test_a_drain_killed_after_the_case_took_the_slot_keeps_it_at_the_sweep(monkeypatch):
    ctx, _, _ = make_world(parse_registry(small_registry_yaml([1]), "one1.yaml"))
    close, cadre = closed_with_a_queue(ctx)
    with killed_before_settling(monkeypatch):
        close()
    assert one_case("c2")["status"] == "assigned" and workload_store.journal(cadre)
    assert handlers.sweep_stranded_slots(ctx, T0 + timedelta(minutes=3)) == 0
    assert loads_match_holders(ctx) and no_journal(ctx)


def test_an_escalation_killed_before_moving_the_case_gives_the_slot_back_at_the_sweep(world, monkeypatch):
    ctx, _, _ = world
    handlers.clue_received(clue("c1"), ctx)
    case = one_case("c1")
    before = loads(ctx)
    with killed_at_update(monkeypatch, moving):
        handlers.escalate_case(case["_id"], Principal("supervisor", "foshan", "k"), "提级", ctx)
    assert sum(loads(ctx).values()) == sum(before.values()) + 1  # the stranded slot
    assert handlers.sweep_stranded_slots(ctx, T0 + timedelta(minutes=3)) == 1
    assert loads(ctx) == before
