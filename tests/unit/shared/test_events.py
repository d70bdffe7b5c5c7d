import json

import pytest

from shared import events

CLOSED = {"case_id": "01CASE", "clue_id": "01CLUE", "disposition": "concluded",
          "outcomes": ["unfounded"], "reporter_summary": "查无实据", "closed_at": "2026-01-02T03:04:05+00:00"}


def test_envelope_round_trip_keeps_every_field():
    envelope = events.make_event(events.CASE_CLOSED, CLOSED, source="/services/assignment")
    event = events.decode(events.encode(envelope))
    assert event.type == "campaign.case.closed.v1"
    assert event.topic == events.CASE_CLOSED
    assert event.subject == "01CLUE"
    assert event.id == envelope["id"]
    assert event.data["reporter_summary"] == "查无实据"
    assert event.data["closed_at"].utcoffset() is not None
    assert envelope["specversion"] == "1.0" and envelope["datacontenttype"] == "application/json"


def test_json_ready_data_is_taken_as_it_is_and_makes_the_same_event():
    from datetime import UTC, datetime

    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with_time = {**CLOSED, "closed_at": at}
    converted = events.make_event(events.CASE_CLOSED, with_time, source="/s", event_id="e1", at=at)
    ready = events.make_event(events.CASE_CLOSED, CLOSED, source="/s", event_id="e1", at=at, json_ready=True)
    assert events.encode(ready) == events.encode(converted)
    assert ready["data"] is CLOSED  # no copy made


def test_each_event_gets_a_unique_id():
    ids = {events.make_event(events.CASE_CLOSED, CLOSED, source="/s")["id"] for _ in range(100)}
    assert len(ids) == 100


def test_unknown_fields_are_tolerated():
    envelope = events.make_event(events.CASE_CLOSED, CLOSED, source="/s")
    envelope["extension"] = "x"
    envelope["data"]["future_field"] = 1
    event = events.decode(events.encode(envelope))
    assert event.data["future_field"] == 1


def test_make_event_refuses_invalid_data():
    with pytest.raises(ValueError, match="disposition"):
        events.make_event(events.CASE_CLOSED, {**CLOSED, "disposition": None}, source="/s")


@pytest.mark.parametrize("value, reason", [
    (None, "no value"),
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (json.dumps({"specversion": "1.0"}).encode(), "schema"),
])
def test_bad_records_raise_bad_event(value, reason):
    with pytest.raises(events.BadEvent, match=reason):
        events.decode(value)


@pytest.mark.parametrize("mutate, field", [
    (lambda e: e.update(type="campaign.unknown.v1"), "type"),
    (lambda e: e.update(specversion="0.3"), "specversion"),
    (lambda e: e["data"].pop("clue_id"), "clue_id"),
    (lambda e: e["data"].update(outcomes="admonition_talk"), "outcomes"),
    (lambda e: e["data"].update(closed_at="yesterday"), "closed_at"),
    (lambda e: e.update(time="2026-01-01T00:00:00"), "time"),
])
def test_schema_rejects_each_broken_field(mutate, field):
    envelope = events.make_event(events.CASE_CLOSED, CLOSED, source="/s")
    mutate(envelope)
    with pytest.raises(events.BadEvent, match=field):
        events.decode(json.dumps(envelope).encode())


def test_every_topic_has_a_type_and_schema():
    assert set(events.TYPES) == set(events.TOPICS)
    for topic in events.TOPICS:
        assert events.TYPES[topic] in events.DATA_SCHEMAS
        assert events.dlq_topic(topic) == f"{topic}.dlq"
