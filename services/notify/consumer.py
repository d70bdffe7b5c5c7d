"""The notify consumer: clue-received and the case events, into pending notifications."""

from __future__ import annotations

from collections.abc import Callable

from services.notify.handlers import HANDLERS
from shared.consumer import ConsumerLoop
from shared.kafka import Publisher
from shared.settings import CommonSettings

GROUP_ID = "notify"


def build_consumer(settings: CommonSettings, dead_letters: Publisher,
                   group_id: str = GROUP_ID, on_handled: Callable[[], None] | None = None) -> ConsumerLoop:
    """A consumer loop over notify's four topics; bad records go to `<topic>.dlq`.

    No processed-event record is needed: the handlers are idempotent by construction.
    `on_handled` is called after each handled batch (the process's prompt delivery, prompt.py).
    """
    return ConsumerLoop(settings, group_id, dict(HANDLERS), dead_letters=dead_letters,
                        on_handled=on_handled)
