from pathlib import Path

import pytest

from services.assignment.registry import Registry, load_registry

FOSHAN = Path(__file__).resolve().parents[3] / "deploy" / "registry" / "foshan.yaml"


@pytest.fixture(scope="session")
def foshan() -> Registry:
    return load_registry(FOSHAN)
