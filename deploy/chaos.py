"""`make chaos`: thousands of clues at a steady rate while workers, the broker and the database fail.

While clues are posted it (a) SIGKILLs an assignment worker and a notify worker and restarts
them, (b) on Tansu (`--kafka tansu`, the default) stops the broker and starts a fresh, empty one;
on Apache Kafka (`--kafka apache`, three nodes, replication 3, min.insync.replicas=2) SIGKILLs the
leader of a clue-received partition and starts it again 10 s later, (c) stops the database for
10 s. Then it waits for the system to settle and prints one JSON line counted from the databases,
naming the broker. It exits non-zero if any clue was lost, any case or notification duplicated, or
any cadre over capacity. tests/e2e/test_kafka_faults.py drives the same pieces on three brokers.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymongo
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from kafka import KafkaConsumer, TopicPartition

from deploy.apachestack import ApacheStack
from deploy.devstack import PROCESSES, Pipeline, ServiceProcesses, start_pipeline
from deploy.localstack import LocalStack, free_port
from shared import events
from shared.mongo import count_exact

JURISDICTIONS = [
    ("foshan/chancheng/shiwan", "foshan/chancheng/urban-management"),
    ("foshan/nanhai/guicheng", "foshan/nanhai/urban-management"),
    ("foshan/shunde/daliang", "foshan/shunde/market-supervision"),
    ("foshan/gaoming/hecheng", "foshan/gaoming/market-supervision"),
]


def clue_body(i: int) -> dict:
    jurisdiction, employer = JURISDICTIONS[i % len(JURISDICTIONS)]
    reporter = ({"anonymous": True} if i % 3 == 0 else
                {"anonymous": False, "name": f"举报人{i}", "email": f"r{i}@example.org",
                 "channel": "email"})
    return {
        "source": "public_report", "category": "solicitation",
        "summary": f"执法人员收受商户红包 #{i}", "jurisdiction": jurisdiction,
        # Each subject distinct, so no clue is linked to another as a repeat.
        "subject": {"name": f"被反映人{i}", "employer": employer, "rank": "staff"},
        "amount_cny": 100 + i, "reporter": reporter,
    }


class Poster:
    """Posts clues at a steady rate; retries 503s and connection errors with the same key."""

    def __init__(self, url: str, keys: list[str], total: int, rate: float, first: int = 0) -> None:
        """Posts clues number `first` to `first + total - 1` (each number its own subject)."""
        self.url, self.keys, self.total, self.rate, self.first = url, keys, total, rate, first
        self.accepted: dict[int, str] = {}
        self.gave_up: list[int] = []
        self.lock = threading.Lock()

    def post(self, i: int) -> None:
        session = requests.Session()
        key = f"chaos-{uuid.uuid4()}"
        headers = {"Authorization": f"Bearer {self.keys[i % len(self.keys)]}",
                   "Idempotency-Key": key}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                resp = session.post(self.url, json=clue_body(i), headers=headers, timeout=15)
            except requests.RequestException:
                time.sleep(1)
                continue
            if resp.status_code == 202:
                with self.lock:
                    self.accepted[i] = resp.json()["clue_id"]
                return
            if resp.status_code in (429, 502, 503, 504):
                time.sleep(float(resp.headers.get("Retry-After", "1")))
                continue
            print(f"chaos: clue {i} refused with {resp.status_code}: {resp.text[:200]}",
                  file=sys.stderr)
            break
        with self.lock:
            self.gave_up.append(i)

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=32) as pool:
            started = time.monotonic()
            for i in range(self.total):
                delay = started + i / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self.post, self.first + i)


def dead_lettered(bootstrap: str, prefix: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        total = 0
        for topic in events.TOPICS:
            name = f"{prefix}{events.dlq_topic(topic)}"
            parts = consumer.partitions_for_topic(name) or set()
            tps = [TopicPartition(name, p) for p in parts]
            if tps:
                ends = consumer.end_offsets(tps)
                starts = consumer.beginning_offsets(tps)
                total += sum(ends[tp] - starts[tp] for tp in tps)
        return total
    finally:
        consumer.close()


def count(pipeline: Pipeline, mongo_uri: str, accepted: dict[int, str]) -> dict:
    client = pymongo.MongoClient(mongo_uri)
    try:
        db = {s: client[name] for s, name in pipeline.databases.items()}
        cases = list(db["assignment"]["cases"].find({}, {"clue_id": 1, "linked_clue_ids": 1}))
        # Cases are counted per clue: a clue in no case is lost, in two is a duplicate.
        per_clue: Counter[str] = Counter()
        for case in cases:
            per_clue[case["clue_id"]] += 1
            for linked in case.get("linked_clue_ids") or []:
                per_clue[linked] += 1
        clue_ids = set(accepted.values())
        notifications = Counter(
            (n["clue_id"], n["kind"]) for n in db["notify"]["notifications"].find(
                {"kind": {"$in": ["received", "accepted"]}}, {"clue_id": 1, "kind": 1}))
        holding: Counter[str] = Counter(
            c["cadre_id"] for c in db["assignment"]["cases"].find(
                {"holds_slot": True}, {"cadre_id": 1}))
        over = sum(1 for cadre in db["assignment"]["cadres"].find({}, {"capacity": 1, "load": 1})
                   if max(holding[cadre["_id"]], cadre.get("load", 0)) > cadre["capacity"])
        return {
            "cases": len(cases),
            "lost": sum(1 for c in clue_ids if per_clue[c] == 0),
            "duplicate_cases": sum(1 for c in clue_ids if per_clue[c] > 1),
            "duplicate_notifications": sum(1 for n in notifications.values() if n > 1),
            "over_capacity": over,
        }
    finally:
        client.close()


def progress(pipeline: Pipeline, mongo_uri: str) -> dict | None:
    """Where the settling stands, from indexed reads only: cases so far, clues intake has not seen
    announced, events still waiting in each outbox. None while the database does not answer."""
    try:
        client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
        try:
            intake = client[pipeline.databases["intake"]]
            assignment = client[pipeline.databases["assignment"]]
            return {
                "cases": assignment["cases"].estimated_document_count(),
                "unacknowledged": count_exact(intake["clues"], acknowledged=False),
                "intake_outbox": count_exact(intake["follow_ups"], outbox_pending=True),
                "assignment_outbox": count_exact(assignment["cases"], outbox_pending=True),
            }
        finally:
            client.close()
    except pymongo.errors.PyMongoError:
        return None


def settled(pipeline: Pipeline, mongo_uri: str, accepted: dict[int, str], state: dict | None) -> bool:
    """Intake has seen every case announced, and (counted in full only then) every accepted clue
    has a case."""
    if state is None or state["unacknowledged"]:
        return False
    try:
        return count(pipeline, mongo_uri, accepted)["lost"] == 0
    except pymongo.errors.PyMongoError:
        return False


def settle(pipeline: Pipeline, mongo_uri: str, accepted: dict[int, str], timeout: float,
           procs: ServiceProcesses, label: str = "chaos") -> bool:
    """Wait until every accepted clue has its case and intake saw each announced (restarting any
    service process that exited); False if `timeout` ran out first."""
    started = time.monotonic()
    next_report = 0.0
    while time.monotonic() < started + timeout:
        state = progress(pipeline, mongo_uri)
        if settled(pipeline, mongo_uri, accepted, state):
            return True
        if time.monotonic() >= next_report:
            waited = round(time.monotonic() - started)
            print(f"{label}: settling {waited} s: {json.dumps(state)}", file=sys.stderr)
            next_report = time.monotonic() + 30
        for name, code in procs.exited().items():
            print(f"{label}: {name} exited with {code}; restarting", file=sys.stderr)
            procs.restart(name)
        time.sleep(2)
    return False


def start_chaos_stack(kafka: str, work: Path) -> LocalStack | ApacheStack:
    if kafka == "apache":
        return ApacheStack(work / "stack", nodes=3).start()
    return LocalStack(work / "stack").start()


def broker_fault(stack: LocalStack | ApacheStack, prefix: str = "chaos.") -> str:
    """Tansu: replaced by a fresh, empty broker. Apache Kafka: the leader of clue-received's
    partition 0 SIGKILLed, and started again 10 s later. Says what it did."""
    if isinstance(stack, LocalStack):
        stack.restart_broker()
        return "broker replaced by a fresh, empty one"
    leader = stack.cluster.leader_of(prefix + events.CLUE_RECEIVED, 0)
    stack.cluster.kill_node(leader)
    time.sleep(10)
    stack.cluster.start_node(leader)
    return f"broker {leader} (leader of {prefix}{events.CLUE_RECEIVED}[0]) SIGKILLed, restarted 10 s later"


def broker_name(stack: LocalStack | ApacheStack) -> str:
    return stack.kind if isinstance(stack, ApacheStack) else "tansu 0.6.0"


def inject_faults(stack: LocalStack | ApacheStack, procs: ServiceProcesses, period: float) -> None:
    """While clues are posted for `period` seconds: kill two consumers at 20 %, the broker fault
    at 45 %, the database stopped for 10 s at 70 %."""
    started = time.monotonic()

    def at(fraction: float) -> None:
        time.sleep(max(0.0, started + period * fraction - time.monotonic()))

    at(0.2)
    print("chaos: SIGKILL assignment-consumer and notify-consumer", file=sys.stderr)
    for name in ("assignment-consumer", "notify-consumer"):
        procs.kill(name)
        procs.restart(name)
    at(0.45)
    print(f"chaos: {broker_fault(stack)}", file=sys.stderr)
    at(0.7)
    print("chaos: database stopped for 10 s", file=sys.stderr)
    stack.stop_mongo()
    time.sleep(10)
    stack.start_mongo()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clues", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=40.0, help="clues posted per second")
    parser.add_argument("--settle-timeout", type=float, default=900.0)
    parser.add_argument("--kafka", choices=("tansu", "apache"), default="tansu",
                        help="the broker: Tansu (wiped mid-run) or three Apache Kafka nodes (one killed)")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the stack and every service process are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="campaign-chaos-"))
    stack = start_chaos_stack(args.kafka, work)
    smtp = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    pipeline = None
    try:
        pipeline = start_pipeline(stack.env(), work, {s: free_port() for s in PROCESSES},
                                  tag="chaos", extra={
                                      "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
                                      "SMTP_SENDER": "noreply@chaos.local",
                                      "INTAKE_RECONCILE_AFTER_S": "30", "LOG_LEVEL": "WARNING"})
        keys = list(pipeline.credentials["frontline"].values())
        poster = Poster(pipeline.urls["intake"] + "/v1/clues", keys, args.clues, args.rate)
        posting = threading.Thread(target=poster.run)
        posting.start()
        inject_faults(stack, pipeline.procs, args.clues / args.rate)
        posting.join()
        posted_at = time.monotonic()
        done = settle(pipeline, stack.mongodb_uri, poster.accepted, args.settle_timeout, pipeline.procs)
        figures = count(pipeline, stack.mongodb_uri, poster.accepted)
        result = {
            "broker": broker_name(stack),
            "posted": args.clues, "accepted_202": len(poster.accepted), "cases": figures["cases"],
            "lost": figures["lost"] + len(poster.gave_up),
            "duplicate_cases": figures["duplicate_cases"],
            "duplicate_notifications": figures["duplicate_notifications"],
            "over_capacity": figures["over_capacity"],
            "dead_lettered": dead_lettered(stack.kafka_bootstrap, "chaos."),
            "settle_s": round(time.monotonic() - posted_at, 1),
            "settled": done,  # every case announced to intake before --settle-timeout ran out
        }
        print(json.dumps(result))
        bad = ("lost", "duplicate_cases", "duplicate_notifications", "over_capacity")
        return 1 if any(result[k] for k in bad) else 0
    finally:
        if pipeline:
            pipeline.stop()
        smtp.stop()
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
