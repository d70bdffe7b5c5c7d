import base64
import dataclasses
import os

import pytest

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.auth import issue_key
from shared.kafka import ensure_topics
from shared.sealing import generate_keypair
from tests.integration.shared.helpers import unique

SHIWAN_UNIT = "foshan/chancheng/shiwan/contact"


@pytest.fixture
def notify_keypair() -> tuple[str, str]:
    return generate_keypair()


@pytest.fixture
def intake_settings(settings, mongo_db, notify_keypair) -> IntakeSettings:
    """Intake settings on this test's database, with topics of its own."""
    common = dataclasses.replace(settings, topic_prefix=unique("in") + ".")
    ensure_topics(common, partitions=1)
    return IntakeSettings(common=common, receipt_key=os.urandom(32), reporter_key=os.urandom(32),
                          notify_public_key=base64.b64decode(notify_keypair[0]), db=mongo_db,
                          mongo_timeout_ms=1000, receipt_rate_limit="1000/minute", web_relay_poll_s=0.2)


@pytest.fixture
def app(intake_settings):
    app = create_app(intake_settings)
    yield app
    app.extensions["intake_relay_stop"].set()
    app.extensions["intake"].outbox.stop()
    for thread in app.extensions["intake_relay"]:
        thread.join(timeout=10)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def keys(app) -> dict[str, str]:
    """Bearer headers by name: the Shiwan unit, another unit, supervisors, a cadre."""
    tokens = {
        "shiwan": issue_key("frontline", SHIWAN_UNIT),
        "nanhai": issue_key("frontline", "foshan/nanhai/guicheng/contact"),
        "chancheng_supervisor": issue_key("supervisor", "foshan/chancheng"),
        "nanhai_supervisor": issue_key("supervisor", "foshan/nanhai"),
        "cadre": issue_key("cadre", "cadre-1"),
    }
    return {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
