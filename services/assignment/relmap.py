"""The relationship map (关系图) and its networks: rules in plain Python (networkx for the graph).

Every clue that names firms, intermediaries or relatives (`parties`) links its subject to them.
The map's nodes are subjects (by subject key), parties (by kind and normalised name), employers
and handling units; its edges say "named together in a clue", "works for", "is handled by".

A network is a connected group of subjects and parties in which
- a subject is linked to several (>= 2) firms or intermediaries (违规推介业务, 内外勾结), or
- a firm or intermediary is linked to subjects whose cases were routed to several (>= 2)
  handling units (a network spanning units).
Relatives link a subject to the people around them and join groups, but alone make no network.

A network escalates its open cases with reason `network` to the unit that covers them all and
opens joint handling (协作办案) there: that unit leads, the units the cases came from assist.
The covering unit is the commission of the lowest jurisdiction holding every case's unit; when
every case came from one unit and is still there, it is the level above (as for `collusion`:
the group acts with firms, 内外勾结).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from .registry import LEVELS, Registry, normalise_name

FIRM_KINDS = frozenset({"firm", "intermediary"})
MIN_FIRMS = 2
MIN_UNITS = 2


def party_key(kind: str, name: str) -> str:
    """How one party is recognised across clues: its kind and normalised name."""
    return f"{kind}:{normalise_name(name)}"


@dataclass(frozen=True)
class Link:
    """One party named by one clue about one subject (a stored edge of the map)."""

    clue_id: str
    case_id: str
    subject_key: str
    subject_name: str
    party_kind: str
    party_name: str

    @property
    def party(self) -> str:
        return party_key(self.party_kind, self.party_name)


@dataclass(frozen=True)
class CaseRef:
    """What the map needs of a case."""

    case_id: str
    subject_key: str
    subject_name: str
    employer: str | None
    unit: str
    routed_unit: str
    status: str
    reasons: tuple[str, ...] = ()
    triage: bool = False


@dataclass(frozen=True)
class Network:
    """A network found on the map: its subjects, parties, cases, and why it is one."""

    subjects: frozenset[str]
    parties: frozenset[str]
    case_ids: frozenset[str]
    why: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """Joint handling of a network: the lead unit, the cases to move there, the assisting units."""

    lead_unit: str
    moves: tuple[str, ...]
    assisting_units: tuple[str, ...]


def link_graph(links: Iterable[Link]) -> nx.Graph:
    """Subjects ("s:<key>") and parties ("p:<kind:name>"), an edge for each pair a clue names."""
    graph = nx.Graph()
    for link in links:
        graph.add_node(f"s:{link.subject_key}", kind="subject", label=link.subject_name or "（未具名）")
        graph.add_node(f"p:{link.party}", kind=link.party_kind, label=link.party_name)
        graph.add_edge(f"s:{link.subject_key}", f"p:{link.party}")
    return graph


def find_networks(links: Iterable[Link], routed_unit_of: Mapping[str, str]) -> list[Network]:
    """The networks among `links` (see the module's rule). `routed_unit_of`: each case id's
    routed unit; cases of a subject count for every party the subject is linked to."""
    links = list(links)
    graph = link_graph(links)
    cases_of: dict[str, set[str]] = {}
    for link in links:
        cases_of.setdefault(f"s:{link.subject_key}", set()).add(link.case_id)
    found = []
    for component in nx.connected_components(graph):
        why = []
        subjects = {n for n in component if n.startswith("s:")}
        for s in subjects:
            if sum(1 for p in graph[s] if graph.nodes[p]["kind"] in FIRM_KINDS) >= MIN_FIRMS:
                why.append("several_firms")
                break
        for p in component - subjects:
            if graph.nodes[p]["kind"] not in FIRM_KINDS:
                continue
            units = {routed_unit_of[c] for s in graph[p] for c in cases_of.get(s, ()) if c in routed_unit_of}
            if len(units) >= MIN_UNITS:
                why.append("several_units")
                break
        if why:
            case_ids = {c for s in subjects for c in cases_of.get(s, ())}
            found.append(
                Network(
                    frozenset(s[2:] for s in subjects),
                    frozenset(p[2:] for p in component - subjects),
                    frozenset(case_ids),
                    tuple(why),
                )
            )
    return found


def lowest_common_jurisdiction(codes: Iterable[str], registry: Registry) -> str | None:
    """The lowest jurisdiction that is or contains every one of `codes` (unit or jurisdiction codes)."""
    chains = []
    for code in codes:
        unit = registry.unit(code)
        current = registry.jurisdiction(unit.jurisdiction if unit else code)
        chain = []
        while current is not None:
            chain.append(current.code)
            current = registry.jurisdiction(current.parent) if current.parent else None
        chains.append(chain)
    if not chains:
        return None
    common = set(chains[0]).intersection(*map(set, chains[1:]))
    return next((c for c in chains[0] if c in common), None)


def covering_unit(cases: Iterable[CaseRef], registry: Registry) -> str:
    """The unit that covers every case of a network (see the module's rule)."""
    cases = list(cases)
    routed = {c.routed_unit for c in cases}
    current = {c.unit for c in cases}
    if len(routed) == 1 and current <= routed:
        only = next(iter(routed))
        return registry.parent_unit(only) or registry.city_unit()
    place = lowest_common_jurisdiction(routed | current, registry)
    return (registry.unit_for_jurisdiction(place) if place else None) or registry.city_unit()


def _level(unit: str, registry: Registry) -> int:
    return LEVELS.index(registry.level_of(unit))


def covers(lead: str, unit: str, registry: Registry) -> bool:
    """True when a case at `unit` may be taken over by `lead`: lead is at its level or above and
    its jurisdiction holds the unit's."""
    return registry.is_within(unit, lead) and _level(unit, registry) <= _level(lead, registry)


def plan(cases: Iterable[CaseRef], registry: Registry, existing_lead: str | None = None) -> Plan:
    """Joint handling of a network's open cases: the lead (an existing joint handling's lead
    while it still covers every case), the cases to move to it, and the assisting units (the
    units the cases came from or sit in, except the lead and any unit a case left for a
    conflict of interest: no one there may see it)."""
    cases = [c for c in cases if registry.unit(c.unit) is not None]
    if (
        existing_lead
        and registry.unit(existing_lead)
        and all(covers(existing_lead, c.unit, registry) for c in cases)
    ):
        lead = existing_lead
    else:
        lead = covering_unit(cases, registry)
    moves = tuple(sorted(c.case_id for c in cases if c.unit != lead and covers(lead, c.unit, registry)))
    barred = {c.routed_unit for c in cases if "conflict" in c.reasons}
    assisting = {c.routed_unit for c in cases} | {c.unit for c in cases}
    return Plan(lead, moves, tuple(sorted(assisting - barred - {lead})))


def neighbourhood(
    links: Iterable[Link],
    cases: Mapping[str, CaseRef],
    centre_subject: str,
    visible: set[str],
    name_of: Callable[[str], str],
    radius: int = 3,
) -> nx.Graph:
    """The map around one subject: parties, the other subjects linked to them, their employers
    ("e:") and handling units ("u:"), within `radius` steps. Subjects none of whose cases are in
    `visible` are shown without their name."""
    graph = link_graph(links)
    for case in cases.values():
        subject = f"s:{case.subject_key}"
        graph.add_node(subject, kind="subject", label=case.subject_name or "（未具名）")
        if case.employer:
            graph.add_node(f"e:{case.employer}", kind="employer", label=name_of(case.employer))
            graph.add_edge(subject, f"e:{case.employer}")
        graph.add_node(f"u:{case.unit}", kind="unit", label=name_of(case.unit))
        graph.add_edge(subject, f"u:{case.unit}")
    shown_subjects = {f"s:{c.subject_key}" for c in cases.values() if c.case_id in visible}
    for node, attrs in graph.nodes(data=True):
        if attrs.get("kind") == "subject" and node not in shown_subjects:
            attrs["label"] = "其他被反映人"
    centre = f"s:{centre_subject}"
    return nx.ego_graph(graph, centre, radius=radius) if centre in graph else nx.Graph()


@dataclass
class Drawing:
    """A laid-out graph for SVG: nodes with positions, edges between them."""

    width: int
    height: int
    nodes: list[dict] = field(default_factory=list)
    edges: list[tuple[float, float, float, float]] = field(default_factory=list)


def layout(graph: nx.Graph, centre: str, size: int | None = None) -> Drawing:
    """Rings around `centre` by distance (breadth-first), each ring's nodes evenly spaced and
    sorted by kind and label, so the same neighbourhood always draws the same. The canvas grows
    with the node count (`size` fixes it); a label sits on the outer side of its node."""
    import math

    size = size or min(960, max(560, 320 + 26 * graph.number_of_nodes()))
    margin = 170  # room for the outermost labels (12 characters)
    distance = nx.single_source_shortest_path_length(graph, centre)
    rings: dict[int, list[str]] = {}
    for node, d in distance.items():
        rings.setdefault(d, []).append(node)
    step = max(20.0, (size / 2 - margin) / max(1, max(rings)))
    drawing = Drawing(size, size)
    at: dict[str, tuple[float, float]] = {}
    for d, members in rings.items():
        members.sort(key=lambda n: (graph.nodes[n].get("kind", ""), graph.nodes[n].get("label", ""), n))
        for i, node in enumerate(members):
            angle = 2 * math.pi * i / len(members) + (d * 0.35)
            x, y = size / 2 + d * step * math.cos(angle), size / 2 + d * step * math.sin(angle)
            at[node] = (round(x, 1), round(y, 1))
            side = (
                "middle"
                if d == 0 or abs(math.cos(angle)) < 0.2
                else ("start" if math.cos(angle) > 0 else "end")
            )
            shift = {"start": 12, "end": -12, "middle": 0}[side]
            drawing.nodes.append(
                {
                    "id": node,
                    "x": at[node][0],
                    "y": at[node][1],
                    "centre": node == centre,
                    "anchor": side,
                    "lx": round(x + shift, 1),
                    "ly": round(y + (4 if side != "middle" else (26 if d == 0 else 22)), 1),
                    **graph.nodes[node],
                }
            )
    for a, b in graph.edges():
        if a in at and b in at:
            drawing.edges.append((*at[a], *at[b]))
    return drawing
