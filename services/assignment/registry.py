"""The registry: jurisdictions, employers (bureaus), handling units and cadres.

Plain data, loaded from YAML (deploy/registry/*.yaml) or from the dict the service stores by
registry_file.py. Code conventions, checked on load:

- a jurisdiction code is a path: ``foshan``, ``foshan/chancheng``, ``foshan/chancheng/shiwan``;
- an employer code is its jurisdiction's code plus a slug: ``foshan/nanhai/urban-management``;
- a commission unit is ``<jurisdiction code>#commission``, an embedded group is
  ``<employer code>#embedded``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

LEVELS: tuple[str, ...] = ("town", "district", "city")
"""Jurisdiction levels from lowest to highest; LEVELS.index() compares them."""
UNIT_KINDS: tuple[str, ...] = ("commission", "embedded_group")
CADRE_ROLES: tuple[str, ...] = ("handler", "leader")
PARENT_LEVEL = {"city": None, "district": "city", "town": "district"}


class RegistryError(ValueError):
    """A registry file or dict is invalid; the message is one line, `<source>:<line>: <reason>`."""


def normalise_name(name: str) -> str:
    """The comparable form of a person's name: NFKC, trimmed, spaces collapsed, casefolded."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    name: str
    level: str
    parent: str | None
    leaders: tuple[str, ...] = ()  # normalised names of the jurisdiction's leaders


@dataclass(frozen=True)
class Employer:
    """A bureau whose staff may be subjects of clues."""

    code: str
    name: str
    jurisdiction: str
    leaders: tuple[str, ...] = ()  # normalised names of the bureau's leaders


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    jurisdiction: str
    kind: str
    serves_employer: str | None = None


@dataclass(frozen=True)
class Cadre:
    id: str
    name: str
    unit: str
    role: str
    capacity: int
    active: bool = True


class Registry:
    """Read-only lookups over a validated set of jurisdictions, employers, units and cadres."""

    def __init__(
        self,
        jurisdictions: Iterable[Jurisdiction],
        employers: Iterable[Employer],
        units: Iterable[Unit],
        cadres: Iterable[Cadre],
    ) -> None:
        self._jurisdictions = {j.code: j for j in jurisdictions}
        self._employers = {e.code: e for e in employers}
        self._units = {u.code: u for u in units}
        self._cadres = {c.id: c for c in cadres}
        self._commission = {
            u.jurisdiction: u.code for u in self._units.values() if u.kind == "commission"
        }
        self._embedded = {
            (u.serves_employer, u.jurisdiction): u.code
            for u in self._units.values()
            if u.kind == "embedded_group"
        }

    # plain lookups
    def jurisdiction(self, code: str) -> Jurisdiction | None:
        return self._jurisdictions.get(code)

    def employer(self, code: str) -> Employer | None:
        return self._employers.get(code)

    def unit(self, code: str) -> Unit | None:
        return self._units.get(code)

    def cadre(self, cadre_id: str) -> Cadre | None:
        return self._cadres.get(cadre_id)

    def jurisdictions(self) -> tuple[Jurisdiction, ...]:
        return tuple(self._jurisdictions.values())

    def employers(self) -> tuple[Employer, ...]:
        return tuple(self._employers.values())

    def units(self) -> tuple[Unit, ...]:
        return tuple(self._units.values())

    def cadres(self) -> tuple[Cadre, ...]:
        return tuple(self._cadres.values())

    # the tree
    def unit_for_jurisdiction(self, code: str) -> str | None:
        """The code of the jurisdiction's commission unit (属地), or None if unknown."""
        return self._commission.get(code)

    def embedded_group_for(self, employer_code: str, district_code: str) -> str | None:
        """The code of the embedded group serving that employer at that district (归口), or None."""
        return self._embedded.get((employer_code, district_code))

    def city_unit(self) -> str:
        """The code of the city commission unit (also the triage queue)."""
        for j in self._jurisdictions.values():
            if j.level == "city" and j.code in self._commission:
                return self._commission[j.code]
        raise RegistryError("registry: no city commission unit")

    def level_of(self, unit_code: str) -> str:
        """The level (town/district/city) of the unit's jurisdiction; KeyError if unknown."""
        return self._jurisdictions[self._units[unit_code].jurisdiction].level

    def parent_unit(self, unit_code: str) -> str | None:
        """The commission of the next level up from the unit's level; None at city.

        A town commission's parent is its district's commission; a district commission's or a
        district embedded group's parent is the city commission.
        """
        unit = self._units[unit_code]
        jurisdiction = self._jurisdictions[unit.jurisdiction]
        if jurisdiction.parent is None:
            return None
        return self._commission.get(jurisdiction.parent)

    def ancestor_at(self, code: str, level: str) -> str | None:
        """The jurisdiction at `level` that contains (or is) `code`; None if there is none."""
        current = self._jurisdictions.get(code)
        while current is not None:
            if current.level == level:
                return current.code
            current = self._jurisdictions.get(current.parent) if current.parent else None
        return None

    def district_of(self, jurisdiction_code: str) -> str | None:
        """The district containing (or being) the jurisdiction; None for the city or unknown."""
        return self.ancestor_at(jurisdiction_code, "district")

    def is_within(self, code: str, ancestor_code: str) -> bool:
        """True if the jurisdiction (or the unit's jurisdiction) is `ancestor_code` or below it."""
        if code in self._units:
            code = self._units[code].jurisdiction
        if ancestor_code in self._units:
            ancestor_code = self._units[ancestor_code].jurisdiction
        current = self._jurisdictions.get(code)
        while current is not None:
            if current.code == ancestor_code:
                return True
            current = self._jurisdictions.get(current.parent) if current.parent else None
        return False

    def units_within(self, jurisdiction_code: str) -> tuple[str, ...]:
        """Codes of all units whose jurisdiction is `jurisdiction_code` or below it."""
        return tuple(u for u in self._units if self.is_within(u, jurisdiction_code))

    def cadres_of(self, unit_code: str) -> tuple[Cadre, ...]:
        """All cadres of the unit (handlers and leaders, active or not), in registry order."""
        return tuple(c for c in self._cadres.values() if c.unit == unit_code)
