"""Prometheus metrics shared by the services; each process exposes them at /metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "route", "status"])
HTTP_LATENCY = Histogram("http_request_seconds", "HTTP request latency", ["service", "route"])
EVENTS_CONSUMED = Counter("events_consumed_total", "Records consumed", ["group", "topic", "outcome"])
EVENTS_PRODUCED = Counter("events_produced_total", "Events published", ["topic"])
EVENTS_DEAD_LETTERED = Counter("events_dead_lettered_total", "Records sent to a DLQ", ["topic"])
HANDLER_LATENCY = Histogram("event_handler_seconds", "Event handler latency", ["group", "topic"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Documents with unpublished events", ["collection"])
CONSUMER_LAG = Gauge("consumer_lag", "Records not yet consumed", ["group", "topic"])


def exposition() -> tuple[bytes, str]:
    """The metrics text and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
