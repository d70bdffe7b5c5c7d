import pytest

from services.notify.memory_store import MemoryNotificationStore
from services.notify.notification_store import use


@pytest.fixture
def store():
    """Notify's in-memory store, in use for the test (its contract with the database's:
    tests/integration/notify/test_notification_store.py)."""
    mine = MemoryNotificationStore()
    previous = use(mine)
    yield mine
    use(previous)
