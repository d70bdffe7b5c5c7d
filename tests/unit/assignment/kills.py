"""Stand-ins for a SIGKILL at a chosen point of assignment's handlers: nothing after it runs."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import pytest

from services.assignment import store, workload


class Killed(Exception):
    """The worker died here."""


@contextmanager
def killed_at_update(monkeypatch, when: Callable[[dict, dict], bool]):
    """Kill the first `case_store().update(doc, changes, ...)` for which `when(doc, changes)`."""
    cases = store.case_store()
    real = cases.update

    def update(doc, changes, *args, **kwargs):
        if when(doc, changes):
            raise Killed
        return real(doc, changes, *args, **kwargs)

    monkeypatch.setattr(cases, "update", update)
    with pytest.raises(Killed):
        yield
    monkeypatch.setattr(cases, "update", real)


@contextmanager
def killed_before_settling(monkeypatch):
    """Kill right after a case's update took its slot, before the claim journal is cleared."""

    def settle_slot(*_args, **_kwargs):
        raise Killed

    real = workload.settle_slot
    monkeypatch.setattr(workload, "settle_slot", settle_slot)
    with pytest.raises(Killed):
        yield
    monkeypatch.setattr(workload, "settle_slot", real)


def draining(doc: dict, _changes: dict) -> bool:
    """The drain's update of a queued case."""
    return doc["status"] == "queued"


def moving(_doc: dict, changes: dict) -> bool:
    """An escalation's update that moves the case to another unit."""
    return "unit" in changes
