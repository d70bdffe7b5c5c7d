"""The registry: jurisdictions, employers (bureaus), handling units and cadres.

Plain data loaded from YAML (deploy/registry/*.yaml) or from the dict the service stores.
The model and its lookups live in registry_model, the validation in registry_check; this module
parses YAML (keeping line numbers for errors), converts to and from plain dicts, and re-exports
the model so callers import everything from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .registry_check import Checker, DataPath
from .registry_model import (
    CADRE_ROLES,
    LEVELS,
    UNIT_KINDS,
    Cadre,
    Employer,
    Jurisdiction,
    Registry,
    RegistryError,
    Unit,
    normalise_name,
)

__all__ = [
    "CADRE_ROLES",
    "LEVELS",
    "UNIT_KINDS",
    "Cadre",
    "Employer",
    "Jurisdiction",
    "Registry",
    "RegistryError",
    "Unit",
    "load_registry",
    "normalise_name",
    "parse_registry",
    "registry_from_dict",
    "registry_to_dict",
]


def _plain(
    node: yaml.Node, loader: yaml.SafeLoader, path: DataPath, lines: dict[DataPath, int], source: str
) -> Any:
    """Turn a composed YAML node into plain Python, recording each path's line number."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise RegistryError(
                    f"{source}:{key_node.start_mark.line + 1}: keys must be strings"
                )
            if key in out:
                raise RegistryError(
                    f"{source}:{key_node.start_mark.line + 1}: duplicate key {key!r}"
                )
            out[key] = _plain(value_node, loader, path + (key,), lines, source)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(n, loader, path + (i,), lines, source) for i, n in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_registry(text: str, filename: str = "<registry>") -> Registry:
    """Parse registry YAML; any problem raises RegistryError naming `filename` and the line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RegistryError(f"{filename}:1: the registry is empty")
        lines: dict[DataPath, int] = {}
        data = _plain(node, loader, (), lines, filename)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RegistryError(f"{filename}:{line}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    return Checker(filename, lines).build(data)


def load_registry(path: str | Path) -> Registry:
    """Load and validate a registry YAML file."""
    p = Path(path)
    return parse_registry(p.read_text(encoding="utf-8"), str(p))


def registry_from_dict(data: Mapping[str, Any], source: str = "registry") -> Registry:
    """Validate a registry dict (the shape of the YAML file); errors name the path, not a line."""
    return Checker(source).build(data)


def registry_to_dict(registry: Registry) -> dict[str, Any]:
    """The registry as plain data in the YAML file's shape; registry_from_dict reverses it."""
    return {
        "jurisdictions": [
            {
                "code": j.code,
                "name": j.name,
                "level": j.level,
                "parent": j.parent,
                "leaders": list(j.leaders),
            }
            for j in registry.jurisdictions()
        ],
        "employers": [
            {
                "code": e.code,
                "name": e.name,
                "jurisdiction": e.jurisdiction,
                "leaders": list(e.leaders),
            }
            for e in registry.employers()
        ],
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "jurisdiction": u.jurisdiction,
                "kind": u.kind,
                "serves_employer": u.serves_employer,
                "cadres": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "role": c.role,
                        "capacity": c.capacity,
                        "active": c.active,
                    }
                    for c in registry.cadres_of(u.code)
                ],
            }
            for u in registry.units()
        ],
    }
