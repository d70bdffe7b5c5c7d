"""Hypothesis over POST /v1/clues bodies: whatever arrives, never a 5xx."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake import handlers
from services.intake.app import create_app
from services.intake.documents import Clue
from shared import events
from shared.auth import issue_key
from shared.fakes import FakeBroker
from shared.vocabulary import CATEGORIES, CHANNELS, RANKS, SOURCES
from tests.integration.intake.conftest import SHIWAN_UNIT
from tests.unit.intake.clues import anonymous_clue

pytestmark = pytest.mark.stack

anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


def maybe(valid):
    return st.one_of(valid, valid, anything)


texts = st.text(st.characters(codec="utf-8"), max_size=600) | st.just("\ud800 lone surrogate")
paths = st.sampled_from(["foshan", "foshan/chancheng/shiwan", "Foshan", "foshan//x", "a/" * 150]) | texts
subject = st.fixed_dictionaries(
    {"name": maybe(texts), "rank": maybe(st.sampled_from(RANKS))},
    optional={"position": maybe(texts), "employer": maybe(paths), "party_member": maybe(st.booleans()),
              "extra": anything})
phones = st.from_regex(r"\+[0-9]{6,20}", fullmatch=True)
reporter = st.one_of(
    st.just({"anonymous": True}),
    st.fixed_dictionaries({"anonymous": maybe(st.booleans()), "channel": maybe(st.sampled_from(CHANNELS))},
                          optional={"name": maybe(texts), "phone": maybe(phones),
                                    "email": maybe(st.emails()), "webhook_url": maybe(texts),
                                    "lang": maybe(st.sampled_from(["zh", "en", "fr"]))}),
    anything)
clues = st.fixed_dictionaries(
    {"source": maybe(st.sampled_from(SOURCES)), "category": maybe(st.sampled_from(CATEGORIES)),
     "summary": maybe(texts), "jurisdiction": maybe(paths), "subject": maybe(subject),
     "reporter": reporter},
    optional={"details": maybe(texts), "amount_cny": maybe(st.integers(min_value=-10, max_value=10**13)),
              "occurred_on": maybe(st.dates().map(str) | texts), "collusion": maybe(st.booleans()),
              "unexpected": anything})
bodies = clues | anything


@pytest.fixture
def fuzz_client(intake_settings):
    app = create_app(intake_settings, publisher=FakeBroker(), start_relay=False)
    token = issue_key("frontline", SHIWAN_UNIT)
    return app.test_client(), {"Authorization": f"Bearer {token}"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=bodies)
def test_no_body_makes_a_server_error(fuzz_client, body):
    client, headers = fuzz_client
    raw = json.dumps(body).encode()
    resp = client.post("/v1/clues", data=raw, content_type="application/json", headers=headers)
    assert resp.status_code < 500, resp.get_data(as_text=True)
    assert resp.status_code in (202, 400, 413, 422)
    if resp.status_code == 202:  # its event (built unchecked on this path) is one a consumer takes
        stored = Clue._get_collection().find_one({"_id": resp.get_json()["clue_id"]})
        event = events.decode(events.encode(handlers.received_event(stored)))
        assert event.type == events.TYPES[events.CLUE_RECEIVED] and event.subject == stored["_id"]


@pytest.mark.parametrize("body", [anonymous_clue(summary="bad \ud800 text"), {"\udfff": 1},
                                  anonymous_clue(subject={"name": "\ud800", "rank": "staff"})])
def test_a_lone_surrogate_in_valid_json_is_a_400(fuzz_client, body):
    client, headers = fuzz_client
    escaped = json.dumps(body).encode()  # ASCII, the surrogate as \\ud800
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")  # its bytes as they are
    for path in ("/v1/clues", "/v1/receipts/lookup"):
        for data in (escaped, raw):
            resp = client.post(path, data=data, content_type="application/json", headers=headers)
            assert resp.status_code == 400 and resp.mimetype == "application/problem+json"


def test_a_surrogate_pair_is_text_like_any_other(fuzz_client):
    client, headers = fuzz_client
    body = anonymous_clue(summary="举报 \U0001f4b0 红包")
    for data in (json.dumps(body).encode(), json.dumps(body, ensure_ascii=False).encode()):
        assert b"\\ud83d" in data or not data.isascii()
        resp = client.post("/v1/clues", data=data, content_type="application/json", headers=headers)
        assert resp.status_code == 202
