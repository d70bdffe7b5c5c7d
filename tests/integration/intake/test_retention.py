"""Intake's retention of reporter data on the real local database: replay data after 24 h, and
the sealed identity and contact after the objection window."""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest

from services.intake import case_events, follow_ups, handlers, retention
from services.intake.documents import Clue
from services.intake.schemas import ClueSchema
from shared import events
from shared.mongo import ProcessedEvents
from shared.sealing import ReporterVault
from tests.unit.intake.clues import clue
from tests.unit.intake.test_handlers import NOW, case_event

pytestmark = pytest.mark.stack
UNIT = "foshan/chancheng/shiwan/contact"


@pytest.fixture
def keys(notify_keypair):
    return handlers.Keys(os.urandom(32), ReporterVault(os.urandom(32)), base64.b64decode(notify_keypair[0]))


def _post(keys, key=None, at=NOW):
    body = clue()
    return handlers.post_clue(ClueSchema().load(body), UNIT, keys, idempotency_key=key,
                              request_hash=handlers.body_hash(body, keys.request_key) if key else None,
                              now=at)[0]


def test_replay_data_is_erased_after_24_hours(mongo_db, keys):
    old, fresh = _post(keys, "k-old"), _post(keys, "k-new", NOW + timedelta(hours=20))
    assert handlers.expire_replays(NOW + timedelta(hours=25), batch=1) == 1
    stored = {d["_id"]: d for d in Clue._get_collection().find()}
    assert "replay_sealed" not in stored[old["clue_id"]] and "request_hash" not in stored[old["clue_id"]]
    assert stored[fresh["clue_id"]]["replay_sealed"]
    with pytest.raises(handlers.IdempotencyConflict):
        _post(keys, "k-old", NOW + timedelta(hours=26))
    assert Clue.objects.count() == 2


def test_sealed_identity_is_erased_after_the_objection_window(mongo_db, keys):
    by_batch, one_by_one, recent, open_ = (_post(keys)["clue_id"] for _ in range(4))
    case_events.apply_case_events([case_event(events.CASE_CLOSED, by_batch)], ProcessedEvents("t"))
    case_events.apply_case_event(case_event(events.CASE_CLOSED, one_by_one))
    case_events.apply_case_event(case_event(events.CASE_CLOSED, recent, closed_at=NOW + timedelta(days=100)))
    reopened = _post(keys)
    case_events.apply_case_event(case_event(events.CASE_CLOSED, reopened["clue_id"]))
    follow_ups.follow_up(reopened["receipt"]["code"], reopened["receipt"]["secret"], "异议", True, keys,
                       now=NOW + timedelta(days=5))  # an objection reopens it: no erasure while open
    now = NOW + timedelta(days=3 + 181)  # case_event closes cases 3 days after NOW
    assert retention.erase_expired(180, now, batch=1) == 2
    stored = {d["_id"]: d for d in Clue._get_collection().find()}
    for erased in (by_batch, one_by_one):
        assert "reporter_sealed" not in stored[erased] and "contact_sealed" not in stored[erased]
        assert stored[erased]["receipt_code_digest"] and stored[erased]["status"] == "closed"
        assert stored[erased]["category"] and stored[erased]["received_at"]  # statistics stay
    for kept in (recent, open_, reopened["clue_id"]):
        assert stored[kept]["reporter_sealed"], kept
    assert retention.erase_expired(180, now) == 0


def test_plain_digests_stored_before_the_keyed_ones_are_erased_at_once(mongo_db, keys):
    import hashlib
    import json

    plain = hashlib.sha256(json.dumps(clue()).encode()).hexdigest()
    old_key = "key:" + hashlib.sha256(b"k").hexdigest()
    legacy = dict(_id="legacy", frontline_unit=UNIT, idempotency_key=old_key, request_hash=plain,
                  replay_sealed="x", receipt_code_digest="c", status="accepted")
    Clue._get_collection().insert_one(legacy)
    fresh = _post(keys, "k-new", NOW)
    assert handlers.expire_replays(NOW + timedelta(hours=1)) == 1
    stored = {d["_id"]: d for d in Clue._get_collection().find()}
    assert "request_hash" not in stored["legacy"] and "replay_sealed" not in stored["legacy"]
    assert stored[fresh["clue_id"]]["request_hash"]
