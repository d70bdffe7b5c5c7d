"""The registry as documents: saved from a validated Registry, read back as one, cached per process.

The cadres are written by the slot store (workload_store.sync_roster), which keeps their load
counters: changing a cadre's capacity or activity keeps the open cases they hold.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from shared.mongo import utcnow

from . import workload_store
from .documents import CadreSlot, EmployerDoc, JurisdictionDoc, RegistryState, UnitDoc
from .registry import Registry, RegistryError
from .registry_file import load_registry, registry_from_dict, registry_to_dict

STATE_ID = "current"


# The registry's places as documents: the Registry method listing them, the fields stored besides
# the code and the position.
_PLACES = (
    (JurisdictionDoc, "jurisdictions", ("name", "level", "parent", "leaders")),
    (EmployerDoc, "employers", ("name", "jurisdiction", "leaders")),
    (UnitDoc, "units", ("name", "jurisdiction", "kind", "serves_employer")),
)


def _upsert(document: Any, items: Any, names: tuple[str, ...]) -> None:
    """Write each of `items` (by its code) with the fields `names` and its position in the list."""
    for pos, item in enumerate(items):
        values = {f"set__{name}": getattr(item, name) for name in names}
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}  # leaders
        document.objects(id=item.code).update_one(upsert=True, **values, set__position=pos)


def save_registry(registry: Registry, source: str = "api") -> int:
    """Write a validated registry; items no longer present are removed (cadres are deactivated,
    since they may still hold cases). Returns the new registry version."""
    for document, items, names in _PLACES:
        _upsert(document, getattr(registry, items)(), names)
    workload_store.sync_roster(registry)
    for document, items, _ in _PLACES:
        document.objects(id__nin=[item.code for item in getattr(registry, items)()]).delete()
    RegistryState.objects(id=STATE_ID).update_one(
        upsert=True, inc__version=1, set__source=source, set__changed_at=utcnow()
    )
    return registry_version()


def registry_version() -> int:
    state = RegistryState.objects(id=STATE_ID).first()
    return state.version if state else 0


def stored_dict() -> dict[str, Any]:
    """The stored registry in the YAML file's shape (removed cadres left out)."""
    cadres: dict[str, list[dict[str, Any]]] = {}
    known_units = {u.id for u in UnitDoc.objects.only("id")}
    for c in CadreSlot.objects.order_by("position"):
        if c.unit in known_units:
            cadres.setdefault(c.unit, []).append(
                {"id": c.id, "name": c.name, "role": c.role, "capacity": c.capacity, "active": c.active}
            )
    return {
        "jurisdictions": [
            {"code": j.id, "name": j.name, "level": j.level, "parent": j.parent, "leaders": list(j.leaders)}
            for j in JurisdictionDoc.objects.order_by("position")
        ],
        "employers": [
            {"code": e.id, "name": e.name, "jurisdiction": e.jurisdiction, "leaders": list(e.leaders)}
            for e in EmployerDoc.objects.order_by("position")
        ],
        "units": [
            {
                "code": u.id,
                "name": u.name,
                "jurisdiction": u.jurisdiction,
                "kind": u.kind,
                "serves_employer": u.serves_employer,
                "cadres": cadres.get(u.id, []),
            }
            for u in UnitDoc.objects.order_by("position")
        ],
    }


def stored_registry() -> Registry:
    """The stored registry, validated again (names are already normalised, which is idempotent)."""
    return registry_from_dict(stored_dict(), "stored registry")


def ensure_registry(path: str) -> bool:
    """Load the registry file when the database holds none; True if it was loaded.

    A bad file raises RegistryError naming the file, line and reason.
    """
    if registry_version() > 0:
        return False
    save_registry(load_registry(path), source=path)
    return True


def replace_part(kind: str, key: str, item: dict[str, Any]) -> Registry:
    """The stored registry with one jurisdiction, employer, unit or cadre added or replaced,
    validated by the same rules as a file (RegistryError names the path)."""
    data = stored_dict()
    if kind == "cadres":
        unit = item.get("unit")
        body = {k: v for k, v in item.items() if k != "unit"}
        body["id"] = key
        for u in data["units"]:
            u["cadres"] = [c for c in u["cadres"] if c["id"] != key]
        target = next((u for u in data["units"] if u["code"] == unit), None)
        if target is None:
            raise RegistryError(f"registry: cadres.{key}.unit: unknown unit {unit!r}")
        target["cadres"].append(body)
    else:
        field = "code"
        entry = {**item, field: key}
        existing = next((x for x in data[kind] if x[field] == key), None)
        if kind == "units":
            entry["cadres"] = existing["cadres"] if existing else []
        if existing is not None:
            data[kind][data[kind].index(existing)] = entry
        else:
            data[kind].append(entry)
    return registry_from_dict(data, "registry")


class RegistryCache:
    """The stored registry, reloaded when its version changes (checked every `refresh_s`)."""

    def __init__(self, refresh_s: float = 2.0) -> None:
        self.refresh_s = refresh_s
        self._registry: Registry | None = None
        self._version = -1
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> Registry:
        now = time.monotonic()
        if self._registry is not None and now - self._checked < self.refresh_s:
            return self._registry
        with self._lock:
            version = registry_version()
            if self._registry is None or version != self._version:
                self._registry = stored_registry()
                self._version = version
            self._checked = now
            return self._registry

    def invalidate(self) -> None:
        self._checked = 0.0


def registry_dict(registry: Registry) -> dict[str, Any]:
    return registry_to_dict(registry)
