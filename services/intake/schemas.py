"""Marshmallow schemas for intake's HTTP bodies and queries (API.md, Intake); the answers' are api_schemas'.

Every input schema raises on unknown fields, nested ones included. Strings are stripped of
surrounding whitespace before their length is checked; booleans and integers must be JSON
booleans and integers (no "true", 1 or "4645"). No error message repeats the input value, so
errors are safe to return and log even when they concern the reporter's contact details.
"""

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

# "today" for occurred_on is the date in China Standard Time.
from shared.i18n import LANGS
from shared.times import today_in_china
from shared.vocabulary import (
    CATEGORIES,
    CHANNELS,
    PARTY_KINDS,
    PRIOR_DISPOSITIONS,
    RANKS,
    SOURCES,
)

# A path in the registry tree, e.g. "foshan/chancheng/shiwan" (\Z: "$" would allow a "\n").
PATH_PATTERN = re.compile(r"^[a-z0-9-]+(/[a-z0-9-]+)*\Z")
# An employer: a bureau's path, or a discipline body's unit code ("foshan/chancheng#commission").
EMPLOYER_PATTERN = re.compile(r"^[a-z0-9-]+(/[a-z0-9-]+)*(#(commission|embedded))?\Z")
PHONE_PATTERN = re.compile(r"^\+[0-9]{6,20}\Z")
MAX_AMOUNT_CNY = 10**12



class Text(fields.String):
    """A string stripped of surrounding whitespace before validation."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class StrictBoolean(fields.Boolean):
    """A boolean that accepts only JSON true and false."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictInteger(fields.Integer):
    """An integer that accepts only JSON integers (no strings, floats or booleans)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def _not_in_future(value: dt.date) -> None:
    if value > today_in_china():
        raise ValidationError("Must not be in the future.")


def _path(max_length: int = 200) -> list[validate.Validator]:
    return [
        validate.Length(min=1, max=max_length),
        validate.Regexp(
            PATH_PATTERN,
            error="Must be a lowercase path such as foshan/chancheng/shiwan.",
        ),
    ]


class StrictSchema(Schema):
    """Base of the input schemas: unknown fields are errors."""

    class Meta:
        unknown = RAISE


class SubjectSchema(StrictSchema):
    """The subject (被反映人) of a clue."""

    name = Text(required=True, validate=validate.Length(min=1, max=100))
    position = Text(load_default=None, validate=validate.Length(max=100))
    employer = Text(
        load_default=None,
        validate=[
            validate.Length(min=1, max=200),
            validate.Regexp(
                EMPLOYER_PATTERN,
                error="Must be a lowercase path such as foshan/nanhai/urban-management, "
                "or a unit code such as foshan/chancheng/shiwan#commission.",
            ),
        ],
    )
    rank = fields.String(required=True, validate=validate.OneOf(RANKS))
    party_member = StrictBoolean(load_default=None)


class CardSubjectSchema(SubjectSchema):
    """The subject of a supervision card's opinion (source `supervision_card`): it may name no
    person (an opinion about a bureau's conduct), and then needs the bureau (`employer`); the
    rank is the frontline's (`staff`) unless given."""

    name = Text(load_default="", validate=validate.Length(max=100))
    rank = fields.String(load_default="staff", validate=validate.OneOf(RANKS))

    @validates_schema
    def _someone_or_a_bureau(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("name") and not data.get("employer"):
            raise ValidationError("Required when the opinion names no person.", field_name="employer")


# One instance of each, shared (see the reporter's below).
_SUBJECT, _CARD_SUBJECT = SubjectSchema(), CardSubjectSchema()
CARD_SOURCE = "supervision_card"


class SubjectField(fields.Field):
    """The subject: a person (SubjectSchema), or for source `supervision_card` possibly only a
    bureau (CardSubjectSchema)."""

    default_error_messages = {"invalid": "Invalid input type."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        card = isinstance(data, Mapping) and data.get("source") == CARD_SOURCE
        return (_CARD_SUBJECT if card else _SUBJECT).load(value)


class PartySchema(StrictSchema):
    """A firm, intermediary or relative a clue names (关系图)."""

    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS))
    name = Text(required=True, validate=validate.Length(min=1, max=100))


class AnonymousReporterSchema(StrictSchema):
    """An anonymous reporter: {"anonymous": true} and nothing else."""

    anonymous = StrictBoolean(required=True, validate=validate.Equal(True))


class NamedReporterSchema(StrictSchema):
    """A real-name reporter and the channel on which they want to hear back."""

    anonymous = StrictBoolean(required=True, validate=validate.Equal(False))
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    phone = Text(
        validate=validate.Regexp(
            PHONE_PATTERN, error="Must be + followed by 6 to 20 digits, e.g. +8613800000000."
        )
    )
    email = fields.Email(validate=validate.Length(max=254))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    webhook_url = fields.Url(schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2000))
    # The webhook's own signing secret (sealed to notify with the contact); without it, notify
    # signs with a secret derived for that URL alone.
    webhook_secret = Text(validate=validate.Length(min=32, max=200))
    lang = fields.String(validate=validate.OneOf(LANGS))  # the catalog's languages

    @validates_schema
    def _channel_has_its_contact(self, data: dict[str, Any], **kwargs: Any) -> None:
        needed = {"email": "email", "sms": "phone", "webhook": "webhook_url"}.get(data["channel"])
        if needed and not data.get(needed):
            raise ValidationError(f"Required for channel {data['channel']}.", field_name=needed)


# One instance of each, shared: building a schema copies its fields (35 µs a request).
_ANONYMOUS_REPORTER, _NAMED_REPORTER = AnonymousReporterSchema(), NamedReporterSchema()


class ReporterField(fields.Field):
    """The reporter: loads as AnonymousReporterSchema or NamedReporterSchema by `anonymous`."""

    default_error_messages = {"invalid": "Invalid input type."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        anonymous = value.get("anonymous")
        if anonymous is True:
            try:
                return _ANONYMOUS_REPORTER.load(value)
            except ValidationError as error:
                raise ValidationError(_explain_anonymous(error.messages)) from None
        if anonymous is False:
            return _NAMED_REPORTER.load(value)
        if "anonymous" not in value:
            raise ValidationError({"anonymous": ["Missing data for required field."]})
        raise ValidationError({"anonymous": ["Not a valid boolean."]})


_NAMED_ONLY = set(NamedReporterSchema._declared_fields) - {"anonymous"}


def _explain_anonymous(messages: Any) -> Any:
    if not isinstance(messages, dict):
        return messages
    return {
        key: ["Not allowed for an anonymous reporter."] if key in _NAMED_ONLY else value
        for key, value in messages.items()
    }


class ClueSchema(StrictSchema):
    """Body of POST /v1/clues (and each line of POST /v1/clues:import).

    Loads to a dict with every top-level key present: optional absent values load as None
    (details as ""), collusion as False, parties as []; occurred_on as a datetime.date. The reporter
    dict holds only what was sent.
    """

    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    summary = Text(required=True, validate=validate.Length(min=1, max=500))
    details = Text(load_default="", validate=validate.Length(max=20_000))
    jurisdiction = Text(required=True, validate=_path())
    subject = SubjectField(required=True)
    amount_cny = StrictInteger(load_default=None, validate=validate.Range(min=0, max=MAX_AMOUNT_CNY))
    occurred_on = fields.Date(load_default=None, validate=_not_in_future)
    collusion = StrictBoolean(load_default=False)
    reporter = ReporterField(required=True)
    parties = fields.List(fields.Nested(PartySchema), load_default=list, validate=validate.Length(max=50))


def _moment_not_in_future(value: dt.datetime) -> None:
    if value > dt.datetime.now(dt.UTC):
        raise ValidationError("Must not be in the future.")


class ImportLineSchema(ClueSchema):
    """One line of POST /v1/clues:import: a clue, with what the review of old clues (大起底/回头看)
    keeps of it: its original date (with a time zone, not in the future), the unit that first had
    it, what was done with it then, and its file number."""

    original_received_at = fields.AwareDateTime(load_default=None, validate=_moment_not_in_future)
    original_unit = Text(load_default=None, validate=validate.Length(min=1, max=200))
    prior_disposition = fields.String(load_default=None, validate=validate.OneOf(PRIOR_DISPOSITIONS))
    file_number = Text(load_default=None, validate=validate.Length(min=1, max=100))


class ImportBatchSchema(StrictSchema):
    """The query of POST /v1/clues:import naming a review batch: its name and 限期处置 deadline."""

    batch = Text(required=True, validate=validate.Length(min=1, max=100))
    deadline = fields.AwareDateTime(required=True)


_IMPORT_BATCH = ImportBatchSchema()


class ImportBatchQuery(StrictSchema):
    """The query of POST /v1/clues:import: empty (no review batch), or a review batch's name and
    deadline, both required then (ImportBatchSchema)."""

    batch = Text(validate=validate.Length(min=1, max=100))
    deadline = fields.AwareDateTime()

    def load(self, data: Any, **kwargs: Any) -> Any:
        return _IMPORT_BATCH.load(data, **kwargs) if data else {}


class LookupSchema(StrictSchema):
    """Body of POST /v1/receipts/lookup."""

    code = Text(required=True, validate=validate.Length(min=1, max=64))
    secret = Text(required=True, validate=validate.Length(min=1, max=200))


class FollowUpSchema(LookupSchema):
    """Body of POST /v1/receipts/messages: more information, or an objection to the result."""

    message = Text(required=True, validate=validate.Length(min=1, max=5_000))
    objection = StrictBoolean(load_default=False)
