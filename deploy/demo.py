"""`DEMO_DATA=seed make run`: a demo set from the seed (../shared/seeds/), loaded through the
public APIs of the running services, so a newcomer sees every page filled:

- Nanhai's city-management bureau hands out 1,000 supervision cards at shops; 15 opinions come
  back through the cards, 2 of them end in reminder talks (提醒谈话);
- Shiwan's integrity observer 阿文 (a merchant) passes on what 王某 said about the inspector 许某,
  who took 4,645 CNY in cigarettes and red envelopes: admonition talk, restitution, moved off the
  front line;
- the assistant 卢某某 who steered 17 firms to his wife's and brother's environmental services,
  and a colleague in another street linked to one of those firms: a network, handled jointly;
- a supervision recommendation (监察建议) to Chancheng's city-management bureau.

Loaded once: a second run finds the card batch labelled DEMO_LABEL and stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import requests

DEMO_LABEL = "seed-demo"
NANHAI_UM = "foshan/nanhai/urban-management"
CHANCHENG_UM = "foshan/chancheng/urban-management"
CHANCHENG_TRAFFIC = "foshan/chancheng/traffic"
OPINIONS = [
    ("obstruction", "在商铺检查时故意拖延办理，让店主多跑了三趟"),
    ("solicitation", "执法人员暗示店主请吃饭"),
    ("selective_enforcement", "同一条街只查我们几家，隔壁占道经营不管"),
    ("passive_enforcement", "多次反映渣土车夜间偷倒，一直没人来"),
    ("other", "执法态度粗暴，说话难听"),
    ("obstruction", "办理临时占道许可时被要求补交无关材料"),
    ("solicitation", "检查后收走了店里两条香烟"),
    ("other", "执法时未出示证件"),
    ("tip_off", "每次检查前总有几家店提前关门，怀疑有人通风报信"),
    ("selective_enforcement", "罚款标准前后不一"),
    ("other", "建议公开投诉电话"),
    ("passive_enforcement", "工地围挡破损多日无人督促整改"),
    ("obstruction", "窗口工作人员中午提前离岗"),
    ("other", "感谢执法队员耐心讲解政策"),
    ("solicitation", "有人以执法检查名义推销消防器材"),
]
FIRMS = [
    f"佛山市{name}环保科技有限公司"
    for name in (
        "绿源",
        "清风",
        "碧水",
        "蓝天",
        "恒洁",
        "净美",
        "德润",
        "嘉禾",
        "宏图",
        "信达",
        "安泰",
        "盛发",
        "永利",
        "华盈",
        "锦程",
        "汇丰源",
        "鑫达",
    )
]


class Demo:
    """The running services and their demo keys (var/dev-credentials.json)."""

    def __init__(self, urls: dict[str, str], credentials: dict[str, Any], say: Callable[[str], None]) -> None:
        self.urls, self.credentials, self.say = urls, credentials, say
        self.http = requests.Session()

    def call(self, method: str, service: str, path: str, key: str | None = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        resp = self.http.request(method, self.urls[service] + path, headers=headers, timeout=30, **kw)
        if resp.status_code >= 400:
            raise RuntimeError(f"demo: {method} {path} answered {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def supervisor(self, scope: str) -> str:
        return self.credentials["supervisor"][scope]

    def case_of(self, clue_id: str, scope: str = "foshan", timeout: float = 120) -> dict[str, Any]:
        """The case holding the clue, once assignment made it (assigned to a cadre)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cursor = ""
            while True:
                page = self.call("GET", "assignment", f"/v1/cases?limit=500{cursor}", self.supervisor(scope))
                for case in page["items"]:
                    if clue_id in (case["clue_id"], *case["linked_clue_ids"]) and case["cadre_id"]:
                        return case
                if not page["next"]:
                    break
                cursor = f"&cursor={page['next']}"
            time.sleep(0.5)
        raise RuntimeError(f"demo: no assigned case for clue {clue_id} within {timeout} s")

    def close(self, case: dict[str, Any], disposition: str, outcomes: list[str], summary: str) -> None:
        key = self.credentials["cadre"][case["cadre_id"]]
        self.call(
            "POST",
            "assignment",
            f"/v1/cases/{case['case_id']}/close",
            key,
            json={"disposition": disposition, "outcomes": outcomes, "reporter_summary": summary},
        )


def loaded_before(demo: Demo) -> bool:
    batches = demo.call("GET", "intake", "/v1/card-batches", demo.supervisor("foshan/nanhai"))["items"]
    return any(b["label"] == DEMO_LABEL for b in batches)


def supervision_cards(demo: Demo) -> None:
    batch = demo.call(
        "POST",
        "intake",
        "/v1/card-batches",
        demo.supervisor("foshan/nanhai"),
        json={"bureau": NANHAI_UM, "place_kind": "shop", "count": 1000, "label": DEMO_LABEL},
    )
    cards = demo.call(
        "GET", "intake", f"/v1/card-batches/{batch['batch_id']}", demo.supervisor("foshan/nanhai")
    )["cards"]
    clue_ids = []
    for (category, summary), card in zip(OPINIONS, cards[::60], strict=False):
        posted = demo.call(
            "POST",
            "intake",
            f"/v1/cards/{card['code']}/feedback",
            json={"category": category, "summary": summary, "reporter": {"anonymous": True}},
        )
        clue_ids.append(posted["clue_id"])
    for clue_id in clue_ids[1:3]:
        demo.close(
            demo.case_of(clue_id, "foshan/nanhai"),
            "talk_inquiry",
            ["reminder_talk"],
            "经核查，已对相关执法人员进行提醒谈话。",
        )
    demo.say(
        f"demo: 1,000 supervision cards, 15 opinions, 2 reminder talks; sheet at "
        f"{demo.urls['intake']}{batch['sheet_url']}"
    )


def integrity_observer(demo: Demo) -> None:
    observer = demo.call(
        "POST",
        "intake",
        "/v1/observers",
        demo.supervisor("foshan/chancheng"),
        json={
            "town": "foshan/chancheng/shiwan",
            "background": "merchant",
            "liaison_cadre_id": "c-shiwan-1",
            "identity": {"name": "阿文", "notes": "忠信路商户"},
        },
    )
    report = demo.call(
        "POST",
        "intake",
        "/v1/observer-reports",
        observer["observer_key"],
        json={
            "category": "solicitation",
            "summary": "城管执法队员许某为店铺违建、占道经营提供帮助，索取香烟、红包",
            "details": "忠信路商家王某反映，许某在执法过程中经常利用职务之便为店铺违建、占道经营提供帮助，"
            "并索取、收受香烟、红包等财物。",
            "subject": {
                "name": "许某",
                "position": "城管执法队员",
                "employer": CHANCHENG_UM,
                "rank": "staff",
                "party_member": True,
            },
            "amount_cny": 4645,
            "occurred_on": "2019-12-01",
        },
    )
    demo.close(
        demo.case_of(report["clue_id"], "foshan/chancheng"),
        "preliminary_verification",
        ["admonition_talk", "restitution", "reassigned"],
        "经调查核实，反映情况属实。已对相关人员诫勉谈话，责令退还财物，并调离一线执法岗位。",
    )
    demo.say(
        "demo: Shiwan's integrity observer reported 许某 (4,645 CNY): "
        "admonition talk, restitution, reassigned"
    )


def seventeen_firms(demo: Demo) -> None:
    key = demo.credentials["frontline"]["foshan/chancheng/zhangcha/contact"]
    demo.call(
        "POST",
        "intake",
        "/v1/clues",
        key,
        json={
            "source": "inspection",
            "category": "business_steering",
            "summary": "协管员卢某某利用协助环境巡查的便利，为妻子、哥哥向辖区企业推介环保业务，"
            "承接服务企业17家",
            "jurisdiction": "foshan/chancheng/zhangcha",
            "reporter": {"anonymous": True},
            "subject": {
                "name": "卢某某",
                "position": "协管员",
                "employer": CHANCHENG_TRAFFIC,
                "rank": "staff",
            },
            "parties": [
                *({"kind": "firm", "name": f} for f in FIRMS),
                {"kind": "relative", "name": "卢某某之妻"},
                {"kind": "relative", "name": "卢某某之兄"},
            ],
        },
    )
    key = demo.credentials["frontline"]["foshan/chancheng/zumiao/contact"]
    demo.call(
        "POST",
        "intake",
        "/v1/clues",
        key,
        json={
            "source": "public_report",
            "category": "shielding",
            "summary": "环境执法人员对绿源环保服务的企业检查时网开一面",
            "jurisdiction": "foshan/chancheng/zumiao",
            "reporter": {"anonymous": True},
            "subject": {
                "name": "梁某",
                "position": "环境执法辅助人员",
                "employer": "foshan/chancheng/environment",
                "rank": "staff",
            },
            "parties": [
                {"kind": "firm", "name": FIRMS[0]},
                {"kind": "intermediary", "name": "佛山某环评咨询中介"},
            ],
        },
    )
    demo.say(
        "demo: the assistant who steered 17 firms to his wife and brother, and a colleague linked to one of "
        "the firms: a network handled jointly by Chancheng's commission"
    )


def recommendation(demo: Demo) -> None:
    today = date.today()
    demo.call(
        "POST",
        "assignment",
        "/v1/recommendations",
        demo.supervisor("foshan/chancheng"),
        json={
            "bureau": CHANCHENG_UM,
            "kind": "supervision",
            "due_on": (today + timedelta(days=30)).isoformat(),
            "text": "针对石湾镇街道分局执法人员收受商户财物问题，建议加强一线执法人员廉政教育，"
            "建立执法全过程记录和轮岗交流制度，30日内书面报告整改情况。",
        },
    )
    demo.say("demo: a supervision recommendation to Chancheng's city-management bureau")


def load(urls: dict[str, str], credentials: dict[str, Any], say: Callable[[str], None]) -> None:
    """Load the seed's demo set through the public APIs (once)."""
    demo = Demo(urls, credentials, say)
    if loaded_before(demo):
        say("demo: the seed's demo set is loaded already")
        return
    seventeen_firms(demo)
    integrity_observer(demo)
    supervision_cards(demo)
    recommendation(demo)
