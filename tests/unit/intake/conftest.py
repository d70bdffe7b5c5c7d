import base64
import os

import pytest

from services.intake.handlers import Keys
from shared.fakes import FakeBroker
from shared.sealing import ReporterVault, generate_keypair


@pytest.fixture
def notify_keys() -> tuple[bytes, bytes]:
    public, private = generate_keypair()
    return base64.b64decode(public), base64.b64decode(private)


@pytest.fixture
def keys(notify_keys) -> Keys:
    return Keys(os.urandom(32), ReporterVault(os.urandom(32)), notify_keys[0])


class RecordingOutbox:
    def __init__(self):
        self.woken = []
        self.announced = []

    def announce(self, envelope):
        self.announced.append(envelope)

    def wake(self, document, stored):
        self.woken.append((document, stored))


@pytest.fixture
def outbox() -> RecordingOutbox:
    return RecordingOutbox()


@pytest.fixture
def publisher() -> FakeBroker:
    return FakeBroker()
