"""Small registries written as YAML for tests: one city, one district, one town."""

from __future__ import annotations


def small_registry_yaml(
    town_capacities: list[int], leaders: int = 1, district_capacity: int = 5, city_capacity: int = 5
) -> str:
    """A registry whose town unit `foshan/d1/t1#commission` has one cadre per capacity given
    (the first `leaders` are leaders), with a district and a city commission above it."""
    cadres = "\n".join(
        f"      - {{id: t-{i + 1:03d}, name: 干部{i + 1}, role: {'leader' if i < leaders else 'handler'}, "
        f"capacity: {cap}}}"
        for i, cap in enumerate(town_capacities)
    )
    return f"""
jurisdictions:
  - {{code: foshan, name: 佛山市, level: city, parent: null, leaders: [市领导]}}
  - {{code: foshan/d1, name: 一区, level: district, parent: foshan, leaders: [区领导]}}
  - {{code: foshan/d1/t1, name: 一街, level: town, parent: foshan/d1, leaders: [街领导]}}
employers:
  - {{code: foshan/d1/bureau, name: 一区城管局, jurisdiction: foshan/d1}}
units:
  - code: foshan#commission
    name: 市纪委
    jurisdiction: foshan
    kind: commission
    cadres:
      - {{id: city-1, name: 市干部一, role: leader, capacity: {city_capacity}}}
      - {{id: city-2, name: 市干部二, role: handler, capacity: {city_capacity}}}
  - code: foshan/d1#commission
    name: 区纪委
    jurisdiction: foshan/d1
    kind: commission
    cadres:
      - {{id: d1-1, name: 区干部一, role: leader, capacity: {district_capacity}}}
      - {{id: d1-2, name: 区干部二, role: handler, capacity: {district_capacity}}}
  - code: foshan/d1/bureau#embedded
    name: 派驻组
    jurisdiction: foshan/d1
    kind: embedded_group
    serves_employer: foshan/d1/bureau
    cadres:
      - {{id: e1-1, name: 派驻干部, role: leader, capacity: {district_capacity}}}
  - code: foshan/d1/t1#commission
    name: 街纪工委
    jurisdiction: foshan/d1/t1
    kind: commission
    cadres:
{cadres}
"""
