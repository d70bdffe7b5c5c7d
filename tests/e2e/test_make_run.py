"""`make run`'s program brings the whole stack up, and SIGTERM brings every process down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from deploy.devstack import ROOT
from deploy.localstack import free_port, port_open
from tests.stack import chosen_kind


def run_env(tmp_path, ports: dict[str, int], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "MONGODB_", "LOCAL_"))}
    env.update({
        "CAMPAIGN_VAR_DIR": str(tmp_path), "LOCAL_KAFKA_PORT": str(ports["kafka"]),
        "LOCAL_MONGO_PORT": str(ports["mongo"]), "LOCAL_SMTP_PORT": str(ports["smtp"]),
        "INTAKE_PORT": str(ports["intake"]), "ASSIGNMENT_PORT": str(ports["assignment"]),
        "NOTIFY_PORT": str(ports["notify"]), "WEB_WORKERS": "1", **extra,
    })
    return env


def wait_until_ready(proc: subprocess.Popen, ports: dict[str, int], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    ready: set[str] = set()
    services = ("intake", "assignment", "notify")
    while time.monotonic() < deadline and len(ready) < 3:
        assert proc.poll() is None, proc.stdout.read()
        for name in services:
            try:
                if requests.get(f"http://127.0.0.1:{ports[name]}/readyz", timeout=1).status_code == 200:
                    ready.add(name)
            except requests.RequestException:
                pass
        time.sleep(0.5)
    assert ready == set(services)


def test_run_starts_everything_and_stops_everything(tmp_path):
    ports = {name: free_port() for name in ("intake", "assignment", "notify", "kafka", "mongo", "smtp")}
    env = run_env(tmp_path, ports)
    proc = subprocess.Popen([sys.executable, "-m", "deploy.run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    children: list[psutil.Process] = []
    try:
        wait_until_ready(proc, ports)
        children = psutil.Process(proc.pid).children(recursive=True)
        # broker, database, mail sink, and web + two workers for each of the three services
        assert len(children) >= 12

        credentials = json.loads((tmp_path / "dev-credentials.json").read_text())
        assert set(credentials) == {"frontline", "cadre", "supervisor", "admin"}
        assert credentials["admin"] and credentials["cadre"] and credentials["frontline"]
        admin = {"Authorization": f"Bearer {credentials['admin']}"}
        assert requests.get(f"http://127.0.0.1:{ports['notify']}/v1/notifications", headers=admin,
                            timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "run: stopped" in out
    time.sleep(0.5)
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child
    for name in ("intake", "assignment", "notify"):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{ports[name]}/healthz", timeout=1)


def test_a_sigkilled_run_leaves_no_process_and_no_port_behind(tmp_path):
    """`make run` killed outright (SIGKILL, a closed terminal): its children die with it, so every
    port is free again within 10 s and the next `make run` can start. On the broker the tests run
    on (Apache Kafka where java and mvn exist)."""
    ports = {name: free_port() for name in ("intake", "assignment", "notify", "kafka", "mongo", "smtp")}
    kafka = "apache" if chosen_kind() == "apache" else "tansu"
    proc = subprocess.Popen([sys.executable, "-m", "deploy.run"], cwd=ROOT,
                            env=run_env(tmp_path, ports, LOCAL_KAFKA=kafka),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_ready(proc, ports)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 12
        assert all(port_open(port) for port in ports.values())
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (any(port_open(p) for p in ports.values())
                                           or any(_alive(c) for c in children)):
        time.sleep(0.2)
    assert [name for name, port in ports.items() if port_open(port)] == []
    assert [c.pid for c in children if _alive(c)] == []


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
