"""Where the cases' outbox lives: each case document stages the events of its own writes
(store.py), and shared/outbox.py's relay publishes them from this collection and gauges its
backlog. The relay's owners (web app, consumer, scheduler, gauges) take it from here."""

from __future__ import annotations

from pymongo.collection import Collection

from .documents import Case


def case_outbox() -> Collection:
    """The collection whose documents carry the cases' staged events."""
    return Case._get_collection()
