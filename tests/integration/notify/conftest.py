"""The notify pipeline against the real local broker and database, with real delivery servers."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from services.notify.consumer import build_consumer
from services.notify.delivery import Deliverer
from services.notify.settings import NotifySettings
from shared.kafka import EventProducer, ensure_topics
from shared.sealing import generate_keypair, load_key
from tests.integration.notify_channels.conftest import (  # noqa: F401 - fixtures re-used here
    SMS_API_KEY,
    WEBHOOK_SECRET,
    RecordingHandler,
    closed_port,
    receiver,
    silent_port,
    smtp_recorder,
    start_smtp,
)
from tests.integration.shared.helpers import unique

PUBLIC_B64, PRIVATE_B64 = generate_keypair()
PUBLIC = load_key(PUBLIC_B64, "public")


def make_settings(common, db: str, **overrides) -> NotifySettings:
    base = dict(common=common, private_key=load_key(PRIVATE_B64, "private"), webhook_secret=WEBHOOK_SECRET,
                db=db, smtp_sender="notify@campaign.example", smtp_timeout=5.0, webhook_timeout=5.0,
                sms_timeout=5.0, sms_api_key=SMS_API_KEY, webhook_allow_private_hosts=True,
                retry_base_s=0.05, retry_cap_s=0.2, poll_interval_s=0.05, contact_recheck_s=0.2,
                scheduler_interval_s=3600.0)
    base.update(overrides)
    return NotifySettings(**base)


class Pipeline:
    """The notify consumer and deliverer running in threads, and a producer to feed them."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self.producer = EventProducer(settings.common)
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.deliverer = Deliverer(settings, publisher=self.producer)  # clue-notified out
        self.threads = [self._thread(build_consumer(settings.common, self.producer).run),
                        self._thread(self.deliverer.run)]

    def _thread(self, target) -> threading.Thread:
        def run():
            try:
                target(self.stop)
            except BaseException as exc:  # noqa: BLE001 - surfaced by the fixture
                self.errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def publish(self, *envelopes: dict) -> None:
        for envelope in envelopes:
            self.producer.publish(envelope)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.producer.close()


@pytest.fixture
def common(settings):
    """Common settings whose topics belong to this test only."""
    isolated = dataclasses.replace(settings, topic_prefix=unique("n") + ".", kafka_partitions=2)
    ensure_topics(isolated)
    return isolated


@pytest.fixture
def pipeline(common, mongo_db):
    """start(**settings overrides) -> a running Pipeline; stopped after the test."""
    started: list[Pipeline] = []

    def start(**overrides) -> Pipeline:
        running = Pipeline(make_settings(common, mongo_db, **overrides))
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()
        assert not running.errors, running.errors
