"""The three services as real processes, started the way `make run` starts them, on the test stack."""

from __future__ import annotations

import tempfile
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller

from deploy.devstack import PROCESSES, Pipeline, start_pipeline
from deploy.localstack import free_port
from tests.integration.shared.helpers import unique


class MailRecorder:
    """An SMTP handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos,
                              message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for rcpt, m in self.messages if address in rcpt]


class E2E:
    def __init__(self, pipeline: Pipeline, mail: MailRecorder) -> None:
        self.pipeline = pipeline
        self.mail = mail
        self.http = requests.Session()

    def url(self, service: str, path: str) -> str:
        return self.pipeline.urls[service] + path

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @property
    def credentials(self) -> dict:
        return self.pipeline.credentials

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted((self.pipeline.work / "logs").glob("*.log")))


@pytest.fixture(scope="session")
def e2e(stack):
    work = Path(tempfile.mkdtemp(prefix="campaign-e2e-"))
    mail = MailRecorder()
    smtp = Controller(mail, hostname="127.0.0.1", port=free_port())
    smtp.start()
    tag = unique("e2e").replace("-", "_")
    try:
        pipeline = start_pipeline(stack.env(), work, {s: free_port() for s in PROCESSES}, tag=tag, extra={
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SENDER": "noreply@test.local",
            "WEB_WORKERS": "1", "INTAKE_RECONCILE_AFTER_S": "20",
            "INTAKE_RECEIPT_RATE_LIMIT": "10000/minute",
        })
    except BaseException:
        smtp.stop()
        raise
    yield E2E(pipeline, mail)
    pipeline.stop()
    smtp.stop()
