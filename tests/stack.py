"""Which broker and database the tests talk to.

`CAMPAIGN_TEST_STACK` chooses: `apache` (Apache Kafka from its own jars, deploy/kafkastack.py,
with nx-27017), `local` (the stand-ins Tansu + nx-27017), `docker` (Apache Kafka and MongoDB
through testcontainers), or `auto`: docker when an engine answers a ping, else apache where java
and mvn are on PATH (CI here), else local. The pytest header names the one chosen.

On Apache Kafka the services run with production's settings: the idempotent producer, acks=all
and Kafka's own group timeouts (a test that kills a member sets short ones itself).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deploy.apachestack import ApacheStack
from deploy.kafkastack import KafkaCluster, kafka_version, missing_tools, resolve_jars
from deploy.localstack import LocalStack, StackError

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
    cluster: KafkaCluster | None = None

    @property
    def apache(self) -> bool:
        """Apache Kafka (its jars or a container), not the stand-in."""
        return self.kind in ("apache", "docker")

    def env(self) -> dict[str, str]:
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap, "MONGODB_URI": self.mongodb_uri,
               "KAFKA_ENABLE_IDEMPOTENCE": "true"}
        if not self.apache:
            # Tansu holds a group join for half the session timeout (LOCAL-STACK.md).
            env.update({"KAFKA_SESSION_TIMEOUT_MS": "6000", "KAFKA_HEARTBEAT_INTERVAL_MS": "1000"})
        return env

    def stop(self) -> None:
        if self.cluster:
            self.cluster.stop()
        if self.local:
            self.local.stop()
        for container in self.containers:
            container.stop()


def start_local() -> TestStack:
    data_dir = Path(tempfile.mkdtemp(prefix="campaign-test-stack-"))
    local = LocalStack(data_dir).start()
    return TestStack("local", local.kafka_bootstrap, local.mongodb_uri, local=local)


def start_apache() -> TestStack:
    """One Apache Kafka node (production's settings) and nx-27017, data in a temporary directory."""
    apache = ApacheStack(Path(tempfile.mkdtemp(prefix="campaign-test-stack-")), nodes=1).start()
    return TestStack("apache", apache.kafka_bootstrap, apache.mongodb_uri, local=apache.local,
                     cluster=apache.cluster)


def describe(kind: str) -> str:
    """The pytest header's line: which broker and database this run uses."""
    return {
        "apache": f"Apache Kafka {kafka_version()} (KRaft, jars from Maven Central) + nx-27017",
        "local": "Tansu 0.6.0 (stand-in) + nx-27017",
        "docker": f"{KAFKA_IMAGE} + {MONGO_IMAGE} (testcontainers)",
    }[kind]


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


_CHOSEN: list[str] = []


def apache_available() -> bool:
    """java and mvn exist and Kafka's jars are there (fetched now if need be)."""
    if missing_tools() is not None:
        return False
    try:
        resolve_jars()
    except StackError:
        return False
    return True


def chosen_kind() -> str:
    """The stack kind for this run, decided once."""
    if _CHOSEN:
        return _CHOSEN[0]
    wanted = os.environ.get("CAMPAIGN_TEST_STACK", "auto")
    if wanted == "auto":
        if docker_engine() is None:
            wanted = "docker"
        else:
            wanted = "apache" if apache_available() else "local"
    if wanted not in {"apache", "local", "docker"}:
        raise SystemExit(f"CAMPAIGN_TEST_STACK: {wanted!r} is not one of auto, apache, local, docker")
    _CHOSEN.append(wanted)
    return wanted
