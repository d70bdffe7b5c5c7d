"""Apache Kafka (deploy/kafkastack.py) beside the MongoDB stand-in, as one stack with LocalStack's
interface: what `LOCAL_KAFKA=apache make run`, `make chaos --kafka apache`, the benchmarks and the
tests start instead of Tansu."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from deploy.kafkastack import KafkaCluster
from deploy.localstack import LocalStack


class ApacheStack:
    """Apache Kafka (1 or 3 nodes) and nx-27017, data under `data_dir`."""

    def __init__(self, data_dir: Path, nodes: int = 1, kafka_port: int = 0, mongo_port: int = 0,
                 memory_db: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.local = LocalStack(self.data_dir, mongo_port=mongo_port, memory_db=memory_db)
        cluster_dir = self.data_dir / "kafka"
        if kafka_port and nodes == 1 and (cluster_dir / "cluster.json").exists():
            saved = json.loads((cluster_dir / "cluster.json").read_text())
            if saved["ports"] != [kafka_port]:  # asked for another port: a cluster of its own
                cluster_dir = self.data_dir / f"kafka-{kafka_port}"
        self.cluster = KafkaCluster(cluster_dir, nodes=nodes, ports=[kafka_port] if kafka_port else [])

    @property
    def kafka_bootstrap(self) -> str:
        return self.cluster.bootstrap

    @property
    def mongodb_uri(self) -> str:
        return self.local.mongodb_uri

    @property
    def mongo_port(self) -> int:
        return self.local.mongo_port

    @property
    def kind(self) -> str:
        return self.cluster.kind

    def env(self) -> dict[str, str]:
        return {**self.cluster.env(), "MONGODB_URI": self.mongodb_uri}

    def start(self) -> ApacheStack:
        try:
            self.local.start_mongo()
            self.cluster.start()
        except BaseException:
            self.stop()
            raise
        return self

    def start_mongo(self) -> None:
        self.local.start_mongo()

    def stop_mongo(self, sig: int = signal.SIGTERM) -> None:
        self.local.stop_mongo(sig)

    def stop(self) -> None:
        self.cluster.stop()
        self.local.stop()
