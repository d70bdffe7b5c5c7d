"""Small helpers for the benchmarks: a local stack, a server process, a concurrent HTTP client."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from deploy.apachestack import ApacheStack
from deploy.kafkastack import missing_tools
from deploy.localstack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
TANSU = "tansu 0.6.0 (local stand-in)"
DATABASE = "nx-27017 0.8.1"
Stack = LocalStack | ApacheStack


def start_stack(prefix: str = "bench-stack-") -> Stack:
    """A fresh stack: Apache Kafka (one node) where java and mvn exist, unless BENCH_KAFKA=tansu,
    else Tansu; nx-27017 either way. Announced on stderr."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    if os.environ.get("BENCH_KAFKA", "apache") == "apache" and missing_tools() is None:
        stack: Stack = ApacheStack(data_dir, nodes=1).start()
    else:
        stack = LocalStack(data_dir).start()
    print(f"bench: broker {broker_name(stack)}, database {DATABASE}", file=sys.stderr, flush=True)
    return stack


def broker_name(stack: Stack | None) -> str:
    """Which broker a benchmark ran on, for its JSON lines."""
    if stack is None:
        return "KAFKA_BOOTSTRAP_SERVERS"
    return stack.kind if isinstance(stack, ApacheStack) else TANSU


def stack_env() -> tuple[dict[str, str], Stack | None]:
    """KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI from the environment, or a fresh stack."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("MONGODB_URI"):
        return {k: os.environ[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")}, None
    stack = start_stack()
    return stack.env(), stack


def start_server(argv: list[str], env: dict[str, str], port: int, timeout: float = 60.0) -> subprocess.Popen:
    """Start a server process and wait until GET /healthz answers on `port`."""
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{argv} exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{argv} did not answer on port {port}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Figures:
    accepted: int
    failed: int
    seconds: float
    latencies_ms: list[float]

    @classmethod
    def combine(cls, runs: list[Figures]) -> Figures:
        """Several runs as one: their items, seconds and latencies added up."""
        return cls(sum(r.accepted for r in runs), sum(r.failed for r in runs),
                   sum(r.seconds for r in runs), [ms for r in runs for ms in r.latencies_ms])

    @property
    def per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def hammer(url: str, headers: dict[str, str], body: Callable[[int], dict], threads: int,
           per_thread: int, ok: int = 202) -> Figures:
    """POST `per_thread` bodies from each of `threads` threads (one session each); time every call."""
    latencies: list[float] = []
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        session = requests.Session()
        mine: list[float] = []
        good = bad = 0
        start.wait()
        for n in range(per_thread):
            payload = json.dumps(body(index * per_thread + n))
            t0 = time.perf_counter()
            resp = session.post(url, data=payload, headers={**headers, "Content-Type": "application/json"})
            mine.append((time.perf_counter() - t0) * 1000)
            if resp.status_code == ok:
                good += 1
            else:
                bad += 1
        with lock:
            latencies.extend(mine)
            counts["ok"] += good
            counts["failed"] += bad

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    return Figures(counts["ok"], counts["failed"], time.perf_counter() - t0, latencies)


class CpuMeter:
    """CPU seconds spent by named processes (each with its children) over a measured phase.

    On a two-core machine every process of a benchmark competes for the same cores, so where the
    CPU goes per item (the service, the database, the broker, the load generator) says more than
    the throughput alone.
    """

    def __init__(self, alone: dict[str, int] | None = None, **trees: int | None) -> None:
        """`trees`: processes counted with their children (a gunicorn master and its workers);
        `alone`: without them (the benchmark's own process, whose children are the servers)."""
        import psutil

        self._psutil = psutil
        self.roots = {name: (psutil.Process(pid), True) for name, pid in trees.items() if pid}
        self.roots.update({name: (psutil.Process(pid), False) for name, pid in (alone or {}).items()})
        self.started: dict[str, float] = {}

    def _used(self, root_and_children) -> float:
        root, children = root_and_children
        total = 0.0
        for proc in [root, *(root.children(recursive=True) if children else [])]:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except self._psutil.Error:
                pass
        return total

    def start(self) -> None:
        self.started = {name: self._used(root) for name, root in self.roots.items()}

    def per_item_ms(self, items: int) -> dict[str, float]:
        """CPU milliseconds per item since `start`, by process name."""
        return {name: round((self._used(root) - self.started[name]) * 1000 / max(1, items), 2)
                for name, root in self.roots.items()}


def stack_pids(stack: Stack | None) -> dict[str, int | None]:
    """The database and broker processes of a local stack (none for an outside stack)."""
    if isinstance(stack, ApacheStack):
        nodes = stack.cluster.procs
        return {"database": getattr(stack.local.procs.get("mongo"), "pid", None),
                "broker": getattr(nodes.get(1), "pid", None)}
    procs = stack.procs if stack else {}
    return {"database": getattr(procs.get("mongo"), "pid", None),
            "broker": getattr(procs.get("broker"), "pid", None)}


def emit(**fields) -> None:
    """One JSON line of figures on stdout."""
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def python() -> str:
    return sys.executable
