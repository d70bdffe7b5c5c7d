"""Intake's consumer: case events keep each clue's reporter-facing status and acknowledge it."""

from __future__ import annotations

from services.intake.handlers import apply_case_event
from shared import events
from shared.consumer import ConsumerLoop
from shared.kafka import Publisher
from shared.mongo import ProcessedEvents
from shared.settings import CommonSettings

GROUP_ID = "intake"
CASE_TOPICS = (events.CASE_ASSIGNED, events.CASE_ESCALATED, events.CASE_CLOSED)


def build_consumer(settings: CommonSettings, dead_letters: Publisher,
                   group_id: str = GROUP_ID) -> ConsumerLoop:
    """The consumer loop of case-assigned, case-escalated and case-closed, deduplicated by event id."""
    processed = ProcessedEvents(group_id)
    return ConsumerLoop(settings, group_id, {topic: apply_case_event for topic in CASE_TOPICS},
                        dead_letters, is_processed=processed.seen, mark_processed=processed.mark)
