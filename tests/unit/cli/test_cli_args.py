"""The command line's argument handling and pure helpers: no broker, no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from services.cli import campaign
from shared import broker_commands, cli, clue_import

DEMO_REGISTRY = Path(__file__).resolve().parents[3] / "deploy" / "registry" / "foshan.yaml"
GOOD_ENV = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "MONGODB_URI": "mongodb://127.0.0.1:1/"}


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(campaign, list(args), env=env if env is not None else GOOD_ENV)


@pytest.mark.parametrize(("role", "wanted", "expected"), [
    ("frontline", (), ("intake",)),
    ("cadre", (), ("assignment",)),
    ("supervisor", (), ("intake", "assignment")),
    ("admin", (), ("intake", "assignment", "notify")),
    ("admin", ("notify",), ("notify",)),
    ("supervisor", ("assignment", "assignment"), ("assignment",)),
])
def test_services_for_role(role, wanted, expected):
    assert cli.services_for_role(role, wanted) == expected


@pytest.mark.parametrize(("role", "wanted"), [
    ("frontline", ("assignment",)), ("cadre", ("intake",)), ("supervisor", ("notify",))])
def test_a_service_that_does_not_accept_the_role_is_refused(role, wanted):
    with pytest.raises(click.BadParameter, match="does not accept"):
        cli.services_for_role(role, wanted)


@pytest.mark.parametrize(("args", "message"), [
    (("keys", "issue", "mayor", "x"), "Invalid value for 'ROLE'"),
    (("keys", "issue", "cadre"), "needs a SCOPE"),
    (("keys", "issue", "admin", "foshan"), "has no SCOPE"),
    (("keys", "issue", "frontline", "u1", "--service", "notify"), "does not accept frontline"),
    (("keys", "issue", "frontline", "u1", "--service", "billing"), "Invalid value for '--service'"),
    (("dlq", "replay", "no-such-topic"), "is not one of"),
    (("dlq", "replay", "clue-received", "--limit", "0"), "Invalid value for '--limit'"),
    (("import", "clues", "/no/such/file.ndjson", "--key", "k"), "does not exist"),
    (("serve", "intake", "scheduler"), "intake runs web, consumer, relay"),
    (("serve", "billing", "web"), "Invalid value for 'SERVICE'"),
])
def test_bad_arguments_are_a_usage_error(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output


@pytest.mark.parametrize(("env", "variable"), [
    ({"MONGODB_URI": "mongodb://127.0.0.1:1/"}, "KAFKA_BOOTSTRAP_SERVERS"),
    ({**GOOD_ENV, "MONGODB_URI": "postgres://x"}, "MONGODB_URI"),
    ({**GOOD_ENV, "KAFKA_TOPIC_PREFIX": "bad prefix"}, "KAFKA_TOPIC_PREFIX"),
])
def test_a_bad_setting_is_one_line_and_exit_2(env, variable):
    result = CliRunner().invoke(campaign, ["lag"], env={"KAFKA_BOOTSTRAP_SERVERS": "", "MONGODB_URI": "",
                                                       "KAFKA_TOPIC_PREFIX": "", **env})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "bad setting" in lines[0] and variable in lines[0]


def test_database_names_come_from_the_environment():
    settings = cli.CliSettings.from_env(cli.Env({**GOOD_ENV, "ASSIGNMENT_DB": "a2"}))
    assert settings.databases == {"intake": "campaign_intake", "assignment": "a2",
                                  "notify": "campaign_notify"}


def test_an_unreachable_broker_is_one_line_and_exit_3():
    result = run("lag", "--group", "g")
    assert result.exit_code == 3, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.output


def test_batches_keep_file_line_numbers_and_skip_blank_lines(tmp_path):
    path = tmp_path / "clues.ndjson"
    path.write_bytes(b'{"a":1}\n\n{"a":2}\r\n{"a":3}\n   \n{"a":4}')
    assert clue_import.count_lines(path) == 4
    assert list(clue_import.batches(path, 3)) == [
        [(1, b'{"a":1}'), (3, b'{"a":2}'), (4, b'{"a":3}')],
        [(6, b'{"a":4}')],
    ]


def test_the_lag_table_knows_each_services_consumer_group():
    from services.assignment import consumer as assignment
    from services.intake import consumer as intake
    from services.notify import consumer as notify
    from services.notify.handlers import HANDLERS

    assert broker_commands.CONSUMER_GROUPS == {
        intake.GROUP_ID: intake.CASE_TOPICS,
        assignment.GROUP: ("clue-received", "clue-followed-up"),
        notify.GROUP_ID: tuple(HANDLERS),
    }


@pytest.mark.parametrize("body", [
    '{"line": 1, "result": "accepted", "code": 202}\n{"line": 2, "result": "rejected", "code": 422}\n',
    json.dumps([{"line": 1, "status": "accepted", "clue_id": "c1"},
                {"line": 2, "status": "rejected", "errors": {"source": ["bad"]}}]),
    json.dumps({"results": [{"line": 1, "status": "accepted"}, {"line": 2, "status": "rejected"}]}),
    json.dumps({"items": [{"line": 1, "accepted": True}, {"line": 2, "accepted": False}]}),
    '{"line": 1, "status": "accepted"}\n{"line": 2, "status": "rejected"}\n',
])
def test_parse_results_reads_each_response_shape(body):
    results = clue_import.parse_results(body.encode())
    assert [(r["line"], r["status"]) for r in results] == [(1, "accepted"), (2, "rejected")]


def test_parse_results_reads_a_single_ndjson_line():
    results = clue_import.parse_results(b'{"line": 1, "status": "accepted"}\n')
    assert results == [{"line": 1, "status": "accepted"}]


@pytest.mark.parametrize("body", [b'{"detail": "nope"}', b'"text"', b"[1, 2]"])
def test_parse_results_refuses_other_shapes(body):
    with pytest.raises(ValueError, match="per-line results"):
        clue_import.parse_results(body)


def test_help_lists_every_command():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("keys", "registry", "import", "dlq", "lag", "serve"):
        assert command in result.output


@pytest.mark.parametrize(("args", "env", "variable"), [
    (("serve", "intake", "web"), {**GOOD_ENV, "INTAKE_RECEIPT_KEY": ""}, "INTAKE_RECEIPT_KEY"),
    (("serve", "notify", "consumer"), {**GOOD_ENV, "KAFKA_BOOTSTRAP_SERVERS": ""}, "KAFKA_BOOTSTRAP_SERVERS"),
    (("registry", "load", str(DEMO_REGISTRY)), {**GOOD_ENV, "MONGODB_URI": ""}, "MONGODB_URI"),
])
def test_a_process_with_a_bad_setting_is_one_line_and_exit_2(args, env, variable):
    result = CliRunner().invoke(campaign, list(args), env=env)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "bad setting" in lines[0] and variable in lines[0]


@pytest.mark.parametrize(("argv", "message"), [
    (["-m", "services.intake", "scheduler"], "'scheduler' is not one of 'web', 'consumer', 'relay'"),
    (["-m", "services.notify", "web"], "bad setting: MONGODB_URI"),
    (["-m", "services.cli", "serve", "assignment", "consumer"], "bad setting: MONGODB_URI"),
])
def test_python_dash_m_runs_the_same_command_line(argv, message):
    """`python -m services.<service> PROCESS` is `campaign serve <service> PROCESS` (exit 2 here)."""
    env = {**os.environ, "MONGODB_URI": "", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, *argv], env=env, cwd=DEMO_REGISTRY.parents[2],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
