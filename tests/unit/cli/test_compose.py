"""The production compose file and its Dockerfile keep their promises (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from shared import events

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "deploy" / "docker"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
PROCESSES = {
    "intake": ("intake", "web"), "intake-consumer": ("intake", "consumer"),
    "intake-relay": ("intake", "relay"),
    "assignment": ("assignment", "web"), "assignment-consumer": ("assignment", "consumer"),
    "assignment-scheduler": ("assignment", "scheduler"),
    "notify": ("notify", "web"), "notify-consumer": ("notify", "consumer"),
    "notify-deliverer": ("notify", "deliverer"),
}
WEB_PORTS = {"intake": 8001, "assignment": 8002, "notify": 8003}
BROKERS = ("kafka-1", "kafka-2", "kafka-3")
MONGOS = ("mongo-1", "mongo-2", "mongo-3")


def test_no_version_key_and_every_service_is_known():
    assert "version" not in COMPOSE
    assert set(SERVICES) == {*PROCESSES, *BROKERS, *MONGOS, "topic-init", "mongo-init", "edge"}


@pytest.mark.parametrize("name", BROKERS)
def test_three_kraft_brokers_on_a_pinned_apache_kafka(name):
    broker = SERVICES[name]
    env = broker["environment"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", broker["image"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_NODE_ID"] == name[-1]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["CLUSTER_ID"] == SERVICES["kafka-1"]["environment"]["CLUSTER_ID"]
    assert broker["volumes"] == [f"{name}:/var/lib/kafka/data"]
    assert "healthcheck" in broker


def test_topic_init_creates_every_topic_and_dead_letter_topic_for_three_consumers():
    job = SERVICES["topic-init"]
    env = job["environment"]
    assert int(env["PARTITIONS"]) >= 12
    assert (env["REPLICATION_FACTOR"], env["MIN_INSYNC_REPLICAS"]) == ("3", "2")
    assert all(job["depends_on"][b]["condition"] == "service_healthy" for b in BROKERS)
    script = (DOCKER / "create-topics.sh").read_text(encoding="utf-8")
    listed = re.search(r"^TOPICS=\((.*)\)$", script, re.M).group(1).split()
    assert tuple(listed) == events.TOPICS
    assert 'create "${PREFIX}${topic}.dlq"' in script
    assert "--if-not-exists" in script and "min.insync.replicas" in script


@pytest.mark.parametrize("name", MONGOS)
def test_a_three_member_mongodb_7_replica_set(name):
    member = SERVICES[name]
    assert re.fullmatch(r"mongo:7\.\d+\.\d+", member["image"])
    assert member["command"][:3] == ["mongod", "--replSet", "rs0"]
    assert member["volumes"] == [f"{name}:/data/db"]
    script = (DOCKER / "mongo-init-replica-set.js").read_text(encoding="utf-8")
    assert f'host: "{name}:27017"' in script


def test_the_replica_set_init_job_waits_for_the_members():
    job = SERVICES["mongo-init"]
    assert job["image"] == SERVICES["mongo-1"]["image"]
    assert "/deploy/mongo-init-replica-set.js" in job["entrypoint"]
    assert all(job["depends_on"][m]["condition"] == "service_healthy" for m in MONGOS)


@pytest.mark.parametrize(("name", "process"), PROCESSES.items())
def test_each_process_runs_its_service_command_from_the_one_dockerfile(name, process):
    service, command = process
    spec = SERVICES[name]
    assert spec["build"]["dockerfile"] == "deploy/docker/Dockerfile"
    assert spec["build"]["args"] == {"SERVICE": service}
    assert spec["image"].startswith(f"campaign/{service}:")
    assert spec["command"] == ["python", "-m", f"services.{service}", command]
    assert spec["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"
    assert spec["depends_on"]["mongo-init"]["condition"] == "service_completed_successfully"
    assert "ports" not in spec  # only the edge publishes, so any of them can be scaled


@pytest.mark.parametrize("name", PROCESSES)
def test_processes_point_at_the_cluster_with_production_group_timeouts(name):
    env = SERVICES[name]["environment"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == ",".join(f"{b}:9092" for b in BROKERS)
    assert env["MONGODB_URI"].startswith("mongodb://mongo-1:27017,mongo-2:27017,mongo-3:27017/")
    assert "replicaSet=rs0" in env["MONGODB_URI"]
    assert "KAFKA_SESSION_TIMEOUT_MS" not in env and "KAFKA_HEARTBEAT_INTERVAL_MS" not in env
    assert (env["KAFKA_PARTITIONS"], env["KAFKA_REPLICATION_FACTOR"]) == ("12", "3")
    assert env["HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize(("name", "port"), WEB_PORTS.items())
def test_web_processes_have_a_healthz_check(name, port):
    spec = SERVICES[name]
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(spec["healthcheck"]["test"])
    assert spec["expose"] == [str(port)]
    assert SERVICES["edge"]["depends_on"][name]["condition"] == "service_healthy"


def test_secrets_come_from_uncommitted_env_files_with_committed_examples():
    for name, (service, _) in PROCESSES.items():
        wanted = {"intake": ["deploy/docker/intake.env"], "notify": ["deploy/docker/notify.env"]}.get(service)
        if name == "assignment":  # the web app alone: WORKSPACE_SECRET_KEY
            wanted = ["deploy/docker/assignment.env"]
        assert SERVICES[name].get("env_file") == wanted
    ignore = (DOCKER / ".gitignore").read_text(encoding="utf-8").split()
    assert "*.env" in ignore and "!*.env.example" in ignore
    intake = (DOCKER / "intake.env.example").read_text(encoding="utf-8")
    notify = (DOCKER / "notify.env.example").read_text(encoding="utf-8")
    for name in ("INTAKE_RECEIPT_KEY", "INTAKE_REPORTER_KEY", "NOTIFY_PUBLIC_KEY"):
        assert f"{name}=<" in intake
    for name in ("NOTIFY_PRIVATE_KEY", "NOTIFY_WEBHOOK_SECRET", "SMTP_HOST", "SMS_API_KEY"):
        assert f"{name}=<" in notify
    assert "NOTIFY_PRIVATE_KEY" not in intake.replace("never holds the private half", "")


def test_the_dockerfile_runs_as_a_non_root_user_with_a_health_check():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile, re.M)
    assert "ARG SERVICE" in dockerfile and "HEALTHCHECK" in dockerfile
    entrypoint = (DOCKER / "entrypoint.sh").read_text(encoding="utf-8")
    assert 'if [ "$(id -u)" = "0" ]' in entrypoint


def test_the_backend_network_is_internal_and_only_the_edge_publishes():
    assert COMPOSE["networks"]["backend"]["internal"] is True
    published = {name for name, spec in SERVICES.items() if "ports" in spec}
    assert published == {"edge"}
    conf = (DOCKER / "edge.conf").read_text(encoding="utf-8")
    for name, port in WEB_PORTS.items():
        assert f"listen {port};" in conf and f"http://{name}:{port}" in conf


EDGE = (DOCKER / "edge.conf").read_text(encoding="utf-8")


def test_the_edge_sends_hsts_and_never_logs_the_reporters_routes():
    assert re.search(r'add_header Strict-Transport-Security "max-age=\d{8,}[^"]*" always;', EDGE)
    reporter = re.search(r"location ~ \^/\(report\|receipt\|v1/receipts/\|assets/reporter/\|\$\) \{(.*?)\}",
                         EDGE, re.S)
    assert reporter and "access_log off;" in reporter.group(1)
    assert "error_log /dev/stderr crit;" in reporter.group(1)
    paths = re.compile(r"^/(report|receipt|v1/receipts/|assets/reporter/|$)")
    for path in ("/", "/report", "/receipt", "/receipt/messages", "/v1/receipts/lookup",
                 "/v1/receipts/messages"):
        assert paths.match(path), path
    assert not paths.match("/v1/clues")  # frontline units' posts stay logged


@pytest.mark.parametrize("name", WEB_PORTS)
def test_web_apps_run_as_production_behind_exactly_one_proxy(name):
    env = SERVICES[name]["environment"]
    assert env["CAMPAIGN_ENV"] == "production" and env["TRUSTED_PROXY_HOPS"] == "1"
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in EDGE


def test_the_workspace_key_comes_from_an_env_file():
    assert "deploy/docker/assignment.env" in SERVICES["assignment"]["env_file"]
    assert "WORKSPACE_SECRET_KEY=" in (DOCKER / "assignment.env.example").read_text(encoding="utf-8")
