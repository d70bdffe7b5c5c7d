"""The scheduler: deadline transitions every interval, and the outbox poller (the relay's backstop).

Several schedulers may run at once: every transition is a conditional write, done once.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from shared.kafka import DependencyDown, EventProducer
from shared.outbox import OutboxRelay

from . import handlers, tracking
from .consumer import context
from .outbox_store import case_outbox
from .settings import AssignmentSettings

log = logging.getLogger(__name__)
STRANDED_AFTER_S = 120


def _backfill_open_keys() -> None:
    """Once at start: cases from before open keys get theirs (see handlers.open_key)."""
    try:
        if given := handlers.backfill_open_keys():
            log.info("open keys given to earlier open cases", extra={"cases": given})
    except (DependencyDown, ConnectionError) as exc:
        log.warning("open key backfill deferred to the next start", extra={"error": type(exc).__name__})


def run_scheduler(settings: AssignmentSettings, stop: threading.Event) -> None:
    producer = EventProducer(settings.common)
    relay = OutboxRelay(case_outbox(), producer)
    thread = relay.start_thread(stop, settings.relay_poll_interval_s)
    ctx = context(settings, relay.wake)
    try:
        _backfill_open_keys()
        while not stop.is_set():
            try:
                done = handlers.run_deadlines(ctx)
                done["duties_missed"] = tracking.sweep(ctx)
                if any(done.values()):
                    log.info("deadline round", extra=done)
                # a batch's claims settle within a second; older journal entries are a dead worker's
                handlers.sweep_stranded_slots(ctx, ctx.clock() - timedelta(seconds=STRANDED_AFTER_S))
                handlers.retry_waiting(ctx)
            except (DependencyDown, ConnectionError) as exc:
                log.warning("deadline round deferred", extra={"error": type(exc).__name__})
            except Exception:  # noqa: BLE001 - a bad round must not stop the scheduler
                log.exception("deadline round failed")
            stop.wait(settings.scheduler_interval_s)
    finally:
        relay.stop()
        thread.join(timeout=10)
        producer.close()
