"""The deliverer: claims due notifications, opens the sealed contact at send time, sends, records.

- Claiming is a conditional update per notification (pending and due, or a sending lease that
  expired) tagged with a fresh lease token, so any number of deliverers never claim one twice.
- Inbox notifications need no I/O: a claimed batch of them is finished with a few bulk writes.
- Every other channel has its own small thread pool: a slow or dead SMTP server fills only the
  email pool (the claim then skips email notifications) and never delays inbox, webhook or SMS.
- The contact is opened in memory for one send and dropped; no log line or stored reason holds
  the plaintext or the ciphertext.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import ConnectionFailure

from services.notify import retry
from services.notify.channels import Channel, DeliveryResult, channel_for
from services.notify.handlers import WAITING_FOR_CONTACT
from services.notify.notification_store import Contact, Lane, Release, notifications
from services.notify.outcomes import publish_outcomes
from services.notify.retention import erase_expired
from services.notify.settings import NotifySettings, deliverable_channels
from services.notify.still_handling import send_still_handling
from services.notify.templates import Message, render, short_clue_ref
from shared.kafka import DependencyDown, Publisher
from shared.mongo import new_id, utcnow
from shared.sealing import SealError, open_sealed

log = logging.getLogger(__name__)

SEAL_FAILED = "contact cannot be opened"
NO_CONTACT = "the reporter's contact never arrived"
NO_CHANNEL = "channel not available"
NOT_RENDERED = "message cannot be rendered"
CHANNEL_ERROR = "channel error"


def build_channels(settings: NotifySettings) -> dict[str, Channel]:
    """The channels this deployment can use (sms only when a gateway is configured)."""
    names = deliverable_channels(settings.sms_gateway_url)
    return {name: channel_for(name, settings) for name in names}


@dataclass
class _Job:
    doc: dict[str, Any]
    channel: str
    lang: str
    contact: dict[str, Any]
    message: Message
    token: str


class Deliverer:
    """Delivers pending notifications; `run` loops until stopped, `run_once` is one round."""

    def __init__(self, settings: NotifySettings, channels: dict[str, Channel] | None = None, *,
                 clock: Callable[[], datetime] = utcnow,
                 rng: Callable[[], float] = random.random,
                 publisher: Publisher | None = None) -> None:
        self.settings = settings
        self.publisher = publisher  # tells the system each final outcome (outcomes.py)
        self.channels = channels if channels is not None else build_channels(settings)
        self.clock = clock
        self.rng = rng
        self.pools = {name: ThreadPoolExecutor(settings.channel_workers, thread_name_prefix=f"notify-{name}")
                      for name in self.channels if name != "inbox"}
        self.in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.max_in_flight = 4 * settings.channel_workers
        # prompt.py's deliverer: claims no expired leases, and gives back (due at once) what it
        # has no channel for, to the deliverer process, instead of failing it.
        self.takes_expired = True
        self.hands_back = False

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; the still-handling scheduler runs every interval."""
        next_schedule = 0.0
        log.info("deliverer started", extra={"channels": sorted(self.channels)})
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_schedule:
                        send_still_handling(self.settings.still_handling_days, self.clock(),
                                            calendar=self.settings.common.calendar)
                        erase_expired(self.settings.retention_days, self.clock())
                        next_schedule = time.monotonic() + self.settings.scheduler_interval_s
                    delivered = self.run_once()
                    if self.publisher is not None:
                        publish_outcomes(self.publisher, self.clock())
                    if not delivered:
                        stop.wait(self.settings.poll_interval_s)
                except DependencyDown as exc:
                    log.warning("deliverer waiting for the broker", extra={"error": type(exc).__name__})
                    stop.wait(max(1.0, self.settings.poll_interval_s))
                except ConnectionFailure as exc:
                    # The database is away: nothing was claimed or half-written; try again soon.
                    log.warning("deliverer waiting for the database", extra={"error": type(exc).__name__})
                    stop.wait(max(1.0, self.settings.poll_interval_s))
        finally:
            self.close()
            log.info("deliverer stopped")

    def close(self, wait: bool = True) -> None:
        for pool in self.pools.values():
            pool.shutdown(wait=wait, cancel_futures=not wait)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no send is in flight (for tests and benchmarks)."""
        with self._idle:
            return self._idle.wait_for(lambda: not +self.in_flight, timeout)

    def run_once(self) -> int:
        """Claim one batch of due notifications and deliver or hand them on; returns how many."""
        now = self.clock()
        docs, token = self._claim(now)
        if not docs:
            return 0
        store = notifications()
        contacts = store.contacts({d["clue_id"] for d in docs})
        writes: list[Release] = []
        attempts: list[dict[str, Any]] = []
        for doc in docs:
            contact = contacts.get(doc["clue_id"])
            planned = self._plan(doc, contact, token, now, writes, attempts)
            if planned is not None:
                self._submit(planned)
            if planned is not None and contact and contact.channel != planned.channel:
                # Learnt from the sealed contact: later notifications of the clue start in its lane.
                contact.channel = planned.channel
                store.note_channel(contact.id, planned.channel)
        store.add_attempts(attempts)
        store.release(writes)
        return len(docs)

    def _claim(self, now: datetime) -> tuple[list[dict[str, Any]], str]:
        """Claim due notifications lane by lane: the inbox up to the batch size, each other channel
        up to its free pool slots, and the rest (channel not known yet, or not available) a few.
        """
        batch = self.settings.batch_size
        with self._lock:
            lanes: list[Lane] = [("inbox", batch)] + [
                (name, self.max_in_flight - self.in_flight[name]) for name in self.pools]
        unknown: str | tuple[str, ...] = "" if self.hands_back else ("inbox", *self.pools)
        lanes.append((unknown, min(batch, self.max_in_flight)))
        token = new_id()
        docs = notifications().claim(lanes, now, token, now + timedelta(seconds=self.settings.lease_s),
                                     take_expired=self.takes_expired)
        return (docs, token) if docs else ([], "")

    def _plan(self, doc: dict[str, Any], contact: Contact | None, token: str, now: datetime,
              writes: list[Release], attempts: list[dict[str, Any]]) -> _Job | None:
        """Finish what needs no channel I/O (into `writes`/`attempts`); return a job for the rest."""
        if contact is None:
            created = _aware(doc["created_at"])
            if now - created > timedelta(seconds=self.settings.contact_wait_s):
                writes.append(self._final(doc, token, "failed", NO_CONTACT, now, doc.get("channel") or ""))
            else:
                writes.append((doc["_id"], token, {
                    "status": "pending", "last_reason": WAITING_FOR_CONTACT,
                    "due_at": now + timedelta(seconds=self.settings.contact_recheck_s)}))
            return None
        channel_name = contact.channel
        lang = contact.lang or doc["lang"]
        opened: dict[str, Any] = {}
        if not contact.anonymous:
            try:
                opened = open_sealed(contact.contact_sealed or "", self.settings.private_key)
            except (SealError, ValueError):
                return self._fail_now(doc, token, SEAL_FAILED, now, channel_name or "unknown",
                                      writes, attempts)
            channel_name = opened.get("channel") or channel_name or "inbox"
            lang = opened.get("lang") or lang
        else:
            channel_name = "inbox"
        if channel_name not in self.channels and self.hands_back:
            writes.append(_give_back(doc, token, channel_name, now))
            return None
        if channel_name not in self.channels:
            return self._fail_now(doc, token, NO_CHANNEL, now, channel_name, writes, attempts)
        try:
            message = _render(doc, lang)
        except ValueError:
            return self._fail_now(doc, token, NOT_RENDERED, now, channel_name, writes, attempts)
        job = _Job(doc, channel_name, lang, opened, message, token)
        if channel_name == "inbox":
            result = self.channels["inbox"].send(opened, message, delivery_id=doc["_id"])
            attempts.append(_attempt(doc, channel_name, result, now, 0))
            writes.append(self._result_write(job, result, now))
            return None
        with self._lock:
            full = self.in_flight[channel_name] >= self.max_in_flight
        if full:
            # Its pool is busy (a slow server): give the claim back untouched, try again soon.
            writes.append(_give_back(doc, token, channel_name,
                                     now + timedelta(seconds=self.settings.poll_interval_s)))
            return None
        return job

    def _submit(self, job: _Job) -> None:
        with self._lock:
            self.in_flight[job.channel] += 1
        self.pools[job.channel].submit(self._send, job)

    def _renew(self, job: _Job) -> bool:
        """Renew the job's sending lease just before its send: False when the lease is no longer
        this deliverer's (it waited in the pool past `lease_s` and another deliverer claimed the
        notification), so the send would be a double one and is skipped."""
        lease_until = self.clock() + timedelta(seconds=self.settings.lease_s)
        return notifications().renew(job.doc["_id"], job.token, lease_until)

    def _send(self, job: _Job) -> None:
        started = time.perf_counter()
        try:
            if not self._renew(job):
                log.info("lease lost before sending", extra={"notification_id": job.doc["_id"]})
                return
            try:
                result = self.channels[job.channel].send(job.contact, job.message,
                                                         delivery_id=job.doc["_id"])
            except Exception:  # noqa: BLE001 - a channel bug must not kill the pool; no text kept
                log.exception("channel raised", extra={"channel": job.channel})
                result = DeliveryResult("retry", CHANNEL_ERROR)
            now = self.clock()
            ms = int((time.perf_counter() - started) * 1000)
            store = notifications()
            store.add_attempts([_attempt(job.doc, job.channel, result, now, ms)])
            store.release([self._result_write(job, result, now)])
        except Exception:  # noqa: BLE001 - the lease expires and another round retries it
            log.exception("recording a delivery failed", extra={"notification_id": job.doc["_id"]})
        finally:
            job.contact = {}
            with self._idle:
                self.in_flight[job.channel] -= 1
                self._idle.notify_all()

    def _result_write(self, job: _Job, result: DeliveryResult, now: datetime) -> Release:
        doc = job.doc
        number = doc.get("attempts", 0) + 1
        changes: dict[str, Any] = {"channel": job.channel, "attempts": number, "last_reason": result.reason}
        if job.lang != doc["lang"]:
            changes.update(lang=job.lang, subject=job.message.subject, text=job.message.text)
        if result.status == "sent":
            changes.update(status="sent", sent_at=now, outcome_pending=True)
        elif result.status == "retry" and not retry.exhausted(number, self.settings.max_attempts):
            changes.update(status="pending", due_at=retry.next_attempt_at(
                now, number, self.settings.retry_base_s, self.settings.retry_cap_s, self.rng))
        else:
            changes.update(status="failed", outcome_pending=True)
        log.info("delivery attempt", extra={"notification_id": doc["_id"], "channel": job.channel,
                                            "status": changes["status"], "reason": result.reason})
        return doc["_id"], job.token, changes

    def _final(self, doc: dict[str, Any], token: str, status: str, reason: str, now: datetime,
               channel: str, attempts: int | None = None) -> Release:
        log.warning("notification failed", extra={"notification_id": doc["_id"], "reason": reason})
        changes = {"status": status, "last_reason": reason, "channel": channel, "outcome_pending": True}
        if attempts is not None:
            changes["attempts"] = attempts
        return doc["_id"], token, changes

    def _fail_now(self, doc: dict[str, Any], token: str, reason: str, now: datetime, channel: str,
                  writes: list[Release], attempts: list[dict[str, Any]]) -> None:
        attempts.append(_attempt(doc, channel, DeliveryResult("failed", reason), now, 0))
        writes.append(self._final(doc, token, "failed", reason, now, channel, doc.get("attempts", 0) + 1))
        return None


def _give_back(doc: dict[str, Any], token: str, channel: str, due: datetime) -> Release:
    """The claim released untouched, due at `due`, in its channel's lane."""
    return doc["_id"], token, {"status": "pending", "channel": channel, "due_at": due}


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _attempt(doc: dict[str, Any], channel: str, result: DeliveryResult, now: datetime,
             ms: int) -> dict[str, Any]:
    return {"_id": new_id(), "notification_id": doc["_id"], "clue_id": doc["clue_id"],
            "number": doc.get("attempts", 0) + 1, "channel": channel, "status": result.status,
            "reason": result.reason, "at": now, "duration_ms": ms}


def _render(doc: dict[str, Any], lang: str) -> Message:
    params = dict(doc.get("params") or {})
    at = datetime.fromisoformat(params.pop("at"))
    return render(doc["kind"], lang, clue_ref=short_clue_ref(doc["clue_id"]), at=at, **params)
