"""Run real `python -m services.assignment consumer` processes against the test stack."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

from kafka import KafkaProducer

from shared import events
from shared.kafka import ensure_topics
from shared.settings import CommonSettings
from tests.integration.shared.helpers import unique

ROOT = Path(__file__).resolve().parents[3]


@dataclasses.dataclass
class Workers:
    env: dict[str, str]
    log_dir: Path
    procs: list[subprocess.Popen] = dataclasses.field(default_factory=list)

    def start(self, n: int, command: str = "consumer") -> None:
        for _ in range(n):
            i = len(self.procs)
            log = open(self.log_dir / f"{command}-{i}.log", "wb")  # noqa: SIM115 - kept by the child
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.assignment", command],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()

    def kill(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(timeout=10)

    def stop(self) -> list[int | None]:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = []
        for p in self.procs:
            try:
                # A worker told to stop in the middle of a rebalance (the others leaving) first
                # finishes its JoinGroup request, which may take kafka-python's request timeout
                # (30 s), then commits and leaves: give it that and some.
                codes.append(p.wait(timeout=60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
        return codes

    def logs(self) -> str:
        return "\n".join(f.read_text(errors="replace")[-3000:] for f in sorted(self.log_dir.glob("*.log")))


def isolated(settings: CommonSettings) -> CommonSettings:
    """Settings with a topic prefix of this test's own, the topics created."""
    mine = dataclasses.replace(settings, topic_prefix=unique("asg") + ".")
    ensure_topics(mine)
    return mine


def worker_env(stack, settings: CommonSettings, db: str, registry_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **stack.env(),
        "ASSIGNMENT_DB": db,
        "KAFKA_TOPIC_PREFIX": settings.topic_prefix,
        "ASSIGNMENT_REGISTRY": str(registry_path),
        "LOG_LEVEL": "WARNING",
        "CONSUMER_RETRY_BACKOFF_MS": "10",
        "ASSIGNMENT_REGISTRY_REFRESH_S": "1",
    }


def clue_event(clue_id: str, jurisdiction: str = "foshan/d1/t1", name: str | None = None, **extra) -> dict:
    data = {
        "clue_id": clue_id,
        "received_at": events.now(),
        "source": "observer",
        "category": "solicitation",
        "jurisdiction": jurisdiction,
        "subject": {"name": name or f"被反映人{clue_id}", "employer": None, "rank": "staff"},
        "amount_cny": None,
        "collusion": False,
        "reporter_ref": "opaque-ref",
        "reporter_contact_sealed": None,
        **extra,
    }
    return events.make_event(events.CLUE_RECEIVED, data, source="/services/intake")


def publish_clues(settings: CommonSettings, envelopes: list[dict]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=False, linger_ms=5
    )
    try:
        topic = settings.topic_prefix + events.CLUE_RECEIVED
        futures = [producer.send(topic, key=e["subject"].encode(), value=events.encode(e)) for e in envelopes]
        producer.flush(30)
        for f in futures:
            f.get(timeout=30)
    finally:
        producer.close()
