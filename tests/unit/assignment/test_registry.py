import textwrap

import pytest

from services.assignment.registry import RegistryError
from services.assignment.registry_file import parse_registry, registry_from_dict, registry_to_dict

from .conftest import FOSHAN

GOOD = """\
jurisdictions:
  - {code: foshan, name: 佛山市, level: city, parent: null, leaders: [" 李  国华 "]}
  - {code: foshan/chancheng, name: 禅城区, level: district, parent: foshan}
  - {code: foshan/chancheng/shiwan, name: 石湾镇街道, level: town, parent: foshan/chancheng}
employers:
  - {code: foshan/chancheng/urban-management, name: 城管局, jurisdiction: foshan/chancheng}
units:
  - code: foshan#commission
    name: 佛山市纪委监委
    jurisdiction: foshan
    kind: commission
    cadres:
      - {id: c-foshan-1, name: 陈志强, role: leader, capacity: 8}
  - code: foshan/chancheng#commission
    name: 禅城区纪委监委
    jurisdiction: foshan/chancheng
    kind: commission
  - code: foshan/chancheng/urban-management#embedded
    name: 派驻城管局纪检监察组
    jurisdiction: foshan/chancheng
    kind: embedded_group
    serves_employer: foshan/chancheng/urban-management
  - code: foshan/chancheng/shiwan#commission
    name: 石湾纪工委
    jurisdiction: foshan/chancheng/shiwan
    kind: commission
    cadres:
      - {id: c-shiwan-1, name: 梁家豪, role: leader, capacity: 5}
      - {id: c-shiwan-2, name: 何雪梅, role: handler, capacity: 7, active: false}
"""


def test_good_registry_parses_and_answers_lookups():
    r = parse_registry(GOOD, "good.yaml")
    assert r.jurisdiction("foshan").leaders == ("李 国华",)
    assert r.jurisdiction("nowhere") is None
    assert (
        r.unit_for_jurisdiction("foshan/chancheng/shiwan") == "foshan/chancheng/shiwan#commission"
    )
    assert r.embedded_group_for("foshan/chancheng/urban-management", "foshan/chancheng") == (
        "foshan/chancheng/urban-management#embedded"
    )
    assert r.embedded_group_for("foshan/chancheng/urban-management", "foshan/nanhai") is None
    assert r.parent_unit("foshan/chancheng/shiwan#commission") == "foshan/chancheng#commission"
    assert r.parent_unit("foshan/chancheng/urban-management#embedded") == "foshan#commission"
    assert r.parent_unit("foshan#commission") is None
    assert r.level_of("foshan/chancheng/shiwan#commission") == "town"
    assert r.level_of("foshan/chancheng/urban-management#embedded") == "district"
    assert r.district_of("foshan/chancheng/shiwan") == "foshan/chancheng"
    assert r.district_of("foshan/chancheng") == "foshan/chancheng"
    assert r.district_of("foshan") is None
    assert r.is_within("foshan/chancheng/shiwan", "foshan/chancheng")
    assert r.is_within("foshan/chancheng/shiwan#commission", "foshan")
    assert not r.is_within("foshan/chancheng", "foshan/chancheng/shiwan")
    assert [c.id for c in r.cadres_of("foshan/chancheng/shiwan#commission")] == [
        "c-shiwan-1",
        "c-shiwan-2",
    ]
    assert r.cadre("c-shiwan-2").active is False
    leaders = [c.id for c in r.cadres_of("foshan/chancheng/shiwan#commission") if c.role == "leader"]
    assert leaders == ["c-shiwan-1"]
    assert r.city_unit() == "foshan#commission"
    assert set(r.units_within("foshan/chancheng")) == {
        "foshan/chancheng#commission",
        "foshan/chancheng/urban-management#embedded",
        "foshan/chancheng/shiwan#commission",
    }


def test_dict_round_trip_keeps_everything():
    r = parse_registry(GOOD, "good.yaml")
    data = registry_to_dict(r)
    again = registry_from_dict(data)
    assert registry_to_dict(again) == data
    assert again.cadres() == r.cadres()
    assert again.units() == r.units()


def test_dict_errors_name_the_path():
    data = registry_to_dict(parse_registry(GOOD, "good.yaml"))
    data["units"][3]["cadres"][0]["capacity"] = 0
    with pytest.raises(RegistryError, match=r"^registry: units\[3\]\.cadres\[0\]\.capacity: "):
        registry_from_dict(data)


def _edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


POSITIVE = "'capacity' must be a positive integer"

# Each row: a change to GOOD, the line the error must name, and words from the reason.
ERRORS = [
    (
        "unknown key",
        _edit("kind: commission\n    cadres", "kind: commission\n    colour: red\n    cadres"),
        12,
        "unknown key 'colour'",
    ),
    (
        "missing field",
        _edit("  - {code: foshan/chancheng, name: 禅城区, ", "  - {code: foshan/chancheng, "),
        3,
        "missing 'name'",
    ),
    ("bad level", _edit("level: town", "level: village"), 4, "'level' is 'village'"),
    ("bad kind", _edit("kind: embedded_group", "kind: embedded"), 21, "'kind' is 'embedded'"),
    ("bad role", _edit("role: handler", "role: boss"), 29, "'role' is 'boss'"),
    (
        "duplicate jurisdiction",
        _edit("code: foshan/chancheng/shiwan, name", "code: foshan/chancheng, name"),
        4,
        "duplicate jurisdiction code",
    ),
    (
        "duplicate unit",
        _edit("code: foshan/chancheng/shiwan#commission", "code: foshan/chancheng#commission"),
        23,
        "duplicate unit code",
    ),
    ("duplicate cadre", _edit("id: c-shiwan-2", "id: c-shiwan-1"), 29, "duplicate cadre id"),
    (
        "missing parent",
        _edit("parent: foshan/chancheng}", "parent: foshan/nanhai}"),
        4,
        "parent 'foshan/nanhai' does not exist",
    ),
    (
        "unknown jurisdiction",
        _edit("jurisdiction: foshan/chancheng/shiwan\n", "jurisdiction: foshan/chancheng/lishui\n"),
        25,
        "unknown jurisdiction",
    ),
    ("capacity zero", _edit("capacity: 5", "capacity: 0"), 28, POSITIVE),
    ("capacity text", _edit("capacity: 5", "capacity: five"), 28, POSITIVE),
    ("capacity float", _edit("capacity: 5", "capacity: 2.5"), 28, POSITIVE),
    (
        "no commission",
        _edit(
            "  - code: foshan/chancheng#commission\n    name: 禅城区纪委监委\n"
            "    jurisdiction: foshan/chancheng\n    kind: commission\n",
            "",
        ),
        3,
        "'foshan/chancheng' has no commission unit",
    ),
    (
        "unknown employer",
        _edit(
            "serves_employer: foshan/chancheng/urban-management",
            "serves_employer: foshan/chancheng/traffic",
        ),
        22,
        "unknown employer",
    ),
    (
        "employer on unknown jurisdiction",
        _edit("jurisdiction: foshan/chancheng}", "jurisdiction: foshan/shunde}"),
        6,
        "unknown jurisdiction",
    ),
    (
        "unit code convention",
        _edit("code: foshan/chancheng#commission", "code: chancheng-jw"),
        14,
        "foshan/chancheng#commission",
    ),
    (
        "yaml syntax",
        _edit("kind: commission\n    cadres", "kind: [commission\n    cadres"),
        12,
        "invalid YAML",
    ),
    (
        "duplicate key",
        _edit("kind: commission\n    cadres", "kind: commission\n    kind: commission\n    cadres"),
        12,
        "duplicate key 'kind'",
    ),
]


@pytest.mark.parametrize("label,text,line,reason", ERRORS, ids=[e[0] for e in ERRORS])
def test_registry_errors_name_file_and_line(label, text, line, reason):
    with pytest.raises(RegistryError) as caught:
        parse_registry(text, "deploy/registry/bad.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"deploy/registry/bad.yaml:{line}: "), message
    assert reason in message


def test_foshan_demo_registry_has_the_demo_shape(foshan):
    districts = [j for j in foshan.jurisdictions() if j.level == "district"]
    assert {j.code for j in districts} == {
        "foshan/chancheng",
        "foshan/nanhai",
        "foshan/shunde",
        "foshan/gaoming",
        "foshan/sanshui",
    }
    assert foshan.jurisdiction("foshan/chancheng/shiwan").name.endswith("石湾镇街道")
    for district in districts:
        towns = [j for j in foshan.jurisdictions() if j.parent == district.code]
        assert 2 <= len(towns) <= 3, district.code
    groups = {u.code: u.serves_employer for u in foshan.units() if u.kind == "embedded_group"}
    assert groups == {
        "foshan/nanhai/urban-management#embedded": "foshan/nanhai/urban-management",
        "foshan/gaoming/market-supervision#embedded": "foshan/gaoming/market-supervision",
    }
    for unit in foshan.units():
        cadres = foshan.cadres_of(unit.code)
        assert 3 <= len(cadres) <= 6, unit.code
        assert 1 <= len([c for c in foshan.cadres_of(unit.code) if c.role == "leader"]) <= 2, unit.code
        assert all(5 <= c.capacity <= 20 for c in cadres), unit.code
    for district in districts:
        employers = [e for e in foshan.employers() if e.jurisdiction == district.code]
        assert len(employers) >= 3, district.code


def test_foshan_file_round_trips_through_dict(foshan):
    assert registry_to_dict(registry_from_dict(registry_to_dict(foshan))) == registry_to_dict(
        foshan
    )
    assert FOSHAN.read_text(encoding="utf-8").startswith("# Demo registry")


def test_empty_file_is_an_error():
    with pytest.raises(RegistryError, match=r"^x.yaml:1: "):
        parse_registry(textwrap.dedent(""), "x.yaml")
