"""Principals and requests for the authorization table (test_authorization.py).

A principal is a name for "who calls": no key, a bad key, or a real key of some role and scope. The
scopes are placed around one clue posted by the shiwan contact point (FRONTLINE) about a town
(JURISDICTION) whose case sits in UNIT.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from deploy.devstack import ROOT
from tests.e2e.test_pipeline import clue, find_case, post

FRONTLINE = "foshan/chancheng/shiwan/contact"
OTHER_FRONTLINE = "foshan/nanhai/guicheng/contact"
JURISDICTION = "foshan/chancheng/shiwan"
UNIT = "foshan/chancheng/shiwan#commission"

# Supervisors placed around the case's town.
SUPERVISORS = {
    "supervisor_city": "foshan",  # above
    "supervisor_district": "foshan/chancheng",  # above
    "supervisor_town": "foshan/chancheng/shiwan",  # the case's own town
    "supervisor_beside": "foshan/nanhai",  # another district
    "supervisor_sibling_town": "foshan/chancheng/zumiao",  # a town beside shiwan, under the same district
}
UNAUTHENTICATED = ("no_key", "revoked_key", "malformed_key", "wrong_scheme")
PRINCIPALS = (*UNAUTHENTICATED, "frontline_own", "frontline_other", "cadre_owner", "cadre_other",
              *SUPERVISORS, "admin")
# How the principals group, for writing expectations compactly.
GROUPS: dict[str, tuple[str, ...]] = {
    "unauthenticated": UNAUTHENTICATED,
    "frontline": ("frontline_own", "frontline_other"),
    "cadre": ("cadre_owner", "cadre_other"),
    "supervisor_in": ("supervisor_city", "supervisor_district", "supervisor_town"),
    "supervisor_out": ("supervisor_beside", "supervisor_sibling_town"),
    "supervisor": tuple(SUPERVISORS),
    "admin": ("admin",),
}


def expect(default: int, **codes: int) -> dict[str, int]:
    """The expected status per principal: `default` unless a principal or a GROUPS name overrides it
    (groups first, then single principals, so a principal can refine its group)."""
    table = dict.fromkeys(PRINCIPALS, default)
    for name, code in codes.items():
        if name in GROUPS:
            table.update(dict.fromkeys(GROUPS[name], code))
    for name, code in codes.items():
        if name in PRINCIPALS:
            table[name] = code
    return table


def assigned_case(e2e, frontline: str = FRONTLINE) -> dict[str, Any]:
    """Post a plain anonymous clue (no escalation rule applies) and return its case once a cadre holds it."""
    body = clue(subject={"name": f"授权测试{uuid.uuid4().hex[:8]}", "position": "城管执法队员",
                         "employer": "foshan/chancheng/urban-management", "rank": "staff"},
                amount_cny=800)
    posted = post(e2e, body, frontline=frontline)
    case = find_case(e2e, posted["clue_id"])
    if case["status"] != "assigned" or not case["cadre_id"]:
        raise AssertionError(f"the test case is not held by a cadre (unit full?): {case}")
    return {"posted": posted, "case": case}


def cli(e2e, *args: str) -> str:
    """Run `python -m shared.cli ARGS` against the e2e pipeline's databases; its stdout."""
    done = subprocess.run([sys.executable, "-m", "shared.cli", *args], env=e2e.pipeline.env,
                          cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclass
class World:
    """What every row of the table needs: the shared case, the tokens, and fresh cases on demand."""

    e2e: Any
    clue_id: str
    receipt: dict[str, str]
    case: dict[str, Any]
    tokens: dict[str, str | None]
    registry: dict[str, Any]
    other_cadre: str
    fresh_cases: list[dict[str, Any]] = field(default_factory=list)

    def headers(self, principal: str, case: dict[str, Any] | None = None) -> dict[str, str]:
        """The Authorization header of `principal`; "cadre_owner" is the cadre holding `case`
        (the shared case unless another is given)."""
        if principal == "no_key":
            return {}
        if principal == "malformed_key":
            return {"Authorization": "Bearer not-a-key-%%%"}
        if principal == "wrong_scheme":
            return {"Authorization": f"Token {self.tokens['admin']}"}
        if principal == "cadre_owner" and case is not None:
            return {"Authorization": f"Bearer {self.e2e.credentials['cadre'][case['cadre_id']]}"}
        return {"Authorization": f"Bearer {self.tokens[principal]}"}

    def fresh_case(self) -> dict[str, Any]:
        """A new case of its own, for a row whose allowed call changes the case."""
        made = assigned_case(self.e2e)
        self.fresh_cases.append(made["case"])
        return made["case"]


def build_world(e2e) -> World:
    """Post the shared clue, find its case, pick the tokens; issue a key and revoke it (then wait
    out the services' 5 s key cache)."""
    made = assigned_case(e2e)
    case = made["case"]
    creds = e2e.credentials
    holders = {case["cadre_id"], case["lead_cadre_id"]}
    other_cadre = next(c for c in sorted(creds["cadre"]) if c not in holders)
    tokens: dict[str, str | None] = {
        "frontline_own": creds["frontline"][FRONTLINE],
        "frontline_other": creds["frontline"][OTHER_FRONTLINE],
        "cadre_owner": creds["cadre"][case["cadre_id"]],
        "cadre_other": creds["cadre"][other_cadre],
        **{name: creds["supervisor"][scope] for name, scope in SUPERVISORS.items()},
        "admin": creds["admin"],
    }
    revoked = cli(e2e, "keys", "issue", "admin", "--label", "authz-table-revoked")
    # Used once while valid, so each service caches it as a good key before the revocation
    # (intake has no admin route: 403 shows the key was known).
    auth = {"Authorization": f"Bearer {revoked}"}
    for service, path, code in (("notify", "/v1/notifications?limit=1", 200),
                                ("assignment", "/v1/registry", 200),
                                ("intake", f"/v1/clues/{made['posted']['clue_id']}", 403)):
        assert e2e.http.get(e2e.url(service, path), headers=auth, timeout=10).status_code == code
    cli(e2e, "keys", "revoke", revoked)
    tokens["revoked_key"] = revoked
    registry = e2e.http.get(e2e.url("assignment", "/v1/registry"), headers=e2e.auth(creds["admin"]),
                            timeout=10).json()
    time.sleep(6)  # the services cache a key for up to 5 s
    return World(e2e, made["posted"]["clue_id"], made["posted"]["receipt"], case, tokens, registry,
                 other_cadre)


def listed(e2e, headers: dict[str, str], case_id: str, query: str = "") -> bool:
    """True when the case appears in GET /v1/cases (every page) for these headers."""
    url = e2e.url("assignment", f"/v1/cases?limit=500{query}")
    while url:
        page = e2e.http.get(url, headers=headers, timeout=10).json()
        if any(item["case_id"] == case_id for item in page["items"]):
            return True
        url = (e2e.url("assignment", f"/v1/cases?limit=500{query}&cursor={page['next']}")
               if page.get("next") else None)
    return False


def ndjson(body: dict[str, Any]) -> bytes:
    return (json.dumps(body, ensure_ascii=False) + "\n").encode()

