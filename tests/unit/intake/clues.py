"""Sample clue bodies for intake's tests."""

import copy

REPORTER = {"anonymous": False, "name": "王小明", "phone": "+8613812345678",
            "email": "wang.xiaoming@example.org", "channel": "webhook",
            "webhook_url": "https://hooks.example.net/wang-secret-hook"}

CLUE = {
    "source": "observer",
    "category": "solicitation",
    "summary": "Inspector takes cigarettes and red envelopes from shops on Zhongxin Road",
    "details": "Seen on three market days.",
    "jurisdiction": "foshan/chancheng/shiwan",
    "subject": {"name": "许某", "position": "城管执法队员", "employer": "foshan/chancheng/urban-management",
                "rank": "staff", "party_member": True},
    "amount_cny": 4645,
    "occurred_on": "2019-12-01",
    "collusion": False,
    "reporter": REPORTER,
}

IDENTITY = (REPORTER["name"], REPORTER["phone"], REPORTER["email"], REPORTER["webhook_url"],
            "13812345678", "wang.xiaoming", "wang-secret-hook")


def clue(**changes) -> dict:
    body = copy.deepcopy(CLUE)
    body.update(changes)
    return body


def anonymous_clue(**changes) -> dict:
    return clue(reporter={"anonymous": True}, **changes)
