"""A local Apache Kafka cluster (KRaft) from Kafka's own jars, without Docker.

`deploy/kafka/pom.xml` pins the Kafka version (the one docker-compose.yml runs); `mvn` copies the
broker and its dependencies into `var/kafka/<version>/libs` once (`resolve_jars`). `KafkaCluster`
runs 1 or 3 nodes on 127.0.0.1, each `process.roles=broker,controller` with its own log directory,
formatted once, with the settings production uses (replication 3 and min.insync.replicas=2 on
three nodes, no topic auto-creation) and a heap sized for a small machine.

    python -m deploy.kafkastack resolve          # fetch the jars (once)
    python -m deploy.kafkastack [--nodes 3] DIR  # run a cluster in the foreground
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from deploy.localstack import (
    StackError,
    free_port,
    run_until_stopped,
    spawn_child,
    stop_process_group,
    stop_process_groups,
    wait_until_up,
)

ROOT = Path(__file__).resolve().parent.parent
POM = ROOT / "deploy" / "kafka" / "pom.xml"
VAR = Path(os.environ.get("CAMPAIGN_VAR_DIR", ROOT / "var"))
# Per node: 2 cores and six engineers' work share this machine; the broker needs little.
HEAP = os.environ.get("LOCAL_KAFKA_HEAP", "-Xms128m -Xmx384m")
JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Djava.awt.headless=true"]


def kafka_version() -> str:
    """The pinned version, read from the pom (kept equal to docker-compose.yml's image tag)."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not found:  # pragma: no cover - the pom is ours
        raise StackError(f"{POM}: no <kafka.version>")
    return found.group(1)


def missing_tools() -> str | None:
    """None when java and mvn are on PATH, otherwise a one-line reason."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        return (f"Apache Kafka needs {' and '.join(missing)} on PATH "
                "(apt-get install openjdk-17-jre-headless maven)")
    return None


def libs_dir(var: Path | None = None) -> Path:
    return (var or VAR) / "kafka" / kafka_version() / "libs"


def resolve_jars(var: Path | None = None, quiet: bool = False) -> Path:
    """Kafka's jars in `var/kafka/<version>/libs`, fetched with mvn from Maven Central the first time."""
    libs = libs_dir(var)
    done = libs / ".resolved"
    if done.exists():
        return libs
    reason = missing_tools()
    if reason:
        raise StackError(reason)
    if not quiet:
        print(f"kafkastack: fetching Apache Kafka {kafka_version()} jars with mvn into {libs} "
              "(once, about 30 s)", file=sys.stderr, flush=True)
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    proc = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={tmp}", "-DincludeScope=runtime"],
        capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        raise StackError(f"mvn could not fetch Apache Kafka {kafka_version()}: {tail[0][:300]}")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    done.write_text(kafka_version() + "\n")
    return libs


LOG4J = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
"""


@dataclass
class KafkaCluster:
    """`nodes` KRaft nodes (broker and controller each) under `data_dir`, on 127.0.0.1.

    The ports, the cluster id and the log directories are kept in `data_dir/cluster.json`, so a
    cluster started again on the same directory is the same cluster with the same records.
    """

    data_dir: Path
    nodes: int = 1
    ports: list[int] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)
    procs: dict[int, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.nodes not in (1, 3):
            raise StackError(f"LOCAL_KAFKA_NODES: {self.nodes} is not 1 or 3")
        self.data_dir = Path(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        state = self.data_dir / "cluster.json"
        if state.exists():
            saved = json.loads(state.read_text())
            self.nodes, self.cluster_id = saved["nodes"], saved["cluster_id"]
            self.ports, self.controller_ports = saved["ports"], saved["controller_ports"]
        else:
            self.cluster_id = _cluster_id()
            self.ports = [*self.ports, *(free_port() for _ in range(self.nodes - len(self.ports)))]
            self.controller_ports = [free_port() for _ in range(self.nodes)]
            state.write_text(json.dumps({"nodes": self.nodes, "cluster_id": self.cluster_id,
                                         "ports": self.ports,
                                         "controller_ports": self.controller_ports}))

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    @property
    def kind(self) -> str:
        return f"Apache Kafka {kafka_version()} ({self.nodes} node{'s' if self.nodes > 1 else ''})"

    def node_ids(self) -> list[int]:
        return list(range(1, self.nodes + 1))

    def port_of(self, node: int) -> int:
        return self.ports[node - 1]

    def env(self) -> dict[str, str]:
        """Service settings for this cluster: production's (idempotence on, Kafka's group timeouts)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_REPLICATION_FACTOR": str(self.nodes),
            "KAFKA_ENABLE_IDEMPOTENCE": "true",
        }

    def _properties(self, node: int) -> Path:
        i = node - 1
        voters = ",".join(f"{n}@127.0.0.1:{p}" for n, p in zip(self.node_ids(), self.controller_ports,
                                                                strict=True))
        replicas = str(self.nodes)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.ports[i]},"
                         f"CONTROLLER://127.0.0.1:{self.controller_ports[i]}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.ports[i]}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir / f"node-{node}" / "data"),
            # As in docker-compose.yml.
            "default.replication.factor": replicas,
            "min.insync.replicas": "2" if self.nodes == 3 else "1",
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": "2" if self.nodes == 3 else "1",
            "auto.create.topics.enable": "false",
            "unclean.leader.election.enable": "false",
            # Small and quick for a test machine: a group's first join is not held 3 s, fewer
            # internal partitions to create and load, fewer threads.
            "group.initial.rebalance.delay.ms": "0",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.num.partitions": "3",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "2",
            "log.cleaner.threads": "1",
            "log.segment.bytes": str(64 * 1024 * 1024),
            **self.extra,
        }
        path = self.data_dir / f"node-{node}" / "server.properties"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _java(self, *args: str) -> list[str]:
        log4j = self.data_dir / "log4j.properties"
        if not log4j.exists():
            log4j.write_text(LOG4J)
        return ["java", *HEAP.split(), *JVM_FLAGS, f"-Dlog4j.configuration=file:{log4j}",
                "-cp", str(libs_dir() / "*"), *args]

    def _format(self, node: int, props: Path) -> None:
        """Format the node's log directory, once (a formatted one keeps its records)."""
        if (self.data_dir / f"node-{node}" / "data" / "meta.properties").exists():
            return
        proc = subprocess.run(self._java("kafka.tools.StorageTool", "format",
                                         f"--cluster-id={self.cluster_id}", "-c", str(props),
                                         "--ignore-formatted"),
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise StackError(f"formatting Kafka node {node} failed: {proc.stderr.strip()[-300:]}")

    def start(self, timeout: float = 120.0) -> KafkaCluster:
        reason = missing_tools()
        if reason:
            raise StackError(reason)
        resolve_jars()
        try:
            for node in self.node_ids():
                self._format(node, self._properties(node))
            for node in self.node_ids():
                self.start_node(node, wait=False)
            for node in self.node_ids():
                self.wait_node(node, timeout)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, node: int, wait: bool = True, timeout: float = 120.0) -> None:
        if node in self.procs and self.procs[node].poll() is None:
            return
        props = self._properties(node)
        self._format(node, props)
        self.procs[node] = spawn_child(self._java("kafka.Kafka", str(props)),
                                       self.data_dir / f"node-{node}.log")
        if wait:
            self.wait_node(node, timeout)

    def wait_node(self, node: int, timeout: float = 120.0) -> None:
        wait_until_up(self.procs[node], f"Kafka node {node}", self.port_of(node),
                      self.data_dir / f"node-{node}.log", timeout=timeout, pause=0.2, verb="listen")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until every running node knows every running node (each node's metadata catches up on
        its own: a client that asked a lagging one would be told of a controller it cannot reach)
        and a topic can be listed."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            lagging = [n for n in self.running() if (last := self._node_view(n)) is not None]
            if not lagging:
                return
            time.sleep(0.5)
        raise StackError(f"Apache Kafka at {self.bootstrap} not ready within {timeout:.0f} s: {last}")

    def _node_view(self, node: int) -> str | None:
        """None when `node` reports every running node registered and lists topics; else why not."""
        from kafka import KafkaAdminClient

        try:
            admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{self.port_of(node)}",
                                     request_timeout_ms=5000)
        except Exception as exc:  # noqa: BLE001 - not up yet
            return f"node {node}: {type(exc).__name__}"
        try:
            brokers = admin.describe_cluster().get("brokers", [])
            known = {b.get("broker_id", b.get("node_id")) for b in brokers if not b.get("is_fenced")}
            if not set(self.running()) <= known:
                return f"node {node} knows {len(known)} of {len(self.running())} brokers"
            admin.list_topics()
            return None
        except Exception as exc:  # noqa: BLE001 - not ready yet
            return f"node {node}: {type(exc).__name__}"
        finally:
            admin.close()

    def running(self) -> list[int]:
        return [n for n, p in self.procs.items() if p.poll() is None]

    def stop_node(self, node: int, sig: int = signal.SIGTERM, timeout: float = 60.0) -> None:
        """Stop one node: SIGTERM is a controlled shutdown, SIGKILL a crash."""
        stop_process_group(self.procs.pop(node, None), sig, timeout)

    def kill_node(self, node: int) -> None:
        self.stop_node(node, signal.SIGKILL)

    def leader_of(self, topic: str, partition: int = 0) -> int:
        """The node id leading `topic`'s partition, from the cluster's metadata."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            consumer.topics()
            leader = consumer._client.cluster.leader_for_partition(  # noqa: SLF001 - metadata only
                TopicPartition(topic, partition))
        finally:
            consumer.close()
        if leader is None or leader < 0:
            raise StackError(f"{topic}[{partition}] has no leader")
        return leader

    def stop(self, timeout: float = 30.0) -> None:
        # All nodes at once: stopping them one by one makes the last ones wait for a quorum.
        procs, self.procs = list(self.procs.values()), {}
        stop_process_groups(procs, timeout)


def _cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64 without padding."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=str(VAR / "kafka-cluster"),
                        help="'resolve' fetches the jars only")
    parser.add_argument("--nodes", type=int, default=int(os.environ.get("LOCAL_KAFKA_NODES", "1")))
    args = parser.parse_args(argv)
    try:
        if args.data_dir == "resolve":
            print(resolve_jars())
            return 0
        cluster = KafkaCluster(Path(args.data_dir), nodes=args.nodes).start()
    except StackError as exc:
        print(f"kafkastack: {exc}", file=sys.stderr)
        return 1
    print(f"KAFKA_BOOTSTRAP_SERVERS={cluster.bootstrap}", flush=True)
    run_until_stopped(cluster.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
