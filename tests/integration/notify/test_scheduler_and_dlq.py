"""The 30-day note under racing schedulers, and bad events to the dead-letter topics."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.notify import handlers
from services.notify.documents import ClueContact, Notification
from services.notify.still_handling import send_still_handling
from shared import events
from shared.mongo import utcnow
from tests.integration.shared.helpers import raw_producer, read_topic, wait_for
from tests.unit.notify.events_factory import case_assigned, case_closed, clue_received, decoded

from .conftest import PUBLIC
from .test_pipeline import clue, sealed

pytestmark = pytest.mark.stack


def race(runs: int, target) -> list:
    barrier = threading.Barrier(runs)
    results: list = []

    def run():
        barrier.wait()
        results.append(target())

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_still_handling_is_sent_once_with_racing_schedulers(mongo_db):
    started = utcnow() - timedelta(days=40)
    real_name = [clue(100 + i) for i in range(12)]
    for c in real_name:
        handlers.on_clue_received(decoded(clue_received(c, sealed({"channel": "email", "email": "a@b.cn"},
                                                                   PUBLIC))), now=started)
    anonymous, closed = clue(200), clue(201)
    handlers.on_clue_received(decoded(clue_received(anonymous, None)), now=started)
    handlers.on_clue_received(decoded(clue_received(closed, sealed({"channel": "inbox"}, PUBLIC))),
                              now=started)
    handlers.on_case_closed(decoded(case_closed(closed)), now=started)
    fresh = clue(202)
    handlers.on_clue_received(decoded(clue_received(fresh, sealed({"channel": "inbox"}, PUBLIC))))

    now = utcnow()
    assert sum(race(2, lambda: send_still_handling(30, now))) == len(real_name)
    notes = Notification.objects(kind="still_handling")
    assert sorted(n.clue_id for n in notes) == sorted(real_name)
    assert all(n.status == "pending" for n in notes)
    # The same period again: nothing more. Thirty-one days on: one more each, and the fresh clue's first.
    assert send_still_handling(30, now) == 0
    later = now + timedelta(days=31)
    assert sum(race(2, lambda: send_still_handling(30, later))) == len(real_name) + 1
    assert Notification.objects(kind="still_handling").count() == 2 * len(real_name) + 1
    assert Notification.objects(kind="still_handling", clue_id__in=[anonymous, closed]).count() == 0
    assert ClueContact.objects.get(id=real_name[0]).still_handling_sent_ms > 0


def test_an_update_resets_the_quiet_period(mongo_db):
    c = clue(300)
    started = utcnow() - timedelta(days=40)
    handlers.on_clue_received(decoded(clue_received(c, sealed({"channel": "inbox"}, PUBLIC))), now=started)
    handlers.on_case_assigned(decoded(case_assigned(c)), now=utcnow() - timedelta(days=5))
    assert send_still_handling(30) == 0


def test_bad_events_go_to_the_dead_letter_topics(pipeline, common):
    running = pipeline()
    producer = raw_producer(common.kafka_bootstrap_servers)
    prefix = common.topic_prefix
    missing = events.make_event(events.CASE_CLOSED, {
        "case_id": "k", "clue_id": clue(400), "disposition": "concluded", "outcomes": [],
        "reporter_summary": "", "closed_at": events.now()}, source="/tests")
    del missing["data"]["outcomes"]
    unknown_type = dict(missing, type="campaign.case.vanished.v1")
    unknown_outcome = case_closed(clue(401), outcomes=("no_such_outcome",))
    wrong_topic = case_assigned(clue(402))
    for topic, value in ((events.CASE_CLOSED, events.encode(missing)),
                         (events.CASE_CLOSED, events.encode(unknown_type)),
                         (events.CASE_CLOSED, events.encode(unknown_outcome)),
                         (events.CASE_ESCALATED, events.encode(wrong_topic)),
                         (events.CLUE_RECEIVED, b"\xff not json")):
        producer.send(prefix + topic, key=b"k", value=value)
    producer.flush()
    producer.close()
    good = clue(403)
    running.publish(clue_received(good, None))
    wait_for(lambda: Notification.objects(clue_id=good, status="sent").count() == 1, message="good one sent")
    closed_dlq = read_topic(common.kafka_bootstrap_servers, prefix + "case-closed.dlq", expect=3)
    escalated_dlq = read_topic(common.kafka_bootstrap_servers, prefix + "case-escalated.dlq", expect=1)
    received_dlq = read_topic(common.kafka_bootstrap_servers, prefix + "clue-received.dlq", expect=1)
    assert (len(closed_dlq), len(escalated_dlq), len(received_dlq)) == (3, 1, 1)
    errors = [dict(r.headers)["error"].decode() for r in closed_dlq + escalated_dlq]
    assert any("schema" in e for e in errors) and any("poison" in e for e in errors)
    assert Notification.objects(clue_id__in=[clue(400), clue(401), clue(402)]).count() == 0
