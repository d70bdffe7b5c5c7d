"""Benchmark: clues/s accepted by intake over HTTP, against a minimal Flask app served the same way.

`python -m bench.intake` starts the local stack (or uses KAFKA_BOOTSTRAP_SERVERS/MONGODB_URI),
runs `python -m services.intake web` under gunicorn, and a baseline Flask app under the same
gunicorn settings that validates the same JSON with the same ClueSchema, inserts one document into
the same database and publishes its event with the same Kafka client (shared.kafka.EventProducer,
waiting for the broker's ack), and a control that inserts the event with the document instead
(the outbox) for the shared relay to publish and mark sent; then posts clues from a concurrent
client to each in turns and prints one JSON line per figure, naming the broker (Apache Kafka
where java and mvn exist). Never part of the test suite. BENCH_THREADS /
BENCH_REQUESTS set the load, BENCH_ROUNDS how many times they take turns.
"""

from __future__ import annotations

import os
import sys
import threading

from bench.common import (
    DATABASE,
    CpuMeter,
    Figures,
    broker_name,
    emit,
    hammer,
    python,
    stack_env,
    stack_pids,
    start_server,
    stop_server,
)
from deploy.localstack import free_port
from shared.sealing import generate_keypair, generate_secret_key
from tests.unit.intake.clues import anonymous_clue, clue

UNIT = "foshan/chancheng/shiwan/contact"
DB = "bench_intake"


def baseline_app(with_outbox: bool = False):
    """The baseline: parse, validate with ClueSchema, insert one document, publish its event with
    the same client and wait for the ack, answer 202.

    `with_outbox`, the control: the event goes in the same insert instead (outbox), published at
    once by the shared relay, which then marks it sent; no keys, seals, limiter or metrics."""
    from flask import Flask, jsonify, request

    from services.intake.schemas import ClueSchema
    from shared import events, mongo
    from shared.kafka import EventProducer
    from shared.outbox import OutboxRelay, pending
    from shared.problems import json_body, load, register_error_handlers
    from shared.settings import CommonSettings, Env

    app = Flask("baseline")
    register_error_handlers(app)
    mongo.connect(os.environ["MONGODB_URI"], DB)
    collection = mongo.me.get_db()["outbox_clues" if with_outbox else "baseline_clues"]
    schema = ClueSchema()
    relay = None
    producer = EventProducer(CommonSettings.from_env(Env()))
    if with_outbox:
        collection.create_index("outbox_pending")  # the relay's backstop reads by it, as on clues
        relay = OutboxRelay(collection, producer)
        relay.start_thread(threading.Event())

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.post("/v1/clues")
    def post():
        data = load(schema, json_body(request))
        data["occurred_on"] = data["occurred_on"].isoformat() if data.get("occurred_on") else None
        clue_id = mongo.new_id()
        doc = {"_id": clue_id, **data, "received_at": mongo.utcnow()}
        envelope = {"specversion": "1.0", "id": mongo.new_id(), "source": "/bench", "subject": clue_id,
                    "type": events.TYPES[events.CLUE_RECEIVED], "time": doc["received_at"].isoformat(),
                    "data": {**data, "clue_id": clue_id}}
        if relay is not None:
            doc.update(pending(envelope), outbox_version=0)
        collection.insert_one(doc)
        if relay is not None:
            relay.wake(doc)
        else:
            producer.publish(envelope)
        return jsonify(clue_id=clue_id, status="received"), 202

    return app


def serve_baseline(port: int, with_outbox: bool = False) -> int:
    from shared.serve import serve

    serve(lambda: baseline_app(with_outbox), "127.0.0.1", port, int(os.environ.get("WEB_WORKERS", "2")),
          int(os.environ.get("WEB_THREADS", "4")))
    return 0


def mean_by_key(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(sum(r[key] for r in rounds) / len(rounds), 2) for key in rounds[0]}


def round_ratios(results: dict[str, list[Figures]], name: str) -> list[float]:
    """`name` against the baseline in each round (the two ran seconds apart, on the
    same state of a machine whose speed drifts)."""
    return [round(r.per_s / b.per_s, 3) for r, b in zip(results[name], results["baseline"], strict=True)]


def body(n: int) -> dict:
    return clue(summary=f"bench clue {n}") if n % 2 else anonymous_clue(summary=f"bench clue {n}")


def interleaved(phases, headers: dict[str, str], threads: int, per_thread: int, rounds: int, stack):
    """Each phase's figures and CPU per round. Baseline and intake take turns, round after round:
    the machine's speed drifts (shared cores), and interleaving lets both see the same drift."""
    results: dict[str, list[Figures]] = {name: [] for name, _, _ in phases}
    cpu: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in phases}
    for _ in range(rounds):
        for name, port, server in phases:
            meter = CpuMeter(alone={"client": os.getpid()}, server=server.pid, **stack_pids(stack))
            meter.start()
            figures = hammer(f"http://127.0.0.1:{port}/v1/clues", headers, body, threads, per_thread)
            results[name].append(figures)
            cpu[name].append(meter.per_item_ms(figures.accepted))
    return results, cpu


def report(results: dict[str, list[Figures]], cpu: dict[str, list[dict[str, float]]], common: dict) -> None:
    baseline = Figures.combine(results["baseline"])
    for name, bench in (("intake", "intake_post_clue"), ("control", "control_outbox_post_clue")):
        found = Figures.combine(results[name])
        emit(bench=bench, value=round(found.per_s, 1), unit="clues/s",
             baseline=round(baseline.per_s, 1), ratio=round(found.per_s / baseline.per_s, 3),
             round_ratios=round_ratios(results, name),
             p50_ms=round(found.percentile(50), 2), p99_ms=round(found.percentile(99), 2),
             failed=found.failed, cpu_ms_per_clue=mean_by_key(cpu[name]), **common)
    emit(bench="baseline_post_clue", value=round(baseline.per_s, 1), unit="clues/s",
         p50_ms=round(baseline.percentile(50), 2), p99_ms=round(baseline.percentile(99), 2),
         failed=baseline.failed, cpu_ms_per_clue=mean_by_key(cpu["baseline"]), **common)


def main() -> int:
    threads = int(os.environ.get("BENCH_THREADS", "8"))
    per_thread = int(os.environ.get("BENCH_REQUESTS", "250"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    env, stack = stack_env()
    public, _private = generate_keypair()
    env = {**env, "INTAKE_DB": DB, "WEB_WORKERS": os.environ.get("WEB_WORKERS", "2"),
           "WEB_THREADS": os.environ.get("WEB_THREADS", "4"), "LOG_LEVEL": "WARNING",
           "INTAKE_RECEIPT_KEY": generate_secret_key(), "INTAKE_REPORTER_KEY": generate_secret_key(),
           "NOTIFY_PUBLIC_KEY": public, "KAFKA_TOPIC_PREFIX": f"bench{os.getpid()}."}
    servers = []
    try:
        os.environ.update({k: v for k, v in env.items() if k == "MONGODB_URI"})
        from shared import mongo
        from shared.auth import issue_key

        mongo.connect(env["MONGODB_URI"], DB)
        token = issue_key("frontline", UNIT, label="bench")
        headers = {"Authorization": f"Bearer {token}"}
        intake_port, baseline_port, control_port = free_port(), free_port(), free_port()
        env_intake = {**env, "INTAKE_PORT": str(intake_port)}
        servers.append(start_server([python(), "-m", "services.intake", "web"], env_intake, intake_port))
        servers.append(start_server([python(), "-m", "bench.intake", "baseline", str(baseline_port)], env,
                                    baseline_port))
        servers.append(start_server([python(), "-m", "bench.intake", "control", str(control_port)], env,
                                    control_port))
        phases = (("baseline", baseline_port, servers[1]), ("intake", intake_port, servers[0]),
                  ("control", control_port, servers[2]))
        for _, port, _ in phases:  # warm up: connections, indexes, caches
            hammer(f"http://127.0.0.1:{port}/v1/clues", headers, body, threads, 20)
        results, cpu = interleaved(phases, headers, threads, per_thread, rounds, stack)
        common = {"broker": broker_name(stack), "database": DATABASE, "threads": threads, "rounds": rounds,
                  "requests": rounds * threads * per_thread, "server": "gunicorn gthread "
                  f"{env['WEB_WORKERS']}x{env['WEB_THREADS']}", "cpus": os.cpu_count()}
        report(results, cpu, common)
    finally:
        for proc in servers:
            stop_server(proc)
        if stack:
            stack.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("baseline", "control"):
        sys.exit(serve_baseline(int(sys.argv[2]), with_outbox=sys.argv[1] == "control"))
    sys.exit(main())
