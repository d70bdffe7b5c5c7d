"""Prompt delivery: the consumer process delivers what it has just queued, without waiting for a
deliverer's polling round.

It sends only to the receipt inbox, which needs no I/O outside the service (in production only
the deliverer joins the outside network, docs/production.md): a notification it opens and finds
bound for e-mail, SMS or a webhook it gives back to the deliverer process, due at once and in that
channel's lane, which this thread does not claim from.

The consumer loop calls `PromptDelivery.wake` once a batch's handlers have stored their
notifications (a notification is durable before it is delivered: the at-least-once of the outbox
holds, and the handlers being idempotent, a batch handled again after a crash queues nothing
twice, and a sent notification is never sent again); a thread of the same
process then runs delivery rounds (`Deliverer.run_once`) until nothing is due. The claims are the
deliverer's own conditional leases, so this thread and any number of deliverer processes never
send one notification twice. The deliverer process stays the backstop: it retries what is due
later, takes over leases that expired (a consumer that died mid-send; this thread claims only pending
notifications, which saves half the claim's queries), runs the still-handling
scheduler and publishes the outcomes (clue-notified), which this thread leaves to it so that each
outcome event has one publisher.
"""

from __future__ import annotations

import logging
import threading

from pymongo.errors import ConnectionFailure

from services.notify.channels import channel_for
from services.notify.delivery import Deliverer
from services.notify.settings import NotifySettings
from shared.kafka import DependencyDown

log = logging.getLogger(__name__)

# Rounds per wake at most: a flood is left to the next wake or to the deliverer process.
MAX_ROUNDS = 20


def inbox_deliverer(settings: NotifySettings) -> Deliverer:
    """A deliverer with the inbox channel only, which gives back whatever else it claims."""
    deliverer = Deliverer(settings, channels={"inbox": channel_for("inbox", settings)})
    deliverer.takes_expired = False
    deliverer.hands_back = True
    return deliverer


class PromptDelivery:
    """A thread that runs delivery rounds of an `inbox_deliverer` whenever it is woken."""

    def __init__(self, settings: NotifySettings) -> None:
        self.deliverer = inbox_deliverer(settings)
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._woken.set()

    def start(self, stop: threading.Event) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, args=(stop,), name="notify-prompt", daemon=True)
        self._thread.start()
        return self._thread

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                if not self._woken.wait(timeout=1.0):
                    continue
                self._woken.clear()
                self.deliver_due(stop)
        finally:
            self.deliverer.close()

    def deliver_due(self, stop: threading.Event) -> int:
        """Delivery rounds while each claims a full batch; how many notifications they claimed.

        No empty round closes them: what a handler stores after a round's claim began wakes this
        thread again (the wake is cleared before the round), so the next round comes at once.
        """
        claimed = 0
        try:
            for _ in range(MAX_ROUNDS):
                if stop.is_set():
                    break
                n = self.deliverer.run_once()
                claimed += n
                if n < self.deliverer.settings.batch_size:
                    break
        except (DependencyDown, ConnectionFailure) as exc:
            # Nothing half-written: the deliverer process's round picks it up.
            log.warning("prompt delivery waiting for a dependency", extra={"error": type(exc).__name__})
        except Exception:  # noqa: BLE001 - the thread must outlive a bad round; leases expire
            log.exception("prompt delivery round failed")
        return claimed

    def stop(self, timeout: float = 10.0) -> None:
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout)
