"""Intake's consumer: case events keep each clue's reporter-facing status and acknowledge it."""

from __future__ import annotations

from services.intake import outcomes
from services.intake.case_events import apply_case_events
from shared import events
from shared.consumer import ConsumerLoop
from shared.kafka import Publisher
from shared.mongo import ProcessedEvents
from shared.settings import CommonSettings

GROUP_ID = "intake"
CASE_TOPICS = (events.CASE_ASSIGNED, events.CASE_ESCALATED, events.CASE_CLOSED)


def build_consumer(settings: CommonSettings, dead_letters: Publisher,
                   group_id: str = GROUP_ID) -> ConsumerLoop:
    """The consumer loop of case-assigned, case-escalated and case-closed, deduplicated by event id
    (the handler reads and writes the processed-event marks itself, a poll's events at once)."""
    processed = ProcessedEvents(group_id)

    def batch(found: list[events.Event]) -> None:
        apply_case_events(found, processed)
        outcomes.record(found)  # the card and observer funnels' outcomes

    def one(event: events.Event) -> None:
        apply_case_events([event], processed)
        outcomes.record([event])

    return ConsumerLoop(settings, group_id, dict.fromkeys(CASE_TOPICS, one), dead_letters,
                        batch_handlers=dict.fromkeys(CASE_TOPICS, batch))
