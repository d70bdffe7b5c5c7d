import mongomock
import pytest

from shared import mongo


@pytest.fixture
def mock_db():
    """mongoengine's default alias on a throw-away mongomock database (one thread only)."""
    mongo.me.disconnect()
    mongo.me.connect("notify_unit", host="mongodb://localhost", mongo_client_class=mongomock.MongoClient,
                     tz_aware=True, uuidRepresentation="standard")
    yield
    mongo.me.disconnect()
