"""The review of old clues (大起底/回头看) through POST /v1/clues:import, on the real database:
batches, original dates, prior dispositions, file numbers, and their clue-received events."""

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from services.intake.app import create_app
from services.intake.documents import Clue
from shared import events
from shared.fakes import FakeBroker
from tests.integration.shared.helpers import wait_for
from tests.unit.intake.clues import anonymous_clue

from .test_import import NDJSON, ndjson, results

pytestmark = pytest.mark.stack

DEADLINE = "2027-03-31T23:59:59+08:00"


@pytest.fixture
def review_app(intake_settings):
    broker = FakeBroker()
    app = create_app(intake_settings, publisher=broker)
    app.extensions["broker"] = broker
    yield app
    app.extensions["intake_relay_stop"].set()
    app.extensions["intake"].outbox.stop()
    for thread in app.extensions["intake_relay"]:
        thread.join(timeout=10)


def old(**changes) -> dict:
    fields = {"source": "review", "original_received_at": "2016-05-03T09:30:00+08:00",
              "original_unit": "foshan/chancheng/shiwan#commission", "prior_disposition": "handled",
              "file_number": "禅纪〔2016〕12号", **changes}
    return anonymous_clue(**{k: v for k, v in fields.items() if v is not None})


def post(client, keys, body: bytes, **query) -> object:
    url = "/v1/clues:import" + (f"?{urlencode(query)}" if query else "")
    return client.post(url, data=body, content_type=NDJSON, headers=keys["shiwan"])


def test_a_batch_carries_the_past_into_each_clue_received(review_app, keys):
    client = review_app.test_client()
    resp = post(client, keys, ndjson(old(), old(prior_disposition="in_progress", file_number=None)),
                batch="2026年大起底", deadline=DEADLINE)
    got = results(resp)
    assert [r["code"] for r in got] == [202, 202]
    broker = review_app.extensions["broker"]
    wait_for(lambda: len(broker.events(events.CLUE_RECEIVED)) == 2, timeout=10, message="events published")
    received = broker.events(events.CLUE_RECEIVED)
    first, second = sorted(received, key=lambda e: e.data["file_number"] or "", reverse=True)
    data = first.data
    assert data["original_received_at"] == datetime(2016, 5, 3, 1, 30, tzinfo=UTC)
    assert data["prior_disposition"] == "handled" and data["file_number"] == "禅纪〔2016〕12号"
    assert data["original_unit"] == "foshan/chancheng/shiwan#commission"
    assert data["batch"]["name"] == "2026年大起底"
    assert data["batch"]["deadline"] == datetime(2027, 3, 31, 15, 59, 59, tzinfo=UTC)
    assert second.data["batch"]["id"] == data["batch"]["id"]
    assert second.data["prior_disposition"] == "in_progress"
    # the same batch name again is the same batch; another deadline for it is a conflict
    again = results(post(client, keys, ndjson(old()), batch="2026年大起底", deadline=DEADLINE))
    assert again[0]["code"] == 202
    clash = post(client, keys, ndjson(old()), batch="2026年大起底", deadline="2027-06-30T00:00:00+08:00")
    assert clash.status_code == 409 and "deadline" in clash.get_json()["errors"]
    assert Clue.objects.count() == 3


def test_a_clue_without_review_fields_says_nothing_of_them(review_app, keys):
    client = review_app.test_client()
    assert results(post(client, keys, ndjson(anonymous_clue())))[0]["code"] == 202
    broker = review_app.extensions["broker"]
    wait_for(lambda: broker.events(events.CLUE_RECEIVED), timeout=10, message="event published")
    raw = broker.events(events.CLUE_RECEIVED)[0].raw["data"]
    assert not {"original_received_at", "batch", "prior_disposition", "file_number"} & set(raw)


def _future() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()


BAD_LINES = [
    ("original date in the future", {"original_received_at": "FUTURE"}, "original_received_at"),
    ("original date without a time zone", {"original_received_at": "2016-05-03T09:30:00"},
     "original_received_at"),
    ("unknown prior disposition", {"prior_disposition": "forgotten"}, "prior_disposition"),
    ("empty file number", {"file_number": "  "}, "file_number"),
    ("original unit too long", {"original_unit": "x" * 201}, "original_unit"),
]


@pytest.mark.parametrize("label,changes,field", BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_a_bad_review_line_is_rejected_with_its_line_number_and_field(review_app, keys, label, changes,
                                                                      field):
    changes = {k: (_future() if v == "FUTURE" else v) for k, v in changes.items()}
    got = results(post(review_app.test_client(), keys, ndjson(old(), old(**changes), old())))
    assert [(r["line"], r["code"]) for r in got] == [(1, 202), (2, 422), (3, 202)]
    assert list(got[1]["errors"]) == [field]
    assert Clue.objects.count() == 2


BAD_QUERIES = [
    ("deadline without a time zone", {"batch": "b", "deadline": "2027-03-31T23:59:59"}, "deadline"),
    ("batch without a deadline", {"batch": "b"}, "deadline"),
    ("deadline without a batch", {"deadline": DEADLINE}, "batch"),
    ("an unknown parameter", {"batch": "b", "deadline": DEADLINE, "colour": "red"}, "colour"),
]


@pytest.mark.parametrize("label,query,field", BAD_QUERIES, ids=[b[0] for b in BAD_QUERIES])
def test_a_bad_batch_query_is_refused_whole(review_app, keys, label, query, field):
    resp = post(review_app.test_client(), keys, ndjson(old()), **query)
    assert resp.status_code == 422 and resp.content_type == "application/problem+json"
    assert field in resp.get_json()["errors"]
    assert Clue.objects.count() == 0


def test_review_fields_are_for_the_import_only(review_app, keys):
    resp = review_app.test_client().post("/v1/clues", json=old(), headers=keys["shiwan"])
    assert resp.status_code == 422 and "original_received_at" in resp.get_json()["errors"]
    assert json.dumps(resp.get_json(), ensure_ascii=False).count("禅纪") == 0
