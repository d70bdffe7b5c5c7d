"""Filled-in reporter forms and the steps a reporter takes on the pages (Flask test client)."""

from __future__ import annotations

import re

from tests.integration.intake_pages.html import Page

CODE_PATTERN = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$")

ANONYMOUS = {
    "category": "solicitation",
    "summary": "城管队员向中心路商户索要香烟和红包",
    "details": "连续三个集市日看到。",
    "jurisdiction": "foshan/chancheng/shiwan",
    "occurred_on": "2019-12-01",
    "amount_cny": "4,645",
    "subject.name": "许某",
    "subject.position": "城管执法队员",
    "subject.employer": "foshan/chancheng/urban-management",
    "subject.rank": "staff",
    "subject.party_member": "yes",
    "reporter.anonymous": "yes",
}
NAMED_EMAIL = {**ANONYMOUS, "reporter.anonymous": "no", "reporter.name": "王小明",
               "reporter.channel": "email", "reporter.contact": "wang.xiaoming@example.org"}
NAMED_SMS = {**NAMED_EMAIL, "reporter.channel": "sms", "reporter.contact": "138 1234 5678"}
IDENTITY = ("王小明", "wang.xiaoming", "13812345678", "1234 5678")


def form(base: dict[str, str], **changes: str) -> dict[str, str]:
    """`base` with `changes` (keys with "__" for ".": subject__name)."""
    return {**base, **{k.replace("__", "."): v for k, v in changes.items()}}


def submit(client, fields: dict[str, str], query: str = ""):
    """Open the report form and post `fields` with its CSRF token; the response."""
    token = Page(client.get("/report" + query).get_data(as_text=True)).csrf()
    return client.post("/report" + query, data={**fields, "csrf_token": token})


def receipt_of(resp) -> tuple[str, str]:
    page = Page(resp.get_data(as_text=True))
    return page.by_id("receipt-code").text, page.by_id("receipt-secret").text


def look_up(client, code: str, secret: str):
    token = Page(client.get("/receipt").get_data(as_text=True)).csrf()
    return client.post("/receipt", data={"code": code, "secret": secret, "csrf_token": token})


def send(client, code: str, secret: str, message: str, objection: bool = False):
    token = Page(client.get("/receipt").get_data(as_text=True)).csrf()
    data = {"code": code, "secret": secret, "message": message, "csrf_token": token}
    if objection:
        data["objection"] = "yes"
    return client.post("/receipt/messages", data=data)
