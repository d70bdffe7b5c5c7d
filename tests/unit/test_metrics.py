"""shared.metrics: the scrape-time cache, scrape gauges, METRICS_PORT and the worker metrics server."""

from __future__ import annotations

import math
import socket
import urllib.request

import pytest
from prometheus_client import REGISTRY

from shared.metrics import ScrapeCache, ScrapeGauge, metrics_port, register_scrape_gauge, serve_worker_metrics
from shared.settings import Env, SettingsError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_computes_once_per_ttl_and_keeps_the_last_values_on_failure():
    clock, answers = Clock(), iter([{"a": 1.0}, RuntimeError("db down"), {"a": 3.0}])

    def compute():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = ScrapeCache(compute, ttl_s=5.0, clock=clock)
    assert cache.get() == {"a": 1.0}
    clock.now += 4.9
    assert cache.value("a") == 1.0 and cache.computed == 1
    clock.now += 0.2
    assert cache.get() == {"a": 1.0} and cache.computed == 2  # the failure keeps the last values
    assert math.isnan(cache.value("b"))
    clock.now += 5.0
    assert cache.get() == {"a": 3.0} and cache.computed == 3


def test_a_scrape_gauge_replaces_one_of_the_same_name():
    first = register_scrape_gauge(
        ScrapeGauge("test_scrape_units", "d", ["unit"], ScrapeCache(lambda: {"u1": 1}))
    )
    register_scrape_gauge(
        ScrapeGauge("test_scrape_units", "d", ["unit"], ScrapeCache(lambda: {"u2": 2, "u3": 0}))
    )
    assert REGISTRY.get_sample_value("test_scrape_units", {"unit": "u1"}) is None
    assert REGISTRY.get_sample_value("test_scrape_units", {"unit": "u2"}) == 2
    assert REGISTRY.get_sample_value("test_scrape_units", {"unit": "u3"}) == 0
    assert first not in REGISTRY._collector_to_names


@pytest.mark.parametrize(
    ("environ", "port"), [({}, 0), ({"METRICS_PORT": "0"}, 0), ({"METRICS_PORT": "9100"}, 9100)]
)
def test_metrics_port(environ, port):
    assert metrics_port(Env(environ)) == port


@pytest.mark.parametrize("raw", ["nine", "70000", "-1"])
def test_a_bad_metrics_port_names_the_variable(raw):
    with pytest.raises(SettingsError, match="^METRICS_PORT"):
        metrics_port(Env({"METRICS_PORT": raw}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_worker_metrics_are_served_on_localhost_only_when_asked():
    assert serve_worker_metrics(0) is False
    port = _free_port()
    assert serve_worker_metrics(port) is True
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "events_consumed_total" in body and "http_requests_total" in body
    assert serve_worker_metrics(port) is False  # taken: logged, not fatal
