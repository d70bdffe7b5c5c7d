"""Events: CloudEvents 1.0 envelopes (structured JSON mode) and one schema per event type.

`make_event` builds an envelope, `encode` turns it into record bytes, and `decode` parses and
validates record bytes, raising `BadEvent` for anything that must go to the dead-letter topic.
Consumers tolerate unknown fields: schemas keep them (`unknown=INCLUDE`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate
from ulid import ULID

CLUE_RECEIVED = "clue-received"
CASE_ASSIGNED = "case-assigned"
CASE_ESCALATED = "case-escalated"
CASE_CLOSED = "case-closed"
CLUE_FOLLOWED_UP = "clue-followed-up"
CLUE_NOTIFIED = "clue-notified"
TOPICS = (CLUE_RECEIVED, CASE_ASSIGNED, CASE_ESCALATED, CASE_CLOSED, CLUE_FOLLOWED_UP, CLUE_NOTIFIED)

TYPES = {
    CLUE_RECEIVED: "campaign.clue.received.v1",
    CASE_ASSIGNED: "campaign.case.assigned.v1",
    CASE_ESCALATED: "campaign.case.escalated.v1",
    CASE_CLOSED: "campaign.case.closed.v1",
    CLUE_FOLLOWED_UP: "campaign.clue.followed_up.v1",
    CLUE_NOTIFIED: "campaign.clue.notified.v1",
}
TOPIC_OF_TYPE = {t: topic for topic, t in TYPES.items()}

# The CloudEvents Kafka protocol binding, structured content mode: the record value is the whole
# event as JSON, and this header says so (a binding-aware consumer reads it without guessing).
CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


class BadEvent(ValueError):
    """A record that is not a valid event: it goes to the dead-letter topic, it is never retried."""


class _Data(Schema):
    class Meta:
        unknown = INCLUDE


class SubjectData(_Data):
    name = fields.String(required=True)  # "" for a supervision card's opinion that names no one
    position = fields.String(load_default=None, allow_none=True)
    employer = fields.String(load_default=None, allow_none=True)
    rank = fields.String(required=True)
    party_member = fields.Boolean(load_default=None, allow_none=True)


class ClueReceived(_Data):
    clue_id = fields.String(required=True)
    received_at = fields.AwareDateTime(required=True)
    source = fields.String(required=True)
    category = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    subject = fields.Nested(SubjectData, required=True)
    amount_cny = fields.Integer(load_default=None, allow_none=True)
    collusion = fields.Boolean(load_default=False)
    reporter_ref = fields.String(required=True)
    reporter_contact_sealed = fields.String(load_default=None, allow_none=True)
    # firms, intermediaries and relatives the clue names (关系图): [{"kind", "name"}]
    parties = fields.List(fields.Dict(), load_default=list)
    # the review of old clues (大起底/回头看), on imported clues only
    original_received_at = fields.AwareDateTime(load_default=None, allow_none=True)
    original_unit = fields.String(load_default=None, allow_none=True)
    prior_disposition = fields.String(load_default=None, allow_none=True)
    file_number = fields.String(load_default=None, allow_none=True)
    batch = fields.Nested(lambda: ReviewBatchData(), load_default=None, allow_none=True)


class ReviewBatchData(_Data):
    id = fields.String(required=True)
    name = fields.String(required=True)
    deadline = fields.AwareDateTime(required=True)


class CaseAssigned(_Data):
    case_id = fields.String(required=True)
    clue_id = fields.String(required=True)
    unit = fields.String(required=True)
    cadre_id = fields.String(required=True, allow_none=True)
    lead_cadre_id = fields.String(load_default=None, allow_none=True)
    due_at = fields.AwareDateTime(required=True)
    assigned_at = fields.AwareDateTime(required=True)


class CaseEscalated(_Data):
    case_id = fields.String(required=True)
    clue_id = fields.String(required=True)
    from_unit = fields.String(required=True)
    to_unit = fields.String(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(["direct_investigation", "supervised"]))
    reasons = fields.List(fields.String(), required=True)
    escalated_at = fields.AwareDateTime(required=True)


class CaseClosed(_Data):
    case_id = fields.String(required=True)
    clue_id = fields.String(required=True)
    disposition = fields.String(required=True)
    outcomes = fields.List(fields.String(), required=True)
    reporter_summary = fields.String(required=True)
    closed_at = fields.AwareDateTime(required=True)


class ClueFollowedUp(_Data):
    clue_id = fields.String(required=True)
    message = fields.String(required=True)
    objection = fields.Boolean(required=True)
    at = fields.AwareDateTime(required=True)


class ClueNotified(_Data):
    """What notify did with one notification to a clue's reporter: no contact details, ever."""

    clue_id = fields.String(required=True)
    notification_id = fields.String(required=True)
    kind = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["delivered", "failed"]))
    channel = fields.String(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True)
    at = fields.AwareDateTime(required=True)


DATA_SCHEMAS: dict[str, type[Schema]] = {
    TYPES[CLUE_RECEIVED]: ClueReceived,
    TYPES[CASE_ASSIGNED]: CaseAssigned,
    TYPES[CASE_ESCALATED]: CaseEscalated,
    TYPES[CASE_CLOSED]: CaseClosed,
    TYPES[CLUE_FOLLOWED_UP]: ClueFollowedUp,
    TYPES[CLUE_NOTIFIED]: ClueNotified,
}


class Envelope(Schema):
    class Meta:
        unknown = INCLUDE

    specversion = fields.String(required=True, validate=validate.Equal("1.0"))
    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    source = fields.String(required=True, validate=validate.Length(min=1))
    type = fields.String(required=True, validate=validate.OneOf(list(DATA_SCHEMAS)))
    subject = fields.String(required=True, validate=validate.Length(min=1))
    time = fields.AwareDateTime(required=True)
    datacontenttype = fields.String(load_default="application/json")
    data = fields.Dict(required=True)


# Schemas keep no state between loads: one instance of each serves every call (building one per
# event cost more than the validation itself).
_ENVELOPE = Envelope()
_DATA = {event_type: schema() for event_type, schema in DATA_SCHEMAS.items()}


@dataclass(frozen=True)
class Event:
    """A validated event: the envelope's fields, and `data` loaded by the type's schema."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: dict[str, Any]
    raw: dict[str, Any]

    @property
    def topic(self) -> str:
        return TOPIC_OF_TYPE[self.type]


def now() -> datetime:
    return datetime.now(UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def make_event(topic: str, data: dict[str, Any], *, source: str, event_id: str | None = None,
               at: datetime | None = None, validate: bool = True, json_ready: bool = False) -> dict[str, Any]:
    """A CloudEvents envelope for `topic`; the subject is the clue id, as API.md fixes.

    The data is checked against the topic's schema and a ValueError says what is wrong. A hot
    path whose data a schema checked already may skip it (`validate=False`), when a test shows
    that whatever that schema accepts makes a valid event. Times in `data` become RFC 3339 text,
    unless the caller made them so already (`json_ready=True`: `data` is taken as it is)."""
    event_type = TYPES[topic]
    payload = data if json_ready else _jsonable(data)
    errors = _DATA[event_type].validate(payload) if validate else None
    if errors:
        raise ValueError(f"{topic} event data is invalid: {errors}")
    return {
        "specversion": "1.0",
        "id": event_id or str(ULID()),
        "source": source,
        "type": event_type,
        "subject": payload["clue_id"],
        "time": _jsonable(at or now()),
        "datacontenttype": "application/json",
        "data": payload,
    }


def encode(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def decode(value: bytes | None) -> Event:
    """Parse and validate one record value, or raise `BadEvent` saying why."""
    if value is None:
        raise BadEvent("record has no value")
    try:
        raw = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEvent(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise BadEvent("not a JSON object")
    try:
        env = _ENVELOPE.load(raw)
        data = _DATA[env["type"]].load(env["data"])
    except ValidationError as exc:
        raise BadEvent(f"schema: {exc.messages}") from None
    return Event(id=env["id"], type=env["type"], source=env["source"], subject=env["subject"],
                 time=env["time"], data=data, raw=raw)
