"""The receipt routes' limits on the real database: shared by every worker, keyed by the client
the trusted proxies saw (IPv6 per /64), counted after the CSRF check, and per receipt code."""

from __future__ import annotations

import dataclasses
import json

import pytest

from services.intake.app import create_app
from shared.clients import client_network
from tests.integration.intake_pages.forms import look_up
from tests.unit.intake.clues import clue

pytestmark = pytest.mark.stack
GUESS = {"code": "0000-0000-0000-0000", "secret": "guess"}


def _app(intake_settings, rate="3/minute", hops=0, failures=10):
    common = dataclasses.replace(intake_settings.common, trusted_proxy_hops=hops)
    return create_app(dataclasses.replace(intake_settings, common=common, receipt_rate_limit=rate,
                                          receipt_code_failures=failures), start_relay=False)


def _lookup(client, body=GUESS, addr="10.0.0.1", forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post("/v1/receipts/lookup", json=body, headers=headers, environ_base={"REMOTE_ADDR": addr})


def test_the_limit_is_shared_by_every_worker_through_mongodb(intake_settings):
    first, second = _app(intake_settings).test_client(), _app(intake_settings).test_client()
    assert [_lookup(c).status_code for c in (first, second, first)] == [404, 404, 404]
    assert _lookup(second).status_code == 429


def test_behind_the_edge_each_client_has_its_own_bucket_and_a_forged_header_buys_nothing(intake_settings):
    client = _app(intake_settings, hops=1).test_client()
    edge = "172.18.0.2"  # every request comes from the edge; it appends the address it saw
    for _ in range(3):
        assert _lookup(client, addr=edge, forwarded="198.51.100.7").status_code == 404
    assert _lookup(client, addr=edge, forwarded="198.51.100.7").status_code == 429
    assert _lookup(client, addr=edge, forwarded="203.0.113.9").status_code == 404  # another reporter
    # The guesser writes its own X-Forwarded-For; the edge appends the real address after it.
    forged = _lookup(client, addr=edge, forwarded="192.0.2.55, 198.51.100.7")
    assert forged.status_code == 429


def test_without_trusted_proxies_a_forwarded_header_is_ignored(intake_settings):
    client = _app(intake_settings, hops=0).test_client()
    statuses = [_lookup(client, forwarded=f"192.0.2.{n}").status_code for n in range(4)]
    assert statuses == [404, 404, 404, 429]


def test_ipv6_clients_are_keyed_per_64(intake_settings):
    client = _app(intake_settings).test_client()
    same = ["2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:abcd::9"]
    assert [_lookup(client, addr=a).status_code for a in same] == [404, 404, 404]
    assert _lookup(client, addr="2001:db8:1:2:ffff::1").status_code == 429
    assert _lookup(client, addr="2001:db8:1:3::1").status_code == 404


@pytest.mark.parametrize("address, key", [
    ("198.51.100.7", "198.51.100.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.7", "198.51.100.7"),
    ("fe80::1%eth0", "fe80::/64"),
    ("not-an-address", "not-an-address"),
    (None, "unknown"),
])
def test_client_network(address, key):
    assert client_network(address) == key


def test_junk_page_posts_do_not_drain_the_limit(intake_settings):
    client = _app(intake_settings).test_client()
    for _ in range(10):  # no CSRF token: refused before counting
        assert client.post("/receipt", data={"code": GUESS["code"], "secret": "x"}).status_code == 400
    assert look_up(client, GUESS["code"], "x").status_code == 404


def _receipt(client, intake_settings):
    from shared.auth import issue_key
    headers = {"Authorization": f"Bearer {issue_key('frontline', 'foshan/chancheng/shiwan/contact')}"}
    return client.post("/v1/clues", json=clue(), headers=headers).json["receipt"]


def test_ten_wrong_secrets_block_the_code_for_an_hour_from_any_address(intake_settings):
    client = _app(intake_settings, rate="1000/minute").test_client()
    receipt = _receipt(client, intake_settings)
    wrong = {**receipt, "secret": "wrong"}
    statuses = [_lookup(client, wrong, addr=f"10.1.0.{n}").status_code for n in range(10)]
    assert statuses == [404] * 10
    blocked = _lookup(client, receipt, addr="10.2.0.1")  # even the right secret, from anywhere
    assert blocked.status_code == 429 and 3500 <= int(blocked.headers["Retry-After"]) <= 3600
    message = client.post("/v1/receipts/messages", json={**receipt, "message": "m"},
                          environ_base={"REMOTE_ADDR": "10.2.0.2"})
    assert message.status_code == 429
    # A code no clue has answers the same way after the same guesses.
    missing = [_lookup(client, addr=f"10.3.0.{n}").status_code for n in range(11)]
    assert missing == [404] * 10 + [429]
    assert _lookup(client, missing_body := {**GUESS, "code": "1111-1111-1111-1111"}).status_code == 404
    del missing_body


def test_the_counters_hold_no_address_and_no_code(intake_settings):
    app = _app(intake_settings)
    client = app.test_client()
    _lookup(client, addr="198.51.100.77")
    stored = json.dumps(list(app.extensions["receipt_limit"].storage.collection.find()), default=str)
    assert "198.51.100.77" not in stored and "0000-0000" not in stored and "00000000" not in stored
