"""Faults a production Kafka cluster has, on three Apache Kafka brokers (replication 3,
min.insync.replicas=2, the idempotent producer, Kafka's own group timeouts): 2,000 clues through
the whole pipeline in each, and none lost, no case and no notification twice.

The pieces are `make chaos`'s (deploy/chaos.py). Needs java and mvn (deploy/kafkastack.py); the
Tansu stand-in has one broker and no replication, so these skip there.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from deploy.apachestack import ApacheStack
from deploy.chaos import Poster, count, settle
from deploy.devstack import PROCESSES, start_pipeline
from deploy.kafkastack import missing_tools
from deploy.localstack import free_port
from shared import events

pytestmark = [pytest.mark.e2e, pytest.mark.stack]

CLUES = 2000
RATE = 60.0  # clues posted per second
TAG = "faults"


class Faults:
    def __init__(self, stack: ApacheStack, pipeline) -> None:
        self.stack, self.pipeline = stack, pipeline
        self.cluster = stack.cluster
        self.runs = 0

    def run(self, fault: Callable[[], None], at_fraction: float = 0.3) -> dict:
        """Post CLUES clues; `fault` runs once that fraction of them is posted; settle and count."""
        keys = list(self.pipeline.credentials["frontline"].values())
        poster = Poster(self.pipeline.urls["intake"] + "/v1/clues", keys, CLUES, RATE,
                        first=self.runs * CLUES)
        self.runs += 1
        posting = threading.Thread(target=poster.run)
        posting.start()
        time.sleep(CLUES / RATE * at_fraction)
        fault()
        posting.join()
        done = settle(self.pipeline, self.stack.mongodb_uri, poster.accepted, 420,
                      self.pipeline.procs, label="faults")
        figures = count(self.pipeline, self.stack.mongodb_uri, poster.accepted)
        return {"settled": done, "accepted": len(poster.accepted), "gave_up": len(poster.gave_up),
                **{k: figures[k] for k in ("lost", "duplicate_cases", "duplicate_notifications")}}


CLEAN = {"settled": True, "accepted": CLUES, "gave_up": 0, "lost": 0, "duplicate_cases": 0,
         "duplicate_notifications": 0}


@pytest.fixture(scope="module")
def faults():
    reason = missing_tools()
    if reason:
        pytest.skip(f"three Apache Kafka brokers: {reason}")
    work = Path(tempfile.mkdtemp(prefix="campaign-faults-"))
    stack = ApacheStack(work / "stack", nodes=3).start()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    pipeline = None
    try:
        pipeline = start_pipeline(stack.env(), work, {s: free_port() for s in PROCESSES}, tag=TAG, extra={
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SENDER": "noreply@faults.local",
            "WEB_WORKERS": "1", "INTAKE_RECONCILE_AFTER_S": "30", "LOG_LEVEL": "WARNING"})
        yield Faults(stack, pipeline)
    finally:
        if pipeline:
            pipeline.stop()
        smtp.stop()
        stack.stop()


@pytest.mark.timeout(600)
def test_the_leader_of_a_partition_sigkilled_mid_stream_and_restarted(faults):
    killed: list[int] = []

    def kill_leader() -> None:
        leader = faults.cluster.leader_of(f"{TAG}.{events.CLUE_RECEIVED}", 0)
        faults.cluster.kill_node(leader)
        killed.append(leader)
        time.sleep(5)
        faults.cluster.start_node(leader)

    assert faults.run(kill_leader) == CLEAN
    assert killed and sorted(faults.cluster.running()) == [1, 2, 3]


@pytest.mark.timeout(600)
def test_one_broker_stopped_for_30_s(faults):
    stopped: list[int] = []

    def stop_one() -> None:
        node = faults.cluster.leader_of(f"{TAG}.{events.CASE_ASSIGNED}", 0)
        faults.cluster.stop_node(node, signal.SIGTERM)
        stopped.append(node)
        time.sleep(30)  # clues are posted on meanwhile
        faults.cluster.start_node(node)

    assert faults.run(stop_one) == CLEAN
    assert stopped and sorted(faults.cluster.running()) == [1, 2, 3]


@pytest.mark.timeout(600)
def test_a_consumer_group_member_killed_during_a_rebalance(faults):
    procs = faults.pipeline.procs

    def kill_during_rebalance() -> None:
        # A second member joins: the group rebalances; the first member dies in the middle of it.
        procs.start("assignment-consumer2", procs.procs["assignment-consumer"].args)
        time.sleep(1.0)
        procs.kill("assignment-consumer")

    assert faults.run(kill_during_rebalance) == CLEAN
