"""The development stack hands each service's processes only the secrets they need."""

from __future__ import annotations

import json

import pytest

from deploy import devstack


@pytest.fixture
def secrets(tmp_path):
    return devstack.dev_secrets(tmp_path / "dev-secrets.json")


@pytest.mark.parametrize("service, own, never", [
    ("intake", {"INTAKE_RECEIPT_KEY", "INTAKE_REPORTER_KEY", "NOTIFY_PUBLIC_KEY"},
     {"NOTIFY_PRIVATE_KEY", "NOTIFY_WEBHOOK_SECRET", "WORKSPACE_SECRET_KEY", "DEV_KEY_SEED"}),
    ("assignment", {"WORKSPACE_SECRET_KEY"},
     {"NOTIFY_PRIVATE_KEY", "INTAKE_REPORTER_KEY", "INTAKE_RECEIPT_KEY", "DEV_KEY_SEED"}),
    ("notify", {"NOTIFY_PRIVATE_KEY", "NOTIFY_WEBHOOK_SECRET"},
     {"INTAKE_REPORTER_KEY", "INTAKE_RECEIPT_KEY", "WORKSPACE_SECRET_KEY", "DEV_KEY_SEED"}),
    (None, set(), set(devstack.ALL_SECRETS)),
])
def test_each_process_gets_only_its_own_secrets(secrets, service, own, never):
    env = devstack.env_for(service, {**secrets, "MONGODB_URI": "mongodb://x", "PATH": "/bin"})
    assert own <= set(env) and not never & set(env)
    assert env["MONGODB_URI"] == "mongodb://x"


def test_the_started_process_gets_the_filtered_environment(tmp_path, secrets):
    procs = devstack.ServiceProcesses({**secrets, "PATH": "/usr/bin:/bin"}, tmp_path / "logs")
    procs.start("intake-web", ["/bin/sh", "-c", "env > " + str(tmp_path / "env.txt")])
    procs.procs["intake-web"].wait(10)
    seen = dict(line.split("=", 1) for line in (tmp_path / "env.txt").read_text().splitlines() if "=" in line)
    assert "INTAKE_REPORTER_KEY" in seen and "NOTIFY_PRIVATE_KEY" not in seen


def test_an_older_secrets_file_gets_the_workspace_key(tmp_path):
    path = tmp_path / "dev-secrets.json"
    path.write_text(json.dumps({"INTAKE_RECEIPT_KEY": "k"}))
    assert devstack.dev_secrets(path)["WORKSPACE_SECRET_KEY"]
    assert "WORKSPACE_SECRET_KEY" in json.loads(path.read_text())
