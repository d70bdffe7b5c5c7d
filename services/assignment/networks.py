"""The relationship map's handler and views: links from clues, networks, joint handling (stored by
network_store.py).

After the clue-received handlers have made or linked each clue's case, `after_clues` stores the
parties the clues name as links (one document per link), looks at the group of subjects and
parties they belong to (relmap.find_networks), and for every network moves its open cases to the
covering unit with reason `network` (handlers.move_case) and records the joint handling
(协作办案). Safe to run twice for the same clues: links have natural ids, moves are guarded,
joint handling is upserted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.auth import Principal

from . import handlers, network_store, relmap
from .documents import OPEN_STATUSES
from .errors import NotFound
from .model import CaseError
from .network_store import MAX_LINKS, JointCase
from .registry import Registry
from .store import case_store

log = logging.getLogger(__name__)
MAX_ROUNDS = 12


def _links_from_docs(docs: Iterable[dict[str, Any]]) -> list[relmap.Link]:
    return [
        relmap.Link(
            d["clue_id"],
            d["case_id"],
            d["subject_key"],
            d.get("subject_name", ""),
            d["party_kind"],
            d["party_name"],
        )
        for d in docs
    ]


def store_links(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Store the links a clue-received's `parties` make (none without parties or a case)."""
    parties = [
        p for p in data.get("parties") or [] if isinstance(p, dict) and p.get("kind") and p.get("name")
    ]
    case = case_store().by_clue(data["clue_id"]) if parties else None
    if case is None:
        return []
    docs = [
        {
            "_id": f"{data['clue_id']}:{relmap.party_key(p['kind'], p['name'])}",
            "clue_id": data["clue_id"],
            "case_id": case["_id"],
            "subject_key": case["subject_key"],
            "subject_name": case.get("subject_name", ""),
            "party_kind": p["kind"],
            "party_name": str(p["name"]),
            "party_key": relmap.party_key(p["kind"], p["name"]),
        }
        for p in parties
    ]
    docs = list({d["_id"]: d for d in docs}.values())
    network_store.add_links(docs)
    return docs


def group_of(subject_keys: set[str], party_keys: set[str]) -> list[dict[str, Any]]:
    """Every link connected to these subjects and parties (breadth first, bounded)."""
    links: dict[str, dict[str, Any]] = {}
    seen_s, seen_p = set(), set()
    for _ in range(MAX_ROUNDS):
        new_s, new_p = subject_keys - seen_s, party_keys - seen_p
        if not (new_s or new_p) or len(links) > MAX_LINKS:
            break
        seen_s |= new_s
        seen_p |= new_p
        for field, keys in (("subject_key", new_s), ("party_key", new_p)):
            if keys:
                for d in network_store.links_with(field, keys):
                    links[d["_id"]] = d
        subject_keys = subject_keys | {d["subject_key"] for d in links.values()}
        party_keys = party_keys | {d["party_key"] for d in links.values()}
    return list(links.values())


def after_clues(batch: Iterable[dict[str, Any]], ctx: handlers.Context) -> int:
    """The map's part of clue-received (see the module); returns how many networks were handled."""
    stored = [d for data in batch for d in store_links(data)]
    if not stored:
        return 0
    links = group_of({d["subject_key"] for d in stored}, {d["party_key"] for d in stored})
    refs = network_store.case_refs(d["case_id"] for d in links)
    routed = {c.case_id: c.routed_unit for c in refs.values()}
    found = relmap.find_networks(_links_from_docs(links), routed)
    for network in found:
        handle_network(network, refs, ctx)
    return len(found)


def handle_network(
    network: relmap.Network, refs: dict[str, relmap.CaseRef], ctx: handlers.Context
) -> str | None:
    """Move a network's open cases to its lead unit (reason `network`) and record the joint
    handling; returns its id (None when no case of it is open and routed)."""
    registry = ctx.registry()
    open_cases = [
        refs[c]
        for c in sorted(network.case_ids)
        if c in refs
        and refs[c].status in OPEN_STATUSES
        and not refs[c].triage
        and registry.unit(refs[c].unit) is not None
    ]
    if not open_cases:
        return None
    existing = network_store.joint_of_cases([c.case_id for c in open_cases])
    plan = relmap.plan(open_cases, registry, existing.lead_unit if existing else None)
    for case_id in plan.moves:
        try:
            handlers.move_case(
                case_id,
                ["network"],
                handlers.SYSTEM,
                ctx,
                to_unit=plan.lead_unit,
                guard=lambda d: d["unit"] != plan.lead_unit and not d.get("triage_reason"),
            )
        except CaseError as exc:  # closed or changed meanwhile: the others still move
            log.warning("network escalation skipped", extra={"case_id": case_id, "error": str(exc)})
    return _record_joint(existing, plan, network, [c.case_id for c in open_cases], ctx.clock())


def _record_joint(
    existing: JointCase | None, plan: relmap.Plan, network: relmap.Network, case_ids: list[str], now: datetime
) -> str:
    # Named after its oldest case: two workers seeing the same new network write one joint handling.
    joint_id = existing.id if existing else f"n{min(case_ids)}"
    old = existing or JointCase(id=joint_id, lead_unit=plan.lead_unit, created_at=now, updated_ms=0)
    fields = {
        "lead_unit": plan.lead_unit,
        "assisting_units": sorted((set(old.assisting_units) | set(plan.assisting_units)) - {plan.lead_unit}),
        "case_ids": sorted(set(old.case_ids) | set(case_ids)),
        "subjects": sorted(set(old.subjects) | network.subjects),
        "parties": sorted(set(old.parties) | network.parties),
        "why": sorted(set(old.why) | set(network.why)),
    }
    network_store.save_joint(joint_id, fields, old.created_at, case_ids, updated_at=now)
    for case_id in case_ids:
        case_store().audit(
            case_id,
            handlers.SYSTEM,
            "joint_handling",
            now,
            f"{case_id}:joint:{joint_id}",
            joint_id=joint_id,
            lead_unit=plan.lead_unit,
        )
    return joint_id


# ---- reading ---------------------------------------------------------------------------------


def viewer_units(principal: Principal, registry: Registry) -> set[str] | None:
    """The units whose joint cases the principal sees (None: all, for an admin)."""
    if principal.role == "admin":
        return None
    if principal.role == "supervisor":
        return set(registry.units_within(principal.scope))
    cadre = registry.cadre(principal.scope) if principal.role == "cadre" else None
    return {cadre.unit} if cadre else set()


def joint_visible(joint: JointCase, units: set[str] | None) -> bool:
    return units is None or bool(units & {joint.lead_unit, *joint.assisting_units})


def joint_view(joint: JointCase, units: set[str] | None, registry: Registry) -> dict[str, Any]:
    """A joint handling with its cases; a case that left a unit for a conflict of interest is
    left out for viewers who see only the unit it left."""
    refs = network_store.case_refs(joint.case_ids)
    shown = [c for c in refs.values() if units is None or "conflict" not in c.reasons or c.unit in units]
    name = lambda code: registry.unit(code).name if registry.unit(code) else code  # noqa: E731
    return {
        "network_id": joint.id,
        "lead_unit": joint.lead_unit,
        "lead_unit_name": name(joint.lead_unit),
        "assisting_units": [{"unit": u, "name": name(u)} for u in joint.assisting_units],
        "why": list(joint.why),
        "parties": [{"kind": p.split(":", 1)[0], "name": p.split(":", 1)[1]} for p in joint.parties],
        "cases": [
            {
                "case_id": c.case_id,
                "subject_name": c.subject_name,
                "unit": c.unit,
                "unit_name": name(c.unit),
                "routed_unit": c.routed_unit,
                "status": c.status,
                "escalation_reasons": list(c.reasons),
            }
            for c in sorted(shown, key=lambda c: c.case_id)
        ],
        "created_at": joint.created_at,
    }


def networks_for(principal: Principal, registry: Registry) -> list[dict[str, Any]]:
    """The joint handlings the principal sees, newest first."""
    units = viewer_units(principal, registry)
    return [
        joint_view(j, units, registry) for j in network_store.joints_newest_first() if joint_visible(j, units)
    ]


def network(joint_id: str, principal: Principal, registry: Registry) -> dict[str, Any]:
    joint = network_store.joint(joint_id)
    units = viewer_units(principal, registry)
    if joint is None or not joint_visible(joint, units):
        raise NotFound("no such network")
    return joint_view(joint, units, registry)


def may_see_case(doc: dict[str, Any], principal: Principal, registry: Registry) -> bool:
    """The case's ordinary scope (handlers.ensure_visible), or a unit of its joint handling."""
    try:
        handlers.ensure_visible(doc, principal, registry)
        return True
    except CaseError:
        pass
    joint = network_store.joint_of_cases([doc["_id"]])
    if joint is None or "conflict" in (doc.get("escalation_reasons") or []):
        return False
    return joint_visible(joint, viewer_units(principal, registry))
