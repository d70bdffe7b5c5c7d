"""clue-notified: notify tells the system what became of each notification, on the real broker."""

from __future__ import annotations

import pytest

from services.notify.delivery import NO_CHANNEL
from shared import events
from tests.integration.shared.helpers import read_topic, wait_for
from tests.unit.notify.events_factory import case_assigned, clue_received

from .test_pipeline import EMAIL, all_final, clue, sealed

pytestmark = pytest.mark.stack
PHONE = "+8613800000000"


def test_delivered_and_failed_notifications_are_announced_without_contact_details(pipeline, smtp_recorder):
    port, _handler = smtp_recorder
    running = pipeline(smtp_port=port)  # no SMS gateway configured
    by_mail, by_sms = clue(41), clue(42)
    running.publish(clue_received(by_mail, sealed({"name": "王某", "channel": "email", "email": EMAIL})),
                    clue_received(by_sms, sealed({"name": "李某", "channel": "sms", "phone": PHONE})))
    wait_for(lambda: all_final(by_mail, 1), message="received sent")
    running.publish(case_assigned(by_mail))  # (in real life minutes later: topics are not ordered)
    wait_for(lambda: all_final(by_mail, 2) and all_final(by_sms, 1), message="all final")
    common = running.settings.common
    records = read_topic(common.kafka_bootstrap_servers, common.topic_prefix + events.CLUE_NOTIFIED, expect=3)
    assert len(records) == 3
    raw = b"".join(r.value for r in records)
    for secret in (EMAIL.encode(), PHONE.encode(), "王某".encode(), "李某".encode()):
        assert secret not in raw
    decoded = [events.decode(r.value) for r in records]
    got = {(e.data["clue_id"], e.data["kind"]): e.data for e in decoded}
    assert got[(by_mail, "received")]["outcome"] == "delivered"
    assert got[(by_mail, "accepted")]["channel"] == "email"
    assert got[(by_sms, "received")]["outcome"] == "failed"
    assert got[(by_sms, "received")]["reason"] == NO_CHANNEL
    assert {r.key.decode() for r in records} == {by_mail, by_sms}  # keyed by clue, in order per clue
