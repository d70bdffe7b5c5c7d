"""Schemathesis against each running service's /openapi.json: no 5xx, no response breaking its schema.

Each service's operations are fuzzed with data that fits the schema (positive) and data that does
not (negative), a bounded number of examples per operation and mode, with one key of a role that
the routes accept (intake: the shiwan frontline contact point; assignment and notify: admin), so
the requests get past authentication into the handlers.

Checks: schemathesis's `not_a_server_error` and `response_schema_conformance`. Status codes are not
checked against the document: an operation documents its usual answers, not every refusal the
edge may give (a 413 body, a 429 of the receipt limit).

The registry PUT routes of assignment are left out: a generated registry that happens to be valid
would replace the one every other e2e test routes by.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = pytest.mark.e2e

EXAMPLES = 80  # per operation and mode; the whole file stays well under a minute and a half
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [not_a_server_error, response_schema_conformance]
KEYS = {
    "intake": lambda creds: creds["frontline"]["foshan/chancheng/shiwan/contact"],
    "assignment": lambda creds: creds["admin"],
    "notify": lambda creds: creds["admin"],
}
SKIPPED = {("PUT", "/v1/registry")}  # and every PUT under /v1/registry/ (see the module docstring)


@schemathesis.serializer("application/x-ndjson")
def _ndjson_body(ctx, value) -> dict:
    """The import's body: the generated clue (or, negative, any JSON value) as one NDJSON line."""
    return {"data": (json.dumps(value) + "\n").encode()}


@schemathesis.deserializer("application/x-ndjson")
def _ndjson_results(ctx, response):
    """The import's answer: one result per line; a one-line body is checked as that result."""
    lines = [json.loads(line) for line in response.content.decode().splitlines() if line.strip()]
    return lines[0] if len(lines) == 1 else lines


def skipped(method: str, path: str) -> bool:
    return (method.upper(), path) in SKIPPED or (method.upper() == "PUT" and path.startswith("/v1/registry/"))


def fuzz_operation(operation, mode: GenerationMode, headers: dict[str, str], statuses: Counter) -> None:
    """Run the operation's examples in `mode`, counting the answers' status codes (failures raise)."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
        statuses[response.status_code] += 1

    run()


@pytest.mark.timeout(900)  # intake documents 15 operations since the seed's practices (cards, observers)
@pytest.mark.parametrize("service", list(KEYS))
def test_fuzz(e2e, service: str):
    schema = schemathesis.openapi.from_url(e2e.url(service, "/openapi.json"), timeout=10)
    headers = e2e.auth(KEYS[service](e2e.credentials))
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if not skipped(op.method, op.path)]
    assert fuzzed, f"{service} documents no operation to fuzz"
    failures: list[str] = []
    statuses: Counter = Counter()
    started = time.monotonic()
    for operation in fuzzed:
        for mode in MODES:
            try:
                fuzz_operation(operation, mode, headers, statuses)
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then fail once
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    elapsed = time.monotonic() - started
    print(f"fuzz {service}: {sum(statuses.values())} requests over {len(fuzzed)} operations "
          f"in {elapsed:.1f} s, status codes {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(failures)
