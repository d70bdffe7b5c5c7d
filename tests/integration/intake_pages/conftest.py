"""The intake app on the real database and broker, as tests/integration/intake builds it."""

import dataclasses

import pytest

from services.intake.app import create_app
from tests.integration.intake.conftest import app, client, intake_settings, keys, notify_keypair  # noqa: F401


@pytest.fixture
def limited_app(intake_settings):  # noqa: F811 - the imported fixture
    """The app with a receipt rate limit of 3 a minute per address."""
    limited = create_app(dataclasses.replace(intake_settings, receipt_rate_limit="3/minute"))
    yield limited
    limited.extensions["intake_relay_stop"].set()
    limited.extensions["intake"].outbox.stop()
    for thread in limited.extensions["intake_relay"]:
        thread.join(timeout=10)
