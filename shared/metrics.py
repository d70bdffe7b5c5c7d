"""Prometheus metrics shared by the services; each process exposes them at /metrics.

Counters and histograms move as work happens. Gauges about stored state (outbox backlog,
consumer lag, and a service's own ones) are computed when scraped, through a `ScrapeCache`
that answers from memory for a few seconds, so a scrape costs little and a busy scraper cannot
load the database or the broker. Worker processes, which serve no HTTP, expose their counters
with `serve_worker_metrics(metrics_port())` when METRICS_PORT is set.

Under gunicorn (several worker processes behind one port) the web process runs prometheus-client's
multiprocess mode: `use_multiprocess_dir` before the fork, `mark_worker_dead` when a worker
exits, and `exposition` then sums the counters and histograms of every worker, so a scrape shows
the same totals whichever worker answers it.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.kafka_admin import consumer_group, group_lag, kafka_reachable
from shared.mongo import count_exact
from shared.settings import Env

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "route", "status"])
HTTP_LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["service", "route"])
EVENTS_CONSUMED = Counter("events_consumed_total", "Records consumed", ["group", "topic", "outcome"])
EVENTS_PRODUCED = Counter("events_produced_total", "Events published", ["topic"])
EVENTS_DEAD_LETTERED = Counter("events_dead_lettered_total", "Records sent to a DLQ", ["topic"])
HANDLER_LATENCY = Histogram("event_handler_seconds", "Event handler latency", ["group", "topic"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Documents with unpublished events", ["collection"])
WAKES_DROPPED = Counter("outbox_wakes_dropped_total",
                        "Wakes dropped with the relay's queue full (their backstop publishes them)",
                        ["collection"])
CONSUMER_LAG = Gauge("consumer_lag", "Records not yet consumed", ["group", "topic"])

SCRAPE_TTL_S = 5.0
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name for it


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type: this process's, or in multiprocess mode every
    worker's counters and histograms summed, with the gauges computed at scrape time."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    if not directory:
        return generate_latest(), CONTENT_TYPE_LATEST
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_AllWorkers(directory))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _AllWorkers(Collector):
    """The multiprocess files of every worker (summed by prometheus-client), except the gauges
    that are computed at scrape time: those come from this process, as the files hold no value
    for them."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def collect(self):
        from prometheus_client.multiprocess import MultiProcessCollector

        computed = {OUTBOX_BACKLOG._name, CONSUMER_LAG._name, *_scrape_gauges}
        for family in MultiProcessCollector(None, self.directory).collect():
            if family.name not in computed:
                yield family
        for family in REGISTRY.collect():
            if family.name in computed:
                yield family


def multiprocess_dir(service: str, port: int, env: Env | None = None) -> Path:
    """METRICS_DIR/<service>-<port>: where the gunicorn workers of one web process keep their
    metric files. METRICS_DIR defaults to <the temp dir>/campaign-metrics."""
    base = (env or Env()).str("METRICS_DIR", str(Path(tempfile.gettempdir()) / "campaign-metrics"))
    return Path(base) / f"{service}-{port}"


def use_multiprocess_dir(directory: Path) -> None:
    """Keep this process's metrics, and its forked workers', as files in `directory`; call it in
    gunicorn's master before any metric is used. Files of an earlier run are removed first (their
    counts would be summed in)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROCESS_ENV] = str(directory)
    from prometheus_client import values

    # prometheus-client chose its value class when first imported; choose again now the
    # directory is set (every metric here has labels, so none holds a value yet).
    values.ValueClass = values.get_value_class()


def mark_worker_dead(pid: int) -> None:
    """Gunicorn's child_exit: drop the live gauges of a worker that exited (its counts stay)."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# --- computed at scrape time ---------------------------------------------------------------------

class ScrapeCache:
    """The result of `compute()`, kept for `ttl_s` seconds; thread-safe.

    A failing `compute` is logged and the last good result is kept (empty before the first), so
    a scrape never fails because the database or broker is away; it is tried again after `ttl_s`.
    """

    def __init__(self, compute: Callable[[], Mapping[Any, float]], ttl_s: float = SCRAPE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.compute = compute
        self.ttl_s = ttl_s
        self.clock = clock
        self.computed = 0  # how many times compute ran (tests look at it)
        self._lock = threading.Lock()
        self._values: dict[Any, float] = {}
        self._until = -math.inf

    def get(self) -> dict[Any, float]:
        """The values, computed again when older than `ttl_s`."""
        with self._lock:
            if self.clock() >= self._until:
                self.computed += 1
                try:
                    self._values = dict(self.compute())
                except Exception as exc:  # noqa: BLE001 - a scrape must answer whatever happens
                    log.warning("metric not refreshed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
                self._until = self.clock() + self.ttl_s
            return dict(self._values)

    def expire(self) -> None:
        """Compute again at the next read."""
        with self._lock:
            self._until = -math.inf

    def value(self, key: Any) -> float:
        """One value; NaN when unknown."""
        return float(self.get().get(key, math.nan))


class ScrapeGauge(Collector):
    """A gauge family whose label values are only known at scrape time (e.g. one per unit)."""

    def __init__(self, name: str, documentation: str, labels: Iterable[str], cache: ScrapeCache) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.cache = cache

    def describe(self):
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self):
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, value in sorted(self.cache.get().items()):
            family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
        yield family


_scrape_gauges: dict[str, ScrapeGauge] = {}
_scrape_lock = threading.Lock()


def register_scrape_gauge(gauge: ScrapeGauge) -> ScrapeGauge:
    """Register `gauge`, replacing an earlier one of the same name (an app made again in tests)."""
    with _scrape_lock:
        old = _scrape_gauges.pop(gauge.name, None)
        if old is not None:
            REGISTRY.unregister(old)
        REGISTRY.register(gauge)
        _scrape_gauges[gauge.name] = gauge
    return gauge


def watch_outbox_backlog(collections: Iterable[Any], ttl_s: float = SCRAPE_TTL_S) -> ScrapeCache:
    """`outbox_backlog{collection}` counts the collections' documents with `outbox_pending` at
    scrape time (pymongo collections; one count each, cached `ttl_s`)."""
    collections = list(collections)

    def count() -> dict[str, float]:
        return {c.name: float(count_exact(c, outbox_pending=True)) for c in collections}

    cache = ScrapeCache(count, ttl_s)
    for collection in collections:
        OUTBOX_BACKLOG.labels(collection.name).set_function(
            lambda name=collection.name: cache.value(name))
    return cache


class LagProbe:
    """Consumer lag of one group per topic: end offsets minus committed offsets.

    Uses `shared.kafka_admin.group_lag` (and so its `end_offsets`, which corrects the local
    broker's short ListOffsets answer). One Kafka client, made on first use (after a fork),
    assigned partitions only: it never joins the group nor commits.
    """

    def __init__(self, settings: Any, group: str, topics: Iterable[str]) -> None:
        self.settings = settings
        self.group = group
        self.topics = tuple(topics)
        self._consumer: Any = None

    def lag(self) -> dict[str, float]:
        from kafka import KafkaConsumer

        if not kafka_reachable(self.settings.kafka_bootstrap_servers, timeout_s=0.5):
            self.close()
            raise ConnectionError("no broker answers")  # the cache keeps the last values
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=self.group,
                enable_auto_commit=False, request_timeout_ms=10_000, fetch_max_wait_ms=100,
                client_id=f"{self.group}-lag-probe")
        try:
            rows = group_lag(self._consumer, self.settings.topic_prefix, self.topics, only_committed=False)
        except Exception:
            self.close()
            raise
        return {row["topic"]: float(row["lag"]) for row in rows}

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            finally:
                self._consumer = None


def watch_consumer_lag(settings: Any, group: str, topics: Iterable[str],
                       ttl_s: float = SCRAPE_TTL_S) -> ScrapeCache:
    """`consumer_lag{group,topic}` for the service's `group` on each of `topics` (logical names,
    the topic prefix added as the consumer loop adds it), at scrape time."""
    group = consumer_group(settings, group)
    topics = tuple(topics)
    # One app per process in production; where tests make many, only the newest is watched, so a
    # scrape never waits on the probes of apps long gone.
    CONSUMER_LAG.clear()
    cache = ScrapeCache(LagProbe(settings, group, topics).lag, ttl_s)
    for topic in topics:
        CONSUMER_LAG.labels(group, topic).set_function(lambda topic=topic: cache.value(topic))
    return cache


# --- worker processes ----------------------------------------------------------------------------

def metrics_port(env: Env | None = None) -> int:
    """METRICS_PORT: where a worker process (consumer, relay, scheduler, deliverer) serves its
    metrics; 0 or unset means it serves none."""
    return (env or Env()).int("METRICS_PORT", 0, minimum=0, maximum=65535)


def serve_worker_metrics(port: int, addr: str = "127.0.0.1") -> bool:
    """Serve this process's metrics over HTTP on `addr:port` in a daemon thread (0 = off).

    A port already taken is logged, not fatal: the worker's job matters more than its metrics.
    """
    if not port:
        return False
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=addr)
    except OSError as exc:
        log.warning("worker metrics not served", extra={"port": port, "error": str(exc)})
        return False
    log.info("worker metrics served", extra={"port": port})
    return True
