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
from deploy.localstack import free_port


def test_run_starts_everything_and_stops_everything(tmp_path):
    ports = {name: free_port() for name in ("intake", "assignment", "notify")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "MONGODB_"))}
    env.update({
        "CAMPAIGN_VAR_DIR": str(tmp_path), "LOCAL_KAFKA_PORT": str(free_port()),
        "LOCAL_MONGO_PORT": str(free_port()), "LOCAL_SMTP_PORT": str(free_port()),
        "INTAKE_PORT": str(ports["intake"]), "ASSIGNMENT_PORT": str(ports["assignment"]),
        "NOTIFY_PORT": str(ports["notify"]), "WEB_WORKERS": "1",
    })
    proc = subprocess.Popen([sys.executable, "-m", "deploy.run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        ready: set[str] = set()
        while time.monotonic() < deadline and len(ready) < 3:
            assert proc.poll() is None, proc.stdout.read()
            for name, port in ports.items():
                try:
                    if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        ready.add(name)
                except requests.RequestException:
                    pass
            time.sleep(0.5)
        assert ready == set(ports)
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
    for port in ports.values():
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
