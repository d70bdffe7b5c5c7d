"""The assignment consumer: clue-received, clue-followed-up and clue-notified, with an outbox relay thread."""

from __future__ import annotations

import logging
import threading

from shared import events
from shared.consumer import ConsumerLoop, consumer_group
from shared.kafka import EventProducer
from shared.outbox import OutboxRelay

from . import handlers, networks, tracking
from .outbox_store import case_outbox
from .registry_store import RegistryCache
from .settings import AssignmentSettings

log = logging.getLogger(__name__)
GROUP = "assignment"


def context(settings: AssignmentSettings, wake=lambda _case: None) -> handlers.Context:
    cache = RegistryCache(settings.registry_refresh_s)
    return handlers.Context(
        registry=cache.get,
        rules=settings.escalation,
        deadlines=settings.deadlines,
        serious=settings.serious,
        wake=wake,
    )


def received(batch: list[events.Event], ctx: handlers.Context, one: bool = False) -> None:
    """clue-received: the clues' cases, then their links on the relationship map (networks.py)."""
    if one:
        handlers.clue_received(batch[0], ctx)
    else:
        handlers.clues_received(batch, ctx)
    networks.after_clues([event.data for event in batch], ctx)


def group_id(settings: AssignmentSettings) -> str:
    """The consumer group's full name: "assignment", behind the topic prefix."""
    return consumer_group(settings.common, GROUP)


def run_consumer(settings: AssignmentSettings, stop: threading.Event) -> None:
    """Consume until `stop` is set; events staged by the handlers go out at once through the relay
    thread, and whatever is still pending at the end is published before returning."""
    producer = EventProducer(settings.common)
    relay = OutboxRelay(case_outbox(), producer)
    relay_stop = threading.Event()
    thread = relay.start_thread(relay_stop, settings.relay_poll_interval_s)
    ctx = context(settings, relay.wake)
    loop = ConsumerLoop(
        settings.common,
        GROUP,
        {
            events.CLUE_RECEIVED: lambda event: received([event], ctx, one=True),
            events.CLUE_FOLLOWED_UP: lambda event: handlers.clue_followed_up(event, ctx),
            events.CLUE_NOTIFIED: lambda event: tracking.notified(event, ctx),
        },
        dead_letters=producer,
        batch_handlers={events.CLUE_RECEIVED: lambda batch: received(batch, ctx)},
    )
    try:
        loop.run(stop)
    finally:
        relay_stop.set()
        relay.stop()
        thread.join(timeout=10)
        try:
            while relay.publish_pending():
                pass
        except Exception as exc:  # noqa: BLE001 - the scheduler's poller publishes what is left
            log.warning("could not flush the outbox at shutdown", extra={"error": type(exc).__name__})
        producer.close()
