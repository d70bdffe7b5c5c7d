"""A case's neighbourhood on the relationship map, for GET /v1/cases/{id}/map and the workspace's
SVG drawing (relmap.neighbourhood, relmap.layout). Reading it is audited like reading the case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import networkx as nx

from shared.auth import Principal
from shared.problems import Problem

from . import network_store, networks, relmap
from .registry import Registry
from .store import case_store


def _name_of(registry: Registry):
    def name(code: str) -> str:
        found = registry.unit(code) or registry.employer(code)
        return found.name if found else code

    return name


def neighbourhood(
    case_id: str, principal: Principal, registry: Registry, now: datetime
) -> tuple[nx.Graph, str]:
    """The graph around the case's subject and its centre node; 404/403 as for the case."""
    doc = case_store().get(case_id, {"outbox": 0, "opening_audit": 0})
    if doc is None:
        raise Problem(404, "Not Found", "no such case")
    if not networks.may_see_case(doc, principal, registry):
        raise Problem(403, "Forbidden", "this case is outside your scope")
    case_store().audit(case_id, principal.actor, "map_read", now)
    docs = networks.group_of({doc["subject_key"]}, set())
    links = networks._links_from_docs(docs)
    refs = network_store.case_refs({case_id, *(d["case_id"] for d in docs)})
    visible = {case_id}
    for ref in refs.values():
        if ref.case_id != case_id and _sees(ref, principal, registry):
            visible.add(ref.case_id)
    graph = relmap.neighbourhood(links, refs, doc["subject_key"], visible, _name_of(registry))
    return graph, f"s:{doc['subject_key']}"


def _sees(ref: relmap.CaseRef, principal: Principal, registry: Registry) -> bool:
    return networks.may_see_case(
        {
            "_id": ref.case_id,
            "unit": ref.unit,
            "escalation_reasons": list(ref.reasons),
            "cadre_id": None,
            "lead_cadre_id": None,
        },
        principal,
        registry,
    )


def opaque(graph: nx.Graph, centre: str) -> tuple[nx.Graph, str]:
    """The same graph with node ids n0, n1, ... (subject keys hold names: they must not show)."""
    order = sorted(
        graph.nodes,
        key=lambda n: (n != centre, graph.nodes[n].get("kind", ""), graph.nodes[n].get("label", ""), n),
    )
    ids = {node: f"n{i}" for i, node in enumerate(order)}
    return nx.relabel_nodes(graph, ids), ids[centre] if centre in ids else "n0"


def as_json(graph: nx.Graph, centre: str) -> dict[str, Any]:
    graph, centre = opaque(graph, centre)
    return {
        "centre": centre,
        "nodes": [
            {"id": n, "kind": a.get("kind"), "label": a.get("label")} for n, a in graph.nodes(data=True)
        ],
        "edges": [[a, b] for a, b in graph.edges()],
    }
