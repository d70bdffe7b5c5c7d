from pathlib import Path

import mongomock
import pytest

from services.assignment.registry import Registry, load_registry

FOSHAN = Path(__file__).resolve().parents[3] / "deploy" / "registry" / "foshan.yaml"


@pytest.fixture(scope="session")
def foshan() -> Registry:
    return load_registry(FOSHAN)


def _accept_sort(add_update):
    """mongomock 4.3's bulk builder predates pymongo 4.11, whose UpdateOne passes `sort` (None
    unless given); drop it so bulk_write works on the fake as on a server."""

    def add(self, selector, doc, *args, sort=None, **kwargs):
        assert sort is None, "mongomock cannot sort a bulk update"
        return add_update(self, selector, doc, *args, **kwargs)

    return add


mongomock.collection.BulkOperationBuilder.add_update = _accept_sort(
    mongomock.collection.BulkOperationBuilder.add_update
)


@pytest.fixture
def mock_db():
    """mongoengine's default alias on a fresh in-memory mongomock database (one thread only)."""
    import mongoengine as me

    me.disconnect()
    me.connect(
        "assignment_unit",
        host="mongodb://localhost",
        mongo_client_class=mongomock.MongoClient,
        tz_aware=True,
        uuidRepresentation="standard",
    )
    yield
    me.disconnect()
