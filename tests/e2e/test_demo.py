"""`DEMO_DATA=seed`: the seed's demo set loads through the public APIs and fills every page's data."""

from __future__ import annotations

import pytest

from deploy import demo
from tests.integration.shared.helpers import wait_for

pytestmark = pytest.mark.e2e


def test_the_seed_demo_set_loads_once_and_fills_the_pages(e2e):
    said: list[str] = []
    demo.load(e2e.pipeline.urls, e2e.credentials, said.append)
    assert len(said) == 4
    run = demo.Demo(e2e.pipeline.urls, e2e.credentials, said.append)
    nanhai, chancheng = run.supervisor("foshan/nanhai"), run.supervisor("foshan/chancheng")

    def funnel() -> dict:
        items = run.call("GET", "intake", "/v1/card-batches", nanhai)["items"]
        return next(b["funnel"] for b in items if b["label"] == demo.DEMO_LABEL)

    wait_for(lambda: funnel()["outcomes"].get("reminder_talk") == 2, timeout=60, message="two reminder talks")
    assert (funnel()["issued"], funnel()["opinions"]) == (1000, 15)

    summary = run.call("GET", "intake", "/v1/observers/summary", chancheng)["items"]
    shiwan = next(r for r in summary if r["town"] == "foshan/chancheng/shiwan")
    wait_for(
        lambda: next(
            r
            for r in run.call("GET", "intake", "/v1/observers/summary", chancheng)["items"]
            if r["town"] == "foshan/chancheng/shiwan"
        )["outcomes"].get("admonition_talk"),
        timeout=60,
        message="the observer's report closed",
    )
    assert shiwan["by_background"].get("merchant", 0) >= 1

    def network() -> dict | None:
        items = run.call("GET", "assignment", "/v1/networks", chancheng)["items"]
        return next((n for n in items if {"kind": "firm", "name": demo.FIRMS[5]} in n["parties"]), None)

    joint = wait_for(network, timeout=90, message="the 17 firms' network")
    assert joint["lead_unit"] == "foshan/chancheng#commission" and len(joint["cases"]) == 2
    assert {u["unit"] for u in joint["assisting_units"]} >= {"foshan/chancheng/zhangcha#commission"}

    recs = run.call("GET", "assignment", "/v1/recommendations", chancheng)["items"]
    assert any(r["bureau"] == demo.CHANCHENG_UM and r["status"] == "open" for r in recs)

    demo.load(e2e.pipeline.urls, e2e.credentials, said.append)
    assert said[-1] == "demo: the seed's demo set is loaded already"
