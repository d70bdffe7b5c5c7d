"""/metrics of a web process under gunicorn sums every worker (prometheus-client's multiprocess
mode, shared/serve.py and shared/metrics.py): real gunicorn, two worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from deploy.localstack import free_port
from tests.integration.shared.helpers import wait_for

from .test_scrape import samples, value

ROOT = Path(__file__).resolve().parents[3]
PID_ROUTE = {"service": "demo", "route": "/pid", "status": "200"}


@pytest.fixture
def two_workers(tmp_path):
    """The demo app on two gunicorn workers, METRICS_DIR under tmp_path holding a stale file."""
    port = free_port()
    directory = tmp_path / "metrics" / f"demo-{port}"
    directory.mkdir(parents=True)
    (directory / "counter_999999.db").write_bytes(b"left by an earlier run")
    env = {**os.environ, "METRICS_DIR": str(tmp_path / "metrics"), "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.metrics.gunicorn_app", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), timeout=60, message="gunicorn answering")
        yield url, directory, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _pid(url: str) -> int:
    # A new connection each time, so gunicorn's workers take turns accepting.
    return requests.get(url + "/pid", headers={"Connection": "close"}, timeout=5).json()["pid"]


def _counted(url: str) -> float | None:
    return value(samples(requests.get(url + "/metrics", headers={"Connection": "close"}, timeout=5).text),
                 "http_requests_total", **PID_ROUTE)


def test_a_scrape_sums_the_counters_of_both_workers(two_workers):
    url, directory, proc = two_workers
    assert not (directory / "counter_999999.db").exists()  # emptied at start
    answered: list[int] = []
    while len(set(answered)) < 2 and len(answered) < 2000:
        answered.append(_pid(url))
    assert len(set(answered)) == 2, "one worker took every connection"
    # Whichever worker answers a scrape, it counts the requests both answered.
    assert {_counted(url) for _ in range(10)} == {float(len(answered))}

    os.kill(answered[0], signal.SIGKILL)  # gunicorn starts another; child_exit marks it dead
    wait_for(lambda: _answers(url) and answered[0] not in {_pid(url) for _ in range(6)},
             timeout=60, message="the killed worker replaced")
    after = {_counted(url) for _ in range(10)}
    assert len(after) == 1 and after.pop() >= len(answered)  # the dead worker's counts stay

    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert not directory.exists()  # removed at exit
