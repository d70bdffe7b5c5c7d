"""What of the registry a supervisor may read: their jurisdiction's subtree only.

The jurisdictions at or below theirs, the employers and units there, and those units' cadres.
Another district's cadres (names, capacities, who leads) are none of their business.
"""

from __future__ import annotations

from typing import Any

from shared.auth import jurisdiction_within


def subtree(data: dict[str, Any], scope: str) -> dict[str, Any]:
    """`data` (the registry as `registry_to_dict` gives it) cut to jurisdiction `scope` and below."""
    cut = {
        **data,
        "jurisdictions": [j for j in data.get("jurisdictions", []) if jurisdiction_within(j["code"], scope)],
        "employers": [e for e in data.get("employers", []) if jurisdiction_within(e["jurisdiction"], scope)],
        "units": [u for u in data.get("units", []) if jurisdiction_within(u["jurisdiction"], scope)],
    }
    if "cadres" in data:  # a flat list of cadres, if the shape ever has one (units carry theirs)
        kept = {u["code"] for u in cut["units"]}
        cut["cadres"] = [c for c in data["cadres"] if c.get("unit") in kept]
    return cut
