"""The Apache Kafka launcher's rules that need no broker: the pinned version, the one-line
answer when a tool is missing, the node settings of a 1- and a 3-node cluster."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import kafkastack
from deploy.kafkastack import KafkaCluster, StackError, kafka_version, missing_tools

ROOT = Path(__file__).resolve().parents[3]


def test_the_pom_pins_the_kafka_version_docker_compose_runs():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    images = {svc["image"] for svc in compose["services"].values() if "kafka" in svc.get("image", "")}
    assert images == {f"apache/kafka:{kafka_version()}"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", kafka_version())


@pytest.mark.parametrize("present, missing", [
    ({"java", "mvn"}, None),
    ({"mvn"}, "java"),
    ({"java"}, "mvn"),
    (set(), "java and mvn"),
])
def test_a_missing_tool_is_named_in_one_line(monkeypatch, present, missing):
    monkeypatch.setattr(kafkastack.shutil, "which",
                        lambda tool: f"/usr/bin/{tool}" if tool in present else None)
    reason = missing_tools()
    if missing is None:
        assert reason is None
    else:
        assert f"needs {missing} on PATH" in reason and "\n" not in reason


def test_without_java_the_launcher_says_so_in_one_line_and_fails(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "deploy.kafkastack", str(tmp_path / "c")], cwd=ROOT,
                          env={"PATH": str(tmp_path), "CAMPAIGN_VAR_DIR": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "kafkastack: Apache Kafka needs java and mvn on PATH "
        "(apt-get install openjdk-17-jre-headless maven)"]


@pytest.mark.parametrize("nodes, replicas, min_isr", [(1, "1", "1"), (3, "3", "2")])
def test_node_settings_follow_production(tmp_path, nodes, replicas, min_isr):
    cluster = KafkaCluster(tmp_path, nodes=nodes)
    props = dict(line.split("=", 1) for line in cluster._properties(1).read_text().splitlines())
    assert props["default.replication.factor"] == replicas
    assert props["offsets.topic.replication.factor"] == replicas
    assert props["min.insync.replicas"] == min_isr
    assert props["auto.create.topics.enable"] == "false"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["controller.quorum.voters"].count("@127.0.0.1:") == nodes
    assert props["log.dirs"] == str(tmp_path / "node-1" / "data")
    assert props["listeners"].startswith(f"PLAINTEXT://127.0.0.1:{cluster.ports[0]},")
    # Started again on the same directory: the same cluster (id and ports).
    again = KafkaCluster(tmp_path, nodes=nodes)
    assert (again.cluster_id, again.ports) == (cluster.cluster_id, cluster.ports)


def test_only_one_or_three_nodes(tmp_path):
    with pytest.raises(StackError, match="LOCAL_KAFKA_NODES: 2 is not 1 or 3"):
        KafkaCluster(tmp_path, nodes=2)
