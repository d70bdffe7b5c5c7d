"""Browser tests: Debian's Chromium driven by Playwright against the real services.

The whole folder is skipped, with the reason, when /usr/bin/chromium or the playwright package
is missing (never `playwright install`: no browser can be downloaded here). `browser_pipeline`
runs the three services the way `make run` does (deploy.devstack.start_pipeline) on the test
stack, with an SMTP recorder for notify; tests of any page share it.
"""

from __future__ import annotations

import importlib.util
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.devstack import PROCESSES, ROOT, Pipeline, start_pipeline
from deploy.localstack import free_port
from tests.e2e.conftest import MailRecorder
from tests.integration.shared.helpers import unique

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "var" / "screenshots"


def missing_browser() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (install Debian's package: apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing (.venv/bin/pip install playwright==1.65.2)"
    return None


@pytest.fixture(scope="session", autouse=True)
def _browser_available() -> None:
    reason = missing_browser()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")


@dataclass
class BrowserPipeline:
    """The running services, their demo credentials and the mail notify sent."""

    pipeline: Pipeline
    mail: MailRecorder

    def url(self, service: str, path: str = "/") -> str:
        return self.pipeline.urls[service] + path

    @property
    def credentials(self) -> dict:
        return self.pipeline.credentials

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted((self.pipeline.work / "logs").glob("*.log")))


@pytest.fixture(scope="session")
def browser_pipeline(stack, _browser_available) -> Iterator[BrowserPipeline]:
    """Intake, assignment and notify as real processes on the test stack (own databases and topics)."""
    from aiosmtpd.controller import Controller

    work = Path(tempfile.mkdtemp(prefix="campaign-browser-"))
    mail = MailRecorder()
    smtp = Controller(mail, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        pipeline = start_pipeline(
            stack.env(), work, {s: free_port() for s in PROCESSES}, tag=unique("br").replace("-", "_"),
            extra={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SENDER": "noreply@test.local",
                   "WEB_WORKERS": "1",
                   # every page of the session comes from 127.0.0.1: the receipt limit is the
                   # integration tests' subject, not the browser's
                   "INTAKE_RECEIPT_RATE_LIMIT": "10000/minute"})
    except BaseException:
        smtp.stop()
        raise
    yield BrowserPipeline(pipeline, mail)
    pipeline.stop()
    smtp.stop()


@pytest.fixture(scope="session")
def browser(_browser_available):
    """Debian's Chromium, headless, launched through Playwright."""
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()
    driver.stop()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) and page for one test."""
    context = browser.new_context(viewport={"width": 1000, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot(request) -> Callable:
    """shot(page, name): save a full-page screenshot as var/screenshots/<test>-<nn>-<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name.removeprefix("test_"))[:40]
    taken: list[Path] = []

    def shot(tab, name: str) -> Path:
        path = SCREENSHOTS / f"{test}-{len(taken) + 1:02d}-{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return shot
