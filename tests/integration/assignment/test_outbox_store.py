"""The cases' outbox (outbox_store.py) on the real database: the events a case's write staged are
what a relay on `case_outbox()` publishes, once."""

from __future__ import annotations

import time

import pytest

from services.assignment import handlers
from services.assignment.outbox_store import case_outbox
from services.assignment.registry_store import RegistryCache
from shared import events
from shared.fakes import FakeBroker
from shared.outbox import OutboxRelay

from .test_concurrency import prepare
from .workers import clue_event

pytestmark = pytest.mark.stack


def test_a_relay_on_the_case_outbox_publishes_what_case_writes_staged(settings, mongo_db, tmp_path):
    prepare(tmp_path, settings, [2])
    ctx = handlers.Context(registry=RegistryCache(0).get)  # no wake: the events stay staged
    batch = [events.decode(events.encode(clue_event(i, name=f"人{i}"))) for i in ("c1", "c2")]
    handlers.clues_received(batch, ctx)
    broker = FakeBroker()
    relay = OutboxRelay(case_outbox(), broker)
    later = time.time() + 60  # past the lease the writer took for the relay it would wake
    assert relay.publish_pending(later) >= 2
    assigned = broker.events(events.CASE_ASSIGNED)
    assert sorted(e.data["clue_id"] for e in assigned) == ["c1", "c2"]
    assert relay.publish_pending(later + 60) == 0  # cleared: nothing twice
    assert len(broker.events(events.CASE_ASSIGNED)) == 2
