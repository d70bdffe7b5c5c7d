"""The consumer loop's per-record decisions, on plain objects (no broker)."""

from __future__ import annotations

from pymongo.errors import AutoReconnect

from shared import events
from shared.consumer import ConsumerLoop
from shared.fakes import FakeBroker, Record
from shared.settings import CommonSettings, Env

SETTINGS = CommonSettings.from_env(Env({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                                        "MONGODB_URI": "mongodb://127.0.0.1:1/",
                                        "CONSUMER_RETRY_BACKOFF_MS": "0"}))


def record() -> Record:
    env = events.make_event(events.CLUE_FOLLOWED_UP, {
        "clue_id": "c1", "message": "m", "objection": False, "at": events.now()}, source="/t")
    return Record(events.CLUE_FOLLOWED_UP, "c1", events.encode(env))


def down(_event_id: str) -> bool:
    raise AutoReconnect("database away")


def test_a_database_away_during_the_duplicate_check_defers_the_record():
    handled: list[str] = []
    broker = FakeBroker()
    loop = ConsumerLoop(SETTINGS, "g", {events.CLUE_FOLLOWED_UP: lambda e: handled.append(e.subject)},
                        broker, sleep=lambda s: None, is_processed=down)
    assert loop.process(record()) is False
    assert handled == [] and broker.records(events.dlq_topic(events.CLUE_FOLLOWED_UP)) == []


def test_a_database_away_in_the_handler_defers_and_never_dead_letters():
    broker = FakeBroker()

    def handler(_event):
        raise AutoReconnect("database away")

    loop = ConsumerLoop(SETTINGS, "g", {events.CLUE_FOLLOWED_UP: handler}, broker, sleep=lambda s: None)
    assert loop.process(record()) is False
    assert broker.records(events.dlq_topic(events.CLUE_FOLLOWED_UP)) == []


def test_a_duplicate_is_skipped_and_a_new_event_marked():
    marked: list[str] = []
    handled: list[str] = []
    seen: set[str] = set()
    loop = ConsumerLoop(SETTINGS, "g", {events.CLUE_FOLLOWED_UP: lambda e: handled.append(e.id)},
                        FakeBroker(), sleep=lambda s: None, is_processed=seen.__contains__,
                        mark_processed=lambda i: (marked.append(i), seen.add(i)))
    rec = record()
    assert loop.process(rec) and loop.process(rec)
    assert len(handled) == 1 and marked == handled
