"""Which broker and database the tests talk to: the local stand-ins, or real ones in containers.

`CAMPAIGN_TEST_STACK` chooses: `local` (Tansu + nx-27017, the default where no Docker engine
answers), `docker` (Apache Kafka and MongoDB through testcontainers), or `auto` (docker when an
engine answers a ping, local otherwise).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deploy.localstack import LocalStack

KAFKA_IMAGE = "confluentinc/cp-kafka:7.7.1"
MONGO_IMAGE = "mongo:7.0.14"


def docker_engine() -> str | None:
    """None when a Docker engine answers a ping, otherwise why not."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means no engine
        return f"no Docker engine answers a ping ({type(exc).__name__})"


@dataclass
class TestStack:
    kind: str
    kafka_bootstrap: str
    mongodb_uri: str
    local: LocalStack | None = None
    containers: list = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "MONGODB_URI": self.mongodb_uri,
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
        }

    def stop(self) -> None:
        if self.local:
            self.local.stop()
        for container in self.containers:
            container.stop()


def start_local() -> TestStack:
    data_dir = Path(tempfile.mkdtemp(prefix="campaign-test-stack-"))
    local = LocalStack(data_dir).start()
    return TestStack("local", local.kafka_bootstrap, local.mongodb_uri, local=local)


def start_docker() -> TestStack:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer

    kafka = KafkaContainer(KAFKA_IMAGE).with_kraft()
    mongo = MongoDbContainer(MONGO_IMAGE)
    kafka.start()
    try:
        mongo.start()
    except BaseException:
        kafka.stop()
        raise
    return TestStack("docker", kafka.get_bootstrap_server(), mongo.get_connection_url(),
                     containers=[kafka, mongo])


def chosen_kind() -> str:
    wanted = os.environ.get("CAMPAIGN_TEST_STACK", "auto")
    if wanted == "auto":
        return "docker" if docker_engine() is None else "local"
    if wanted not in {"local", "docker"}:
        raise SystemExit(f"CAMPAIGN_TEST_STACK: {wanted!r} is not one of auto, local, docker")
    return wanted
