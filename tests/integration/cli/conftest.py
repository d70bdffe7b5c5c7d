"""Environment for running the command line against the session's real broker and database."""

from __future__ import annotations

import pytest

from tests.integration.shared.helpers import unique


@pytest.fixture
def cli_env(stack) -> dict[str, str]:
    """The stack's settings with a topic prefix and service databases of this test alone."""
    return {**stack.env(), "KAFKA_TOPIC_PREFIX": unique("cli") + ".",
            "INTAKE_DB": unique("cli_intake").replace("-", "_"),
            "ASSIGNMENT_DB": unique("cli_assignment").replace("-", "_"),
            "NOTIFY_DB": unique("cli_notify").replace("-", "_")}
