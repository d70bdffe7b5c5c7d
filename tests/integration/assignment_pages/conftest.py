"""The assignment app on the real database (events to a fake broker), signed in through its pages."""

from __future__ import annotations

import pytest

from services.assignment.app import create_app
from services.assignment.settings import AssignmentSettings
from shared.fakes import FakeBroker
from tests.unit.assignment.sample_registries import small_registry_yaml


@pytest.fixture
def town_capacities() -> list[int]:
    """Capacities of the town unit's cadres t-001, t-002 ... (override in a test module)."""
    return [3, 3]


@pytest.fixture
def app(settings, mongo_db, tmp_path, town_capacities):
    path = tmp_path / "registry.yaml"
    path.write_text(small_registry_yaml(town_capacities), encoding="utf-8")
    broker = FakeBroker()
    app = create_app(
        AssignmentSettings(common=settings, db=mongo_db, registry_path=str(path)),
        publisher=broker,
        connect=False,
    )
    app.extensions["broker"] = broker
    yield app
    app.extensions["assignment.stop"].set()
    app.extensions["assignment.relay"].stop()
    app.extensions["assignment.relay_thread"].join(timeout=10)


@pytest.fixture
def http(app):
    return app.test_client()
