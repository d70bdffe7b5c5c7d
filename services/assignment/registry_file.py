"""The registry file: parse the YAML (deploy/registry/*.yaml) or the stored dict into a `Registry`,
checking every convention of registry.py on the way, and turn a `Registry` back into that dict.
Every problem is a `RegistryError` of one line naming the source and the line (or the path)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .registry import (
    CADRE_ROLES,
    LEVELS,
    PARENT_LEVEL,
    UNIT_KINDS,
    Cadre,
    Employer,
    Jurisdiction,
    Registry,
    RegistryError,
    Unit,
    normalise_name,
)

_Path = tuple[Any, ...]

_TOP_KEYS = {"jurisdictions": True, "employers": False, "units": True}
# field -> (required, kind); kinds: str, opt_str, level, kind, role, names, capacity, bool, cadres
_JURISDICTION_FIELDS = {
    "code": (True, "str"),
    "name": (True, "str"),
    "level": (True, "level"),
    "parent": (False, "opt_str"),
    "leaders": (False, "names"),
}
_EMPLOYER_FIELDS = {
    "code": (True, "str"),
    "name": (True, "str"),
    "jurisdiction": (True, "str"),
    "leaders": (False, "names"),
}
_UNIT_FIELDS = {
    "code": (True, "str"),
    "name": (True, "str"),
    "jurisdiction": (True, "str"),
    "kind": (True, "kind"),
    "serves_employer": (False, "opt_str"),
    "cadres": (False, "cadres"),
}
_CADRE_FIELDS = {
    "id": (True, "str"),
    "name": (True, "str"),
    "role": (True, "role"),
    "capacity": (True, "capacity"),
    "active": (False, "bool"),
}
_ENUMS = {"level": LEVELS, "kind": UNIT_KINDS, "role": CADRE_ROLES}


class _Checker:
    """Validates registry data, naming the source line (or the path) of the first problem."""

    def __init__(self, source: str, lines: Mapping[_Path, int] | None = None) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: _Path, reason: str) -> RegistryError:
        if self.lines is not None:
            for cut in range(len(path), -1, -1):
                if path[:cut] in self.lines:
                    return RegistryError(f"{self.source}:{self.lines[path[:cut]]}: {reason}")
            return RegistryError(f"{self.source}:1: {reason}")
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        return RegistryError(f"{self.source}: {where or 'top'}: {reason}")

    def record(self, value: Any, path: _Path, fields: Mapping[str, tuple[bool, str]], what: str):
        if not isinstance(value, Mapping):
            raise self.fail(path, f"{what} must be a mapping")
        for key in value:
            if key not in fields:
                raise self.fail(path + (key,), f"unknown key {key!r} in {what}")
        out: dict[str, Any] = {}
        for key, (required, kind) in fields.items():
            if key not in value:
                if required:
                    raise self.fail(path, f"{what} is missing {key!r}")
                continue
            out[key] = self.field(value[key], path + (key,), key, kind)
        return out

    def field(self, value: Any, path: _Path, key: str, kind: str) -> Any:
        if kind == "opt_str" and value is None:
            return None
        if kind in ("str", "opt_str", "level", "kind", "role"):
            if not isinstance(value, str) or not value.strip():
                raise self.fail(path, f"{key!r} must be a non-empty string")
            if kind in _ENUMS and value not in _ENUMS[kind]:
                allowed = ", ".join(_ENUMS[kind])
                raise self.fail(path, f"{key!r} is {value!r}, expected one of: {allowed}")
            return value
        if kind == "capacity":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise self.fail(path, f"'capacity' must be a positive integer, got {value!r}")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(path, f"{key!r} must be true or false")
            return value
        if kind == "names":
            if not isinstance(value, list) or not all(isinstance(n, str) and n for n in value):
                raise self.fail(path, f"{key!r} must be a list of names")
            return tuple(normalise_name(n) for n in value)
        if kind == "cadres":
            if not isinstance(value, list):
                raise self.fail(path, "'cadres' must be a list")
            return value
        raise AssertionError(kind)

    def items(self, data: Mapping[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail((key,), f"{key!r} must be a list")
        return value

    def build(self, data: Any) -> Registry:
        if not isinstance(data, Mapping):
            raise self.fail((), "the registry must be a mapping")
        for key in data:
            if key not in _TOP_KEYS:
                raise self.fail((key,), f"unknown top-level key {key!r}")
        for key, required in _TOP_KEYS.items():
            if required and key not in data:
                raise self.fail((), f"missing top-level key {key!r}")
        jurisdictions = self.jurisdictions(self.items(data, "jurisdictions"))
        employers = self.employers(self.items(data, "employers"), jurisdictions)
        units, cadres = self.units(self.items(data, "units"), jurisdictions, employers)
        return Registry(jurisdictions.values(), employers.values(), units.values(), cadres)

    def jurisdictions(self, raw: list[Any]) -> dict[str, Jurisdiction]:
        found: dict[str, tuple[Jurisdiction, _Path]] = {}
        for i, item in enumerate(raw):
            path = ("jurisdictions", i)
            rec = self.record(item, path, _JURISDICTION_FIELDS, "jurisdiction")
            if rec["code"] in found:
                raise self.fail(path + ("code",), f"duplicate jurisdiction code {rec['code']!r}")
            found[rec["code"]] = (Jurisdiction(**{"parent": None, **rec}), path)
        cities = [j for j, _ in found.values() if j.level == "city"]
        if len(cities) != 1:
            raise self.fail(("jurisdictions",), f"expected one city, found {len(cities)}")
        for j, path in found.values():
            expected = PARENT_LEVEL[j.level]
            if expected is None:
                if j.parent is not None:
                    raise self.fail(path + ("parent",), "a city has no parent")
                continue
            if j.parent is None:
                raise self.fail(path, f"{j.level} {j.code!r} needs a parent")
            if j.parent not in found:
                raise self.fail(path + ("parent",), f"parent {j.parent!r} does not exist")
            if found[j.parent][0].level != expected:
                raise self.fail(
                    path + ("parent",), f"the parent of a {j.level} must be a {expected}"
                )
            if not _is_child_code(j.code, j.parent):
                raise self.fail(path + ("code",), f"code {j.code!r} must be {j.parent!r}/<name>")
        return {code: j for code, (j, _) in found.items()}

    def employers(self, raw: list[Any], jurisdictions: Mapping[str, Jurisdiction]):
        found: dict[str, Employer] = {}
        for i, item in enumerate(raw):
            path = ("employers", i)
            rec = self.record(item, path, _EMPLOYER_FIELDS, "employer")
            if rec["code"] in found or rec["code"] in jurisdictions:
                raise self.fail(path + ("code",), f"duplicate code {rec['code']!r}")
            if rec["jurisdiction"] not in jurisdictions:
                raise self.fail(
                    path + ("jurisdiction",), f"unknown jurisdiction {rec['jurisdiction']!r}"
                )
            if not _is_child_code(rec["code"], rec["jurisdiction"]):
                raise self.fail(
                    path + ("code",), f"code {rec['code']!r} must be {rec['jurisdiction']!r}/<name>"
                )
            found[rec["code"]] = Employer(**rec)
        return found

    def units(
        self,
        raw: list[Any],
        jurisdictions: Mapping[str, Jurisdiction],
        employers: Mapping[str, Employer],
    ) -> tuple[dict[str, Unit], list[Cadre]]:
        units: dict[str, Unit] = {}
        cadres: dict[str, Cadre] = {}
        commissions: set[str] = set()
        served: set[str] = set()
        for i, item in enumerate(raw):
            path = ("units", i)
            rec = self.record(item, path, _UNIT_FIELDS, "unit")
            raw_cadres = rec.pop("cadres", [])
            code, jcode = rec["code"], rec["jurisdiction"]
            if code in units:
                raise self.fail(path + ("code",), f"duplicate unit code {code!r}")
            if jcode not in jurisdictions:
                raise self.fail(path + ("jurisdiction",), f"unknown jurisdiction {jcode!r}")
            self._unit_place(rec, path, jurisdictions, employers, commissions, served)
            units[code] = Unit(**{"serves_employer": None, **rec})
            for k, cadre_item in enumerate(raw_cadres):
                cpath = path + ("cadres", k)
                crec = self.record(cadre_item, cpath, _CADRE_FIELDS, "cadre")
                if crec["id"] in cadres:
                    raise self.fail(cpath + ("id",), f"duplicate cadre id {crec['id']!r}")
                cadres[crec["id"]] = Cadre(unit=code, **crec)
        for index, jcode in enumerate(jurisdictions):
            if jcode not in commissions:
                raise self.fail(
                    ("jurisdictions", index), f"jurisdiction {jcode!r} has no commission unit"
                )
        return units, list(cadres.values())


    def _unit_place(self, rec: dict[str, Any], path: _Path, jurisdictions: Mapping[str, Jurisdiction],
                    employers: Mapping[str, Employer], commissions: set[str], served: set[str]) -> None:
        """A commission: one per jurisdiction, coded `<jurisdiction>#commission`. An embedded group:
        one per employer, at a district, coded `<employer>#embedded`. Noted in `commissions` or
        `served`."""
        code, jcode, employer = rec["code"], rec["jurisdiction"], rec.get("serves_employer")
        if rec["kind"] == "commission":
            if employer is not None:
                raise self.fail(path + ("serves_employer",), "a commission serves no employer")
            if jcode in commissions:
                raise self.fail(path + ("jurisdiction",), f"second commission for {jcode!r}")
            if code != f"{jcode}#commission":
                raise self.fail(path + ("code",), f"a commission's code must be {jcode}#commission")
            commissions.add(jcode)
            return
        if employer is None:
            raise self.fail(path, "an embedded group needs 'serves_employer'")
        if employer not in employers:
            raise self.fail(path + ("serves_employer",), f"unknown employer {employer!r}")
        if employers[employer].jurisdiction != jcode:
            raise self.fail(path + ("jurisdiction",), f"employer {employer!r} is not at {jcode!r}")
        if employer in served:
            raise self.fail(path + ("serves_employer",), f"second group for {employer!r}")
        if jurisdictions[jcode].level != "district":
            raise self.fail(path + ("jurisdiction",), "embedded groups sit at a district")
        if code != f"{employer}#embedded":
            raise self.fail(path + ("code",), f"an embedded group's code must be {employer}#embedded")
        served.add(employer)


def _is_child_code(code: str, parent: str) -> bool:
    prefix = parent + "/"
    return code.startswith(prefix) and len(code) > len(prefix) and "/" not in code[len(prefix) :]


def _plain(
    node: yaml.Node, loader: yaml.SafeLoader, path: _Path, lines: dict[_Path, int], source: str
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
        lines: dict[_Path, int] = {}
        data = _plain(node, loader, (), lines, filename)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RegistryError(f"{filename}:{line}: invalid YAML: {problem}") from None
    finally:
        loader.dispose()
    return _Checker(filename, lines).build(data)


def load_registry(path: str | Path) -> Registry:
    """Load and validate a registry YAML file."""
    p = Path(path)
    return parse_registry(p.read_text(encoding="utf-8"), str(p))


def registry_from_dict(data: Mapping[str, Any], source: str = "registry") -> Registry:
    """Validate a registry dict (the shape of the YAML file); errors name the path, not a line."""
    return _Checker(source).build(data)


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
