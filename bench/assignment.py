"""Assignment benchmark: clue-received events/s turned into cases by one and by two workers, against a
baseline loop doing only the minimal writes, and the balance spread afterwards.

The baseline also runs with two workers, as the control for the two-worker ratio; each figure
carries the CPU ms per case of each process (workers, database, broker) and the cores they kept
busy, and the two-worker line the bound the local database puts on the ratio.

    .venv/bin/python -m bench.assignment [--clues 10000]

Uses KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI if set, otherwise starts its own local stack (Tansu +
nx-27017). Each run preloads the clues on a fresh topic prefix and database, then starts the
workers; the rate is cases / (last case created - first case created), so group joins are not
counted. Prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pymongo
from kafka import KafkaProducer
from pymongo.errors import DuplicateKeyError

from bench.common import CpuMeter, broker_name, stack_pids, start_stack
from shared import events, mongo
from shared.consumer import ConsumerLoop, stop_on_signals
from shared.kafka import EventProducer, ensure_topics
from shared.settings import CommonSettings, Env

ROOT = Path(__file__).resolve().parents[1]
UNIT = "foshan/d1/t1#commission"
WEIGHTS = [1, 1, 2, 2, 3, 3, 4, 4]


def registry_yaml(clues: int) -> str:
    """A city > district > town registry; the town unit's cadres hold twice the clues in all."""
    k = max(1, 2 * clues // sum(WEIGHTS))
    cadres = "\n".join(
        f"      - {{id: b-{i:02d}, name: 干部{i}, role: handler, capacity: {w * k}}}"
        for i, w in enumerate(WEIGHTS)
    )
    return f"""
jurisdictions:
  - {{code: foshan, name: 佛山市, level: city, parent: null}}
  - {{code: foshan/d1, name: 一区, level: district, parent: foshan}}
  - {{code: foshan/d1/t1, name: 一街, level: town, parent: foshan/d1}}
units:
  - {{code: "foshan#commission", name: 市纪委, jurisdiction: foshan, kind: commission,
     cadres: [{{id: city-1, name: 市干部, role: leader, capacity: 5}}]}}
  - {{code: "foshan/d1#commission", name: 区纪委, jurisdiction: foshan/d1, kind: commission,
     cadres: [{{id: d1-1, name: 区干部, role: leader, capacity: 5}}]}}
  - code: "{UNIT}"
    name: 街纪工委
    jurisdiction: foshan/d1/t1
    kind: commission
    cadres:
{cadres}
"""


def preload(settings: CommonSettings, clues: int) -> None:
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        linger_ms=20,
        batch_size=256 * 1024,
    )
    topic = settings.topic_prefix + events.CLUE_RECEIVED
    for i in range(clues):
        clue_id = f"bench-{uuid.uuid4().hex}"
        env = events.make_event(
            events.CLUE_RECEIVED,
            {
                "clue_id": clue_id,
                "received_at": events.now(),
                "source": "observer",
                "category": "solicitation",
                "jurisdiction": "foshan/d1/t1",
                "subject": {"name": f"被反映人{i}", "rank": "staff"},
                "amount_cny": None,
                "collusion": False,
                "reporter_ref": "opaque",
                "reporter_contact_sealed": None,
            },
            source="/bench",
        )
        producer.send(topic, key=clue_id.encode(), value=events.encode(env))
    producer.flush(120)
    producer.close()


# ---- the baseline worker: consume, insert the case, claim a slot with one conditional update ----


def baseline_worker() -> int:
    settings = CommonSettings.from_env(Env())
    db = os.environ["ASSIGNMENT_DB"]
    client = pymongo.MongoClient(settings.mongodb_uri, tz_aware=True)
    cases, slots = client[db]["cases"], client[db]["cadres"]
    capacity = {d["_id"]: d["capacity"] for d in slots.find({"unit": UNIT})}
    order = list(capacity)
    turn = [0]

    def handle(event: events.Event) -> None:
        cadre = None
        for step in range(len(order)):
            cid = order[(turn[0] + step) % len(order)]
            if slots.find_one_and_update(
                {"_id": cid, "load": {"$lt": capacity[cid]}}, {"$inc": {"load": 1}}, projection={"_id": 1}
            ):
                cadre = cid
                turn[0] += 1
                break
        try:
            cases.insert_one(
                {
                    "_id": mongo.new_id(),
                    "clue_id": event.data["clue_id"],
                    "unit": UNIT,
                    "cadre_id": cadre,
                    "status": "assigned" if cadre else "queued",
                    "created_at": mongo.utcnow(),
                }
            )
        except DuplicateKeyError:
            pass

    stop = stop_on_signals()
    loop = ConsumerLoop(
        settings,
        settings.topic_prefix + "baseline",
        {events.CLUE_RECEIVED: handle},
        dead_letters=EventProducer(settings),
    )
    loop.run(stop)
    return 0


# ---- the driver --------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    rate: float
    spread: float | None
    cpu_ms: dict[str, float]  # CPU ms per case by process, while cases were being made
    cores: float  # CPU seconds of all those processes per second of that time


def database_ceiling(one: Run) -> float | None:
    """How many times one worker's rate the local database could serve at all: it is one Python
    process that runs one command at a time, so at most one core, whatever the workers do.
    None when the database is not the local stand-in (no process to meter)."""
    db_ms = one.cpu_ms.get("database")
    return round(1000 / db_ms / one.rate, 2) if db_ms else None


def measure_cpu(meter: CpuMeter, made: int, seconds: float) -> tuple[dict[str, float], float]:
    """CPU ms per case by process (workers summed) and the cores they kept busy together."""
    per_case: dict[str, float] = {}
    for name, ms in meter.per_item_ms(made).items():
        key = "workers" if name.startswith("worker") else name
        per_case[key] = round(per_case.get(key, 0.0) + ms, 2)
    return per_case, round(sum(per_case.values()) * made / 1000 / max(seconds, 1e-3), 2)


def prepare(base_env: dict[str, str], settings: CommonSettings, clues: int, baseline: bool):
    """Topics, database, registry and `clues` clue-received events of a run of its own; the
    workers' environment and the database client."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    db = f"bench_{uuid.uuid4().hex[:8]}"
    mine = dataclasses.replace(settings, topic_prefix=prefix)
    ensure_topics(mine)
    registry = Path(tempfile.mkdtemp()) / "registry.yaml"
    registry.write_text(registry_yaml(clues), encoding="utf-8")
    env = {**base_env, "KAFKA_TOPIC_PREFIX": prefix, "ASSIGNMENT_DB": db,
           "ASSIGNMENT_REGISTRY": str(registry), "LOG_LEVEL": "WARNING"}
    load = subprocess.run([sys.executable, "-m", "services.cli", "registry", "load", str(registry)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if load.returncode:
        raise SystemExit(load.stderr)
    client = pymongo.MongoClient(settings.mongodb_uri, tz_aware=True)
    if baseline:
        client[db]["cases"].create_index("clue_id", unique=True)
        client[db]["cadres"].update_many({}, {"$set": {"load": 0}})
    preload(mine, clues)
    return env, client, client[db]


def meter_until_made(cases, clues: int, meter: CpuMeter, timeout_s: float) -> tuple[dict[str, float], float]:
    """Wait for `clues` cases, metering the CPU from the first case on (not the workers' start-up
    and group join)."""
    deadline = time.monotonic() + timeout_s
    # estimated_document_count is the collection's size; count_documents({}) would be an
    # aggregation over every case (half a second of the database's time at 10,000 cases).
    started, first_made = None, 0
    while (made := cases.estimated_document_count()) < clues:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {made} of {clues} cases")
        if started is None and made:
            meter.start()
            started, first_made = time.monotonic(), made
        time.sleep(0.05 if started is None else 0.5)
    if started is None:  # all made between two looks: meter nothing rather than start-up
        meter.start()
        started, first_made = time.monotonic(), clues
    return measure_cpu(meter, clues - first_made, time.monotonic() - started)


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def run(base_env: dict[str, str], settings: CommonSettings, clues: int, workers: int, baseline: bool,
        timeout_s: float, stack_procs: dict[str, int | None]) -> Run:
    env, client, db = prepare(base_env, settings, clues, baseline)
    cases = db["cases"]
    argv = ([sys.executable, "-m", "bench.assignment", "--baseline-worker"] if baseline
            else [sys.executable, "-m", "services.assignment", "consumer"])
    procs = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    meter = CpuMeter(alone={"bench": os.getpid()}, **stack_procs,
                     **{f"worker{i}": p.pid for i, p in enumerate(procs)})
    try:
        cpu_ms, cores = meter_until_made(cases, clues, meter, timeout_s)
    finally:
        stop_all(procs)
    first = cases.find_one({}, sort=[("created_at", 1)])["created_at"]
    last = cases.find_one({}, sort=[("created_at", -1)])["created_at"]
    rate = clues / max((last - first).total_seconds(), 1e-3)
    spread = None if baseline else balance_spread(db)
    client.drop_database(db.name)
    client.close()
    return Run(rate, spread, cpu_ms, cores)


def balance_spread(db) -> float:
    """Max minus min, over the unit's active cadres, of open cases minus their capacity-weighted
    fair share of the unit's open cases."""
    open_cases: dict[str, int] = {}
    for d in db["cases"].find({"unit": UNIT, "status": {"$ne": "closed"}}, {"cadre_id": 1}):
        open_cases[d.get("cadre_id")] = open_cases.get(d.get("cadre_id"), 0) + 1
    cadres = list(db["cadres"].find({"unit": UNIT, "active": True}, {"capacity": 1}))
    total_cap = sum(c["capacity"] for c in cadres)
    total_open = sum(open_cases.get(c["_id"], 0) for c in cadres)
    deviations = [open_cases.get(c["_id"], 0) - c["capacity"] * total_open / total_cap for c in cadres]
    return round(max(deviations) - min(deviations), 3)


def local_stack():
    return start_stack("bench-assignment-")


def figure(bench: str, measured: Run, baseline: Run | None = None) -> dict:
    """One figure's JSON line: cases/s, against `baseline`'s rate when given."""
    return {"bench": bench, "value": round(measured.rate, 1), "unit": "cases/s",
            "baseline": round(baseline.rate, 1) if baseline else None,
            "ratio": round(measured.rate / baseline.rate, 3) if baseline else None,
            "cpu_ms_per_case": measured.cpu_ms, "cores_busy": measured.cores}


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.assignment")
    parser.add_argument("--clues", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--baseline-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_worker:
        return baseline_worker()
    stack = None
    env = dict(os.environ)
    if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
        stack = local_stack()
        env.update(stack.env())
    env.setdefault("KAFKA_SESSION_TIMEOUT_MS", "6000")
    env.setdefault("KAFKA_HEARTBEAT_INTERVAL_MS", "1000")
    settings = CommonSettings.from_env(Env(env))
    where = {
        "broker": broker_name(stack),
        "database": "nx-27017 0.8.1 (local stand-in)" if stack else "MONGODB_URI",
    }
    try:
        procs = stack_pids(stack)
        base = run(env, settings, args.clues, 1, True, args.timeout, procs)
        # The control for the two-worker figure: how far the same stack lets even the minimal
        # loop scale (on the local stand-ins, the database serialises every command).
        base_two = run(env, settings, args.clues, 2, True, args.timeout, procs)
        one = run(env, settings, args.clues, 1, False, args.timeout, procs)
        two = run(env, settings, args.clues, 2, False, args.timeout, procs)
        lines = [
            figure("assignment.baseline_minimal_writes", base),
            figure("assignment.baseline_two_workers", base_two, base),
            figure("assignment.one_worker", one, base),
            {**figure("assignment.two_workers", two, one), "database_ceiling": database_ceiling(one)},
            {"bench": "assignment.balance_spread", "value": max(one.spread or 0, two.spread or 0),
             "unit": "cases", "baseline": 1, "ratio": max(one.spread or 0, two.spread or 0)},
        ]
        for line in lines:
            print(json.dumps({**line, **where, "clues": args.clues}, ensure_ascii=False), flush=True)
    finally:
        if stack:
            stack.stop()
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
