"""Who may see a case (plain rules over the registry): its cadre or lead cadre, a supervisor
whose jurisdiction covers the unit handling it, an admin. A case that left a unit for a
conflict of interest (`conflict`) is never shown to anyone of that unit: a supervisor sees a
conflict escalation only when the unit it went to is within their jurisdiction."""

from __future__ import annotations

from typing import Any

from shared.auth import Principal

from .model import CaseError, CaseForbidden
from .registry import Registry


def may_see(doc: dict[str, Any], principal: Principal, registry: Registry) -> bool:
    if principal.role == "admin":
        return True
    if principal.role == "cadre":
        return principal.scope in {doc.get("cadre_id"), doc.get("lead_cadre_id")} - {None}
    return (
        principal.role == "supervisor"
        and registry.unit(doc["unit"]) is not None
        and registry.is_within(doc["unit"], principal.scope)
    )


def ensure_visible(
    doc: dict[str, Any], principal: Principal, registry: Registry, hide_with: type[CaseError] = CaseForbidden
) -> None:
    """Raise `hide_with` (403 by default; 404 where the case's existence is not to be told)
    unless the principal may see the case."""
    if not may_see(doc, principal, registry):
        raise hide_with("this case is outside your scope")


def escalation_visible(entry: dict[str, Any], principal: Principal, registry: Registry) -> bool:
    """An escalation line on a supervisor's page: a conflict move only if it went to a unit
    within their jurisdiction (never to those of the unit it left)."""
    if principal.role != "supervisor" or "conflict" not in (entry.get("reasons") or []):
        return True
    to_unit = entry.get("to_unit")
    return bool(to_unit and registry.unit(to_unit) and registry.is_within(to_unit, principal.scope))
