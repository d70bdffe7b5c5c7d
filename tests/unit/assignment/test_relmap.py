"""The relationship map's rules (relmap.py): networks, the covering unit, joint handling, drawing."""

from __future__ import annotations

import pytest

from services.assignment import relmap
from services.assignment.escalation import REASONS, sort_reasons
from services.assignment.relmap import CaseRef, Link

SHIWAN = "foshan/chancheng/shiwan#commission"
ZUMIAO = "foshan/chancheng/zumiao#commission"
CHANCHENG = "foshan/chancheng#commission"
GUICHENG = "foshan/nanhai/guicheng#commission"
NANHAI_UM = "foshan/nanhai/urban-management#embedded"
NANHAI = "foshan/nanhai#commission"
CITY = "foshan#commission"


def link(case: str, subject: str, kind: str, name: str) -> Link:
    return Link(f"clue-{case}-{name}", case, subject, subject, kind, name)


# (label, links, routed unit of each case, networks' subjects, why)
NETWORKS = [
    ("no parties, no network", [], {}, [], []),
    ("one subject, one firm", [link("c1", "s1", "firm", "甲公司")], {"c1": SHIWAN}, [], []),
    (
        "one subject, two firms",
        [link("c1", "s1", "firm", "甲公司"), link("c1", "s1", "firm", "乙公司")],
        {"c1": SHIWAN},
        [{"s1"}],
        [("several_firms",)],
    ),
    (
        "a firm and an intermediary count together",
        [link("c1", "s1", "firm", "甲公司"), link("c2", "s1", "intermediary", "丙中介")],
        {"c1": SHIWAN, "c2": SHIWAN},
        [{"s1"}],
        [("several_firms",)],
    ),
    (
        "two relatives are no network",
        [link("c1", "s1", "relative", "妻子"), link("c1", "s1", "relative", "哥哥")],
        {"c1": SHIWAN},
        [],
        [],
    ),
    (
        "one firm, two subjects in one unit",
        [link("c1", "s1", "firm", "甲公司"), link("c2", "s2", "firm", "甲公司")],
        {"c1": SHIWAN, "c2": SHIWAN},
        [],
        [],
    ),
    (
        "one firm, two subjects in two units",
        [link("c1", "s1", "firm", "甲公司"), link("c2", "s2", "firm", "甲公司")],
        {"c1": SHIWAN, "c2": ZUMIAO},
        [{"s1", "s2"}],
        [("several_units",)],
    ),
    (
        "a relative joins groups but a relative alone spans nothing",
        [link("c1", "s1", "relative", "王某"), link("c2", "s2", "relative", "王某")],
        {"c1": SHIWAN, "c2": ZUMIAO},
        [],
        [],
    ),
    (
        "names are normalised",
        [link("c1", "s1", "firm", "甲公司"), link("c1", "s1", "firm", " 甲公司 ")],
        {"c1": SHIWAN},
        [],
        [],
    ),
    (
        "two separate groups, one a network",
        [link("c1", "s1", "firm", "甲"), link("c1", "s1", "firm", "乙"), link("c2", "s2", "firm", "丁")],
        {"c1": SHIWAN, "c2": ZUMIAO},
        [{"s1"}],
        [("several_firms",)],
    ),
]


@pytest.mark.parametrize("label, links, routed, subjects, why", NETWORKS, ids=[n[0] for n in NETWORKS])
def test_find_networks(label, links, routed, subjects, why):
    found = relmap.find_networks(links, routed)
    assert [set(n.subjects) for n in found] == subjects
    assert [n.why for n in found] == why


def test_a_network_holds_every_case_of_its_subjects():
    links = [link("c1", "s1", "firm", "甲"), link("c2", "s1", "firm", "乙"), link("c3", "s2", "firm", "乙")]
    (network,) = relmap.find_networks(links, {"c1": SHIWAN, "c2": SHIWAN, "c3": SHIWAN})
    assert network.case_ids == {"c1", "c2", "c3"}
    assert network.parties == {"firm:甲", "firm:乙"}


def ref(case_id: str, unit: str, routed: str | None = None, reasons: tuple[str, ...] = ()) -> CaseRef:
    return CaseRef(case_id, f"s-{case_id}", "某", None, unit, routed or unit, "assigned", reasons)


# (label, cases, covering unit)
COVERING = [
    ("one town, still there: the level above", [ref("a", SHIWAN), ref("b", SHIWAN)], CHANCHENG),
    ("two towns of a district: the district", [ref("a", SHIWAN), ref("b", ZUMIAO)], CHANCHENG),
    ("towns of two districts: the city", [ref("a", SHIWAN), ref("b", GUICHENG)], CITY),
    (
        "an embedded group and a town of its district: the district",
        [ref("a", NANHAI_UM), ref("b", GUICHENG)],
        NANHAI,
    ),
    ("one embedded group: the level above it", [ref("a", NANHAI_UM)], CITY),
    ("a case moved up already: no second step", [ref("a", CHANCHENG, SHIWAN)], CHANCHENG),
    ("one town and its district's case: the district", [ref("a", SHIWAN), ref("b", CHANCHENG)], CHANCHENG),
    ("the city alone stays the city", [ref("a", CITY)], CITY),
]


@pytest.mark.parametrize("label, cases, expected", COVERING, ids=[c[0] for c in COVERING])
def test_covering_unit(foshan, label, cases, expected):
    assert relmap.covering_unit(cases, foshan) == expected


# (label, cases, existing lead, lead, moves, assisting)
PLANS = [
    (
        "two towns: both move, both assist",
        [ref("a", SHIWAN), ref("b", ZUMIAO)],
        None,
        CHANCHENG,
        ("a", "b"),
        (SHIWAN, ZUMIAO),
    ),
    (
        "a case at the lead does not move",
        [ref("a", SHIWAN), ref("b", CHANCHENG)],
        None,
        CHANCHENG,
        ("a",),
        (SHIWAN,),
    ),
    (
        "an existing lead that covers all stays",
        [ref("a", CHANCHENG, SHIWAN), ref("b", ZUMIAO)],
        CHANCHENG,
        CHANCHENG,
        ("b",),
        (SHIWAN, ZUMIAO),
    ),
    (
        "an existing lead that does not cover a new case gives way",
        [ref("a", CHANCHENG, SHIWAN), ref("b", GUICHENG)],
        CHANCHENG,
        CITY,
        ("a", "b"),
        (CHANCHENG, SHIWAN, GUICHENG),
    ),
    (
        "a unit left for a conflict of interest does not assist",
        [ref("a", CHANCHENG, SHIWAN, ("conflict",)), ref("b", ZUMIAO)],
        None,
        CHANCHENG,
        ("b",),
        (ZUMIAO,),
    ),
    (
        "a case above the lead stays where it is",
        [ref("a", SHIWAN), ref("b", CITY, SHIWAN)],
        CHANCHENG,
        CITY,
        ("a",),
        (SHIWAN,),
    ),
]


@pytest.mark.parametrize("label, cases, existing, lead, moves, assisting", PLANS, ids=[p[0] for p in PLANS])
def test_plan(foshan, label, cases, existing, lead, moves, assisting):
    plan = relmap.plan(cases, foshan, existing)
    assert (plan.lead_unit, plan.moves, plan.assisting_units) == (lead, moves, assisting)


LCA = [
    ([SHIWAN], "foshan/chancheng/shiwan"),
    ([SHIWAN, ZUMIAO], "foshan/chancheng"),
    ([SHIWAN, "foshan/chancheng"], "foshan/chancheng"),
    ([SHIWAN, GUICHENG], "foshan"),
    ([], None),
]


@pytest.mark.parametrize("codes, expected", LCA)
def test_lowest_common_jurisdiction(foshan, codes, expected):
    assert relmap.lowest_common_jurisdiction(codes, foshan) == expected


def test_network_is_an_escalation_reason_in_its_place():
    assert "network" in REASONS
    assert sort_reasons(["manual", "network", "collusion"]) == ("collusion", "network", "manual")


def test_neighbourhood_hides_subjects_the_viewer_may_not_see(foshan):
    links = [link("c1", "s1", "firm", "甲"), link("c2", "s2", "firm", "甲")]
    cases = {
        "c1": CaseRef("c1", "s1", "张某", "foshan/chancheng/traffic", SHIWAN, SHIWAN, "assigned"),
        "c2": CaseRef("c2", "s2", "李某", None, GUICHENG, GUICHENG, "assigned"),
    }
    graph = relmap.neighbourhood(links, cases, "s1", {"c1"}, lambda code: f"名{code}")
    labels = {a["label"] for _n, a in graph.nodes(data=True)}
    assert {"张某", "甲", "其他被反映人", f"名{SHIWAN}", "名foshan/chancheng/traffic"} <= labels
    assert "李某" not in labels
    assert relmap.neighbourhood(links, cases, "nobody", {"c1"}, str).number_of_nodes() == 0


def test_layout_puts_the_centre_in_the_middle_and_draws_every_edge():
    graph = relmap.link_graph([link("c1", "s1", "firm", "甲"), link("c1", "s1", "firm", "乙")])
    drawing = relmap.layout(graph, "s:s1", size=400)
    centre = next(n for n in drawing.nodes if n["centre"])
    assert (centre["x"], centre["y"]) == (200, 200)
    assert len(drawing.edges) == 2 and len(drawing.nodes) == 3
    assert all(0 <= n["x"] <= 400 and 0 <= n["y"] <= 400 for n in drawing.nodes)


SUBJECT_KEYS = [
    ("the same person twice", ("许某", "bureau", "c1"), (" 许某 ", "bureau", "c2"), True),
    ("the same name at another employer", ("许某", "bureau", "c1"), ("许某", "other", "c2"), False),
    ("two opinions naming no one about one bureau", ("", "bureau", "c1"), ("", "bureau", "c2"), False),
    ("a blank name is no name", ("  ", "bureau", "c1"), ("", "bureau", "c2"), False),
    ("the same nameless clue again", ("", "bureau", "c1"), ("", "bureau", "c1"), True),
]


@pytest.mark.parametrize("label, first, second, same", SUBJECT_KEYS, ids=[s[0] for s in SUBJECT_KEYS])
def test_subject_keys_match_people_never_nameless_opinions(label, first, second, same):
    from services.assignment.handlers import subject_key

    assert (subject_key(*first) == subject_key(*second)) is same
