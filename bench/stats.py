"""Benchmark: one GET /v1/stats at 10,000 and at 100,000 cases, and the ratio (goal: below 3).

`python -m bench.stats` starts the local stack (or uses KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI),
loads the Foshan registry, and stores cases all received in the current quarter (the worst case
for a request that scans them), with their statistics counters made by `counters.record` as the
handlers make them. It then times the city supervisor's stats request through the assignment app
(in-process, on the real database: the key look-up, the counters read, the queue count), median
of several, at each size. The baseline, measured in the same run: the read a request that scanned
the quarter's cases would make (every case of the city, four fields each), at each size.

The queue is kept at the same length at both sizes (queues drain as cases close): `queued` is the
state now, an indexed read of the queue, not of the cases. One JSON line per figure.
"""

from __future__ import annotations

import argparse
import random
import statistics as stats_lib
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import DATABASE, emit, stack_env

DB = "bench_stats"
REGISTRY = Path(__file__).resolve().parents[1] / "deploy" / "registry" / "foshan.yaml"
QUEUED = 50
CHUNK = 2000


def seed(count: int, start_index: int, registry, now: datetime, rng: random.Random) -> None:
    """Store `count` cases of this quarter and count them, as the handlers do, in chunks."""
    from services.assignment import counters, statistics
    from services.assignment.documents import Case
    from shared.mongo import new_id
    from shared.times import to_ms

    towns = [j.code for j in registry.jurisdictions() if j.level == "town"]
    unit_of = {u.jurisdiction: u.code for u in registry.units() if u.kind == "commission"}
    quarter_start = statistics.quarter_bounds(statistics.quarter_of(now))[0]
    span = max(1.0, (now - quarter_start).total_seconds() - 86400)
    for first in range(0, count, CHUNK):
        docs, facts = [], []
        for i in range(first, min(count, first + CHUNK)):
            n = start_index + i
            town = rng.choice(towns)
            received = quarter_start + timedelta(seconds=rng.uniform(0, span))
            closed = rng.random() < 0.6
            queued = n < QUEUED
            case = {"_id": new_id(), "clue_id": f"bench-{n}", "jurisdiction": town, "unit": unit_of[town],
                    "status": "queued" if queued else ("closed" if closed else "assigned"),
                    "received_at": received, "due_at": to_ms(received + timedelta(days=90)),
                    "category": "solicitation", "source": "observer", "subject_key": f"s{n}|"}
            docs.append(case)
            where = counters.where(case, registry)
            facts.append(counters.Fact(f"{case['_id']}:received:{n}", received, where,
                                       statistics.received_fields()))
            accepted = received + timedelta(seconds=rng.uniform(1, 30))
            facts.append(counters.Fact(f"{case['_id']}:accepted", accepted, where,
                                       statistics.accepted_fields(received, accepted)))
            if closed and not queued:
                done = min(now, received + timedelta(days=rng.uniform(1, 60)))
                facts.append(counters.Fact(f"{case['_id']}:closed", done, where, statistics.closed_fields(
                    received, done, "concluded", [rng.choice(["unfounded", "reminder_talk"])])))
        Case._get_collection().insert_many(docs, ordered=False)
        counters.record(facts)


def time_requests(client, headers: dict[str, str], repeats: int) -> float:
    """Median milliseconds of one GET /v1/stats (after five warm-up requests)."""
    for _ in range(5):
        assert client.get("/v1/stats", headers=headers).status_code == 200
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        resp = client.get("/v1/stats", headers=headers)
        samples.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return stats_lib.median(samples)


def time_scan(repeats: int) -> float:
    """Median milliseconds of reading every case of the city (what a scanning request reads)."""
    from services.assignment.documents import Case

    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sum(1 for _ in Case._get_collection().find(
            {}, {"status": 1, "due_at": 1, "received_at": 1, "closed_at": 1}))
        samples.append((time.perf_counter() - t0) * 1000)
    return stats_lib.median(samples)


def run(env: dict[str, str], sizes: list[int], repeats: int) -> int:
    from services.assignment.app import create_app
    from services.assignment.documents import ensure_indexes
    from services.assignment.registry_file import load_registry
    from services.assignment.settings import AssignmentSettings
    from shared import mongo
    from shared.auth import issue_key
    from shared.fakes import FakeBroker
    from shared.settings import CommonSettings, Env

    common = CommonSettings.from_env(Env(env))
    client_db = mongo.connect(env["MONGODB_URI"], DB)
    client_db.drop_database(DB)
    ensure_indexes()
    registry = load_registry(REGISTRY)
    app = create_app(AssignmentSettings(common=common, db=DB, registry_path=str(REGISTRY)),
                     publisher=FakeBroker(), connect=False)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {issue_key('supervisor', 'foshan')}"}
    rng, now, stored, figures = random.Random(17), datetime.now(UTC), 0, {}
    try:
        for size in sizes:
            t0 = time.perf_counter()
            seed(size - stored, stored, registry, now, rng)
            stored = size
            print(f"# bench.stats: {size} cases stored in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            figures[size] = (time_requests(client, headers, repeats), time_scan(max(3, repeats // 3)))
    finally:
        app.extensions["assignment.stop"].set()
        app.extensions["assignment.relay"].stop()
        client_db.drop_database(DB)
    small, large = sizes[0], sizes[-1]
    for size, (request_ms, scan_ms) in figures.items():
        emit(bench="stats_request", cases=size, value=round(request_ms, 2), unit="ms",
             baseline=round(scan_ms, 2), baseline_is="a scan of the city's cases", database=DATABASE)
    ratio = figures[large][0] / figures[small][0]
    emit(bench="stats_request_ratio", cases=f"{large}/{small}", value=round(ratio, 2), goal="< 3",
         baseline=round(figures[large][1] / figures[small][1], 2), baseline_is="the same ratio for the scan",
         database=DATABASE)
    return 0 if ratio < 3 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="case counts, smallest first")
    parser.add_argument("--repeats", type=int, default=15, help="requests timed at each size")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    env, stack = stack_env()
    try:
        return run(env, sizes, args.repeats)
    finally:
        if stack:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
