"""The consumer loop: decode, handle with bounded retries, dead-letter, commit after the handlers.

- A record that is not a valid event, or whose handler raises `PoisonRecord`, goes to
  `<topic>.dlq` at once with the error and the original bytes.
- Any other handler error is retried with backoff up to `consumer_max_retries` times, then
  dead-lettered. Too many dead-lettered records in a row stop the consumer (`TooManyFailures`):
  a bad deploy should stop, not dead-letter everything.
- A dependency that is down (database or broker) is not the record's fault: nothing is
  committed past that record, the loop seeks back to it, backs off and tries again.
- Offsets are committed once per polled batch, after every handler of the batch ran.
- A topic may also have a batch handler: it gets all the polled batch's events of that topic in
  one call (to share reads and writes among them). If it raises, nothing of it counts, and the
  records go through the per-record path above one by one, so the handlers must be idempotent.
- `stop` (set by SIGTERM) is checked between records: the record in hand is finished first.
- `on_handled`, if given, is called once a batch's handlers have written (before its commit: what
  they wrote is stored, and a record handled again after a crash writes nothing new), to wake
  whatever acts on those writes instead of it polling.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from pymongo.errors import ConnectionFailure

from shared import events
from shared.kafka import DependencyDown, Publisher
from shared.kafka_admin import consumer_group  # noqa: F401 - services import it from here too
from shared.logs import log_context
from shared.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, HANDLER_LATENCY
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

Handler = Callable[[events.Event], None]
BatchHandler = Callable[[list[events.Event]], None]
DEPENDENCY_ERRORS = (DependencyDown, ConnectionFailure, KafkaError)


class PoisonRecord(Exception):
    """Raised by a handler: this record can never be handled; dead-letter it, do not retry."""


class TooManyFailures(RuntimeError):
    """Too many records in a row were dead-lettered: the consumer stops."""


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for a loop to check between records."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


class ConsumerLoop:
    """Consumes `handlers`' topics in consumer group `group_id` (behind the topic prefix) and
    calls the handler per event."""

    def __init__(self, settings: CommonSettings, group_id: str, handlers: dict[str, Handler],
                 dead_letters: Publisher, *, sleep: Callable[[float], None] = time.sleep,
                 is_processed: Callable[[str], bool] | None = None,
                 mark_processed: Callable[[str], None] | None = None,
                 batch_handlers: dict[str, BatchHandler] | None = None,
                 on_handled: Callable[[], None] | None = None) -> None:
        batch_handlers = batch_handlers or {}
        if set(batch_handlers) - set(handlers):
            raise ValueError("a batch handler needs a per-record handler for the same topic")
        if batch_handlers and (is_processed or mark_processed):
            raise ValueError("batch handlers skip is_processed/mark_processed: use one or the other")
        self.settings = settings
        self.group_id = consumer_group(settings, group_id)
        self.handlers = handlers
        self.dead_letters = dead_letters
        self.sleep = sleep
        self.is_processed = is_processed
        self.mark_processed = mark_processed
        self.batch_handlers = batch_handlers
        self.on_handled = on_handled
        self.consecutive_failures = 0
        self.failed_out: str | None = None  # set when the failure limit is reached
        self.consumer: KafkaConsumer | None = None

    def _make_consumer(self) -> KafkaConsumer:
        s = self.settings
        return KafkaConsumer(
            *(s.topic_prefix + topic for topic in self.handlers),
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.kafka_session_timeout_ms,
            heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
            max_poll_records=s.consumer_max_poll_records,
            client_id=self.group_id,
        )

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop` is set; raises `TooManyFailures` when the failure limit is reached."""
        self.consumer = self._make_consumer()
        log.info("consumer started", extra={"group": self.group_id, "topics": list(self.handlers)})
        try:
            while not stop.is_set():
                batch = self.consumer.poll(timeout_ms=500)
                if batch:
                    self.process_batch(batch, stop)
        finally:
            self.consumer.close()
            log.info("consumer stopped", extra={"group": self.group_id})

    def process_batch(self, batch: dict, stop: threading.Event) -> None:
        """Handle one polled batch, then commit what was handled; seek back to what was not."""
        done: dict[TopicPartition, int] = {}
        pending: dict[TopicPartition, int] = {}
        halted = False
        handled = self._handle_in_batches(batch, stop)
        for tp, records in batch.items():
            for record in records:
                if (tp, record.offset) in handled and tp not in pending:
                    done[tp] = record.offset + 1
                    continue
                if halted or stop.is_set() or self.failed_out:
                    pending.setdefault(tp, record.offset)
                    continue
                if self.process(record):
                    done[tp] = record.offset + 1
                else:
                    halted = True
                    pending.setdefault(tp, record.offset)
        if done and self.on_handled is not None:
            self.on_handled()
        self._commit(done)
        if self.failed_out:
            # Stop cleanly: what was handled or dead-lettered is committed, so a restart goes on
            # from the next record instead of dead-lettering the same ones again (a crash loop).
            raise TooManyFailures(self.failed_out)
        for tp, offset in pending.items():
            self.consumer.seek(tp, offset)
        if halted:
            self.sleep(min(5.0, 0.5 + self.settings.consumer_retry_backoff_ms / 1000))

    def _handle_in_batches(self, batch: dict, stop: threading.Event) -> set[tuple[TopicPartition, int]]:
        """Give each batch handler its topic's events of the polled batch in one call; the
        (partition, offset) of the records it handled. Records that do not decode are left to
        `process`, which dead-letters them; a lone record takes the ordinary path."""
        handled: set[tuple[TopicPartition, int]] = set()
        for topic, handle in self.batch_handlers.items():
            if stop.is_set():
                break
            taken: list[tuple[TopicPartition, int]] = []
            batch_events: list[events.Event] = []
            for tp, records in batch.items():
                if self._logical(tp.topic) != topic:
                    continue
                for record in records:
                    try:
                        batch_events.append(events.decode(record.value))
                    except events.BadEvent:
                        continue
                    taken.append((tp, record.offset))
            if len(batch_events) < 2:
                continue
            started = time.perf_counter()
            try:
                handle(batch_events)
            except Exception as exc:  # noqa: BLE001 - the records are handled one by one instead
                log.warning("batch handler failed; handling its records one by one",
                            extra={"group": self.group_id, "topic": topic, "records": len(batch_events),
                                   "error": f"{type(exc).__name__}: {exc}"[:300]})
                continue
            share = (time.perf_counter() - started) / len(batch_events)
            for _ in batch_events:
                HANDLER_LATENCY.labels(self.group_id, topic).observe(share)
            EVENTS_CONSUMED.labels(self.group_id, topic, "handled").inc(len(batch_events))
            self.consecutive_failures = 0
            handled.update(taken)
        return handled

    def _commit(self, done: dict[TopicPartition, int]) -> None:
        if not done:
            return
        try:
            self.consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in done.items()})
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partitions away: their records will come again, and the
            # handlers are idempotent.
            log.warning("commit failed", extra={"group": self.group_id, "error": str(exc)})

    def process(self, record) -> bool:
        """Handle or dead-letter one record; False means a dependency is down: try it again later."""
        topic = self._logical(record.topic)
        try:
            event = events.decode(record.value)
        except events.BadEvent as exc:
            return self._dead_letter(record, str(exc))
        handler = self.handlers[topic]
        with log_context(event_id=event.id, clue_id=event.subject):
            try:
                if self.is_processed and self.is_processed(event.id):
                    EVENTS_CONSUMED.labels(self.group_id, topic, "duplicate").inc()
                    return True
            except DEPENDENCY_ERRORS as exc:
                log.warning("dependency down; will retry",
                            extra={"group": self.group_id, "error": type(exc).__name__})
                return False
            last_error = ""
            for attempt in range(self.settings.consumer_max_retries + 1):
                started = time.perf_counter()
                try:
                    handler(event)
                    if self.mark_processed:
                        self.mark_processed(event.id)
                except PoisonRecord as exc:
                    return self._dead_letter(record, f"poison: {exc}")
                except DEPENDENCY_ERRORS as exc:
                    log.warning("dependency down; will retry",
                                extra={"group": self.group_id, "error": type(exc).__name__})
                    EVENTS_CONSUMED.labels(self.group_id, topic, "deferred").inc()
                    return False
                except Exception as exc:  # noqa: BLE001 - any handler bug is retried, then dead-lettered
                    last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("handler failed", extra={"group": self.group_id,
                                                         "attempt": attempt + 1, "error": last_error})
                    if attempt < self.settings.consumer_max_retries:
                        self.sleep(self.settings.consumer_retry_backoff_ms / 1000 * 2**attempt)
                    continue
                HANDLER_LATENCY.labels(self.group_id, topic).observe(time.perf_counter() - started)
                EVENTS_CONSUMED.labels(self.group_id, topic, "handled").inc()
                self.consecutive_failures = 0
                return True
            return self._dead_letter(record, f"handler failed after retries: {last_error}")

    def _logical(self, topic: str) -> str:
        prefix = self.settings.topic_prefix
        return topic[len(prefix):] if prefix and topic.startswith(prefix) else topic

    def _dead_letter(self, record, error: str) -> bool:
        topic = self._logical(record.topic)
        headers = [
            ("error", error[:2000].encode()),
            ("original_topic", topic.encode()),
            ("original_partition", str(record.partition).encode()),
            ("original_offset", str(record.offset).encode()),
            ("consumer_group", self.group_id.encode()),
        ]
        key = record.key.decode(errors="replace") if record.key else ""
        try:
            self.dead_letters.send(events.dlq_topic(topic), key, record.value or b"",
                                   headers=headers)
        except DEPENDENCY_ERRORS:
            return False
        EVENTS_DEAD_LETTERED.labels(topic).inc()
        EVENTS_CONSUMED.labels(self.group_id, topic, "dead_lettered").inc()
        log.error("record dead-lettered", extra={"group": self.group_id, "topic": topic,
                                                 "offset": record.offset, "error": error[:300]})
        self.consecutive_failures += 1
        if self.consecutive_failures >= self.settings.consumer_max_consecutive_failures:
            # process_batch commits this record with the others handled, then stops.
            self.failed_out = f"{self.consecutive_failures} records in a row dead-lettered by {self.group_id}"
        return True
