from pathlib import Path

import pytest

from services.assignment.registry import Registry
from services.assignment.registry_file import load_registry

FOSHAN = Path(__file__).resolve().parents[3] / "deploy" / "registry" / "foshan.yaml"


@pytest.fixture(scope="session")
def foshan() -> Registry:
    return load_registry(FOSHAN)


@pytest.fixture(autouse=True)
def _stores_kept():
    """A test may put in-memory twins in place of the database's stores (test_handlers.make_world):
    the case, counter, duty and slot stores in use before it are put back after it."""
    from services.assignment import counter_store, duty_store, store, workload_store

    kept = [(store.use, store.case_store()), (counter_store.use, counter_store.counter_store()),
            (duty_store.use, duty_store.duty_store()), (workload_store.use, workload_store.workload_store())]
    yield
    for use, previous in kept:
        use(previous)
