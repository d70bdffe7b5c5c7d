"""The three services as real processes, started the way `make run` starts them, on the test stack."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller

from deploy.devstack import PROCESSES, REGISTRY, ServiceProcesses, dev_secrets, service_env, write_credentials
from deploy.localstack import free_port
from shared.kafka import ensure_topics
from shared.settings import CommonSettings, Env
from tests.integration.shared.helpers import unique


class MailRecorder:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        from email import message_from_bytes, policy

        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content,
                                                                    policy=policy.default)))
        return "250 OK"


@dataclass
class Pipeline:
    urls: dict[str, str]
    credentials: dict
    mail: MailRecorder
    procs: ServiceProcesses
    env: dict[str, str]
    databases: dict[str, str]
    log_dir: Path
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, service: str, path: str) -> str:
        return self.urls[service] + path

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


def wait_ready(url: str, proc_name: str, procs: ServiceProcesses, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc_name in procs.exited():
            raise RuntimeError(f"{proc_name} exited: see {procs.log_dir / (proc_name + '.log')}")
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready within {timeout} s")


@pytest.fixture(scope="session")
def pipeline(stack):
    work = Path(tempfile.mkdtemp(prefix="campaign-e2e-"))
    mail = MailRecorder()
    smtp = Controller(mail, hostname="127.0.0.1", port=free_port())
    smtp.start()
    tag = unique("e2e").replace("-", "_")
    databases = {s: f"{tag}_{s}" for s in PROCESSES}
    ports = {s: free_port() for s in PROCESSES}
    secrets = dev_secrets(work / "secrets.json")
    seed = secrets.pop("DEV_KEY_SEED")
    extra = {
        "KAFKA_TOPIC_PREFIX": f"{tag}.",
        "INTAKE_DB": databases["intake"], "ASSIGNMENT_DB": databases["assignment"],
        "NOTIFY_DB": databases["notify"],
        "INTAKE_PORT": str(ports["intake"]), "ASSIGNMENT_PORT": str(ports["assignment"]),
        "NOTIFY_PORT": str(ports["notify"]),
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SENDER": "noreply@test.local",
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true", "WEB_WORKERS": "1",
        "INTAKE_RECONCILE_AFTER_S": "20", "LOG_LEVEL": "INFO",
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "MONGODB_"))}
    env = service_env(base, stack.env(), secrets, extra)
    ensure_topics(CommonSettings.from_env(Env(env)))
    procs = ServiceProcesses(env, work / "logs")
    try:
        loaded = procs.run_once([sys.executable, "-m", "services.assignment", "load-registry",
                                 str(REGISTRY)])
        assert loaded.returncode == 0, loaded.stderr
        credentials = write_credentials(stack.mongodb_uri, work / "dev-credentials.json", seed,
                                        databases=databases)
        procs.start_all()
        urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
        for service, url in urls.items():
            wait_ready(url, f"{service}-web", procs)
        yield Pipeline(urls, credentials, mail, procs, env, databases, work / "logs")
    finally:
        procs.stop()
        smtp.stop()
