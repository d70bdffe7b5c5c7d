from pathlib import Path

import pytest

from services.assignment.registry import Registry
from services.assignment.registry_file import load_registry

FOSHAN = Path(__file__).resolve().parents[3] / "deploy" / "registry" / "foshan.yaml"


@pytest.fixture(scope="session")
def foshan() -> Registry:
    return load_registry(FOSHAN)


@pytest.fixture(autouse=True)
def _case_store_kept():
    """A test may put a MemoryCaseStore and a MemoryCounterStore in place of the database's
    (test_handlers.make_world)."""
    from services.assignment import counter_store
    from services.assignment.store import case_store, use

    previous, previous_counters = case_store(), counter_store.counter_store()
    yield
    use(previous)
    counter_store.use(previous_counters)


@pytest.fixture(autouse=True)
def _duty_store_kept():
    """A test may put a MemoryDutyStore in place of the database's."""
    from services.assignment import duty_store

    previous = duty_store.duty_store()
    yield
    duty_store.use(previous)


@pytest.fixture(autouse=True)
def _slot_store_kept():
    """A test may put a MemoryWorkloadStore (memory_slots.py) in place of the database's slot store."""
    from services.assignment import workload_store

    previous = workload_store.workload_store()
    yield
    workload_store.use(previous)
