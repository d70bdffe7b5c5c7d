"""Fixtures: one broker + database stack per test session, settings pointing at it, clean databases."""

from __future__ import annotations

import pytest

from shared import mongo
from shared.fakes import FakeBroker
from shared.settings import CommonSettings, Env
from tests.stack import chosen_kind, describe, docker_engine, start_apache, start_docker, start_local


def pytest_report_header(config) -> str:
    return f"broker and database: {describe(chosen_kind())} (CAMPAIGN_TEST_STACK chooses)"


@pytest.fixture(scope="session")
def stack():
    """The real broker and database for this session (see tests/stack.py)."""
    kind = chosen_kind()
    if kind == "docker":
        reason = docker_engine()
        if reason:
            pytest.skip(f"CAMPAIGN_TEST_STACK=docker but {reason}")
        test_stack = start_docker()
    elif kind == "apache":
        test_stack = start_apache()
    else:
        test_stack = start_local()
    yield test_stack
    test_stack.stop()


@pytest.fixture(scope="session")
def settings(stack) -> CommonSettings:
    return CommonSettings.from_env(Env({**stack.env(), "CONSUMER_RETRY_BACKOFF_MS": "10"}))


_db_counter = iter(range(1_000_000))


@pytest.fixture
def mongo_db(stack, request):
    """mongoengine connected to a fresh database on the real server; its name is returned."""
    name = f"t{next(_db_counter)}_{request.node.name[:30]}".replace("[", "_").replace("]", "_")
    name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    client = mongo.connect(stack.mongodb_uri, name)
    yield name
    client.drop_database(name)
    mongo.me.disconnect()


@pytest.fixture
def fake_broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
def docker_required():
    reason = docker_engine()
    if reason:
        pytest.skip(f"needs real Apache Kafka and MongoDB in containers: {reason}")
