"""The assignment service's gauges, computed at scrape time (cached a few seconds): queue length
and overdue cases per unit, outbox backlog of the cases, and the consumer group's lag."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared import events
from shared.metrics import (
    SCRAPE_TTL_S,
    ScrapeCache,
    ScrapeGauge,
    register_scrape_gauge,
    watch_consumer_lag,
    watch_outbox_backlog,
)
from shared.mongo import utcnow

from . import report_store
from .consumer import GROUP
from .outbox_store import case_outbox
from .registry import Registry
from .settings import AssignmentSettings

TOPICS = (events.CLUE_RECEIVED, events.CLUE_FOLLOWED_UP, events.CLUE_NOTIFIED)


def queue_lengths(registry: Registry) -> dict[str, float]:
    """Queued cases per unit: every unit of the registry (0 when none), and any other unit a queued
    case names (a clue waiting in triage)."""
    counts = report_store.queued_by_unit()
    return {**{u.code: 0.0 for u in registry.units()}, **{u: float(n) for u, n in counts.items()}}


def overdue_cases(registry: Registry, now: datetime) -> dict[str, float]:
    """Open cases past their due date per unit (every unit of the registry, 0 when none)."""
    counts = report_store.overdue_by_unit(now)
    return {**{u.code: 0.0 for u in registry.units()}, **{u: float(n) for u, n in counts.items()}}


def register_metrics(
    settings: AssignmentSettings,
    registry: Callable[[], Registry],
    clock: Callable[[], datetime] = utcnow,
    ttl_s: float = SCRAPE_TTL_S,
) -> dict[str, ScrapeCache]:
    """Attach the scrape-time gauges to this process's /metrics; their caches, by name."""
    queue = ScrapeCache(lambda: queue_lengths(registry()), ttl_s)
    overdue = ScrapeCache(lambda: overdue_cases(registry(), clock()), ttl_s)
    register_scrape_gauge(ScrapeGauge("assignment_queue_length", "Queued cases per unit", ["unit"], queue))
    register_scrape_gauge(
        ScrapeGauge("assignment_overdue_cases", "Open cases past their due date per unit", ["unit"], overdue)
    )
    return {
        "queue": queue,
        "overdue": overdue,
        "outbox": watch_outbox_backlog([case_outbox()], ttl_s),
        "lag": watch_consumer_lag(settings.common, GROUP, TOPICS, ttl_s),
    }
