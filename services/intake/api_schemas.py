"""The answers of intake's API (API.md, Intake) as marshmallow schemas: they dump each answer and
document it in /openapi.json, beside the request schemas of `schemas` that parse the bodies.
Times pass through as the routes render them (`Instant`)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Api
from marshmallow import Schema, fields

from services.intake import schemas
from shared.vocabulary import CLUE_STATUSES
from shared.web import Instant


def _text(**kw: Any) -> fields.String:
    return fields.String(allow_none=True, **kw)


def _counts() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer())


class ClueStatus(fields.String):
    def __init__(self, **kw: Any) -> None:
        super().__init__(required=True, metadata={"enum": list(CLUE_STATUSES)}, **kw)


class Receipt(Schema):
    """The receipt, shown only in the 202 answer to the post of a clue."""

    code = fields.String(required=True, metadata={"example": "4F7K-9QXM-2H8D-T6WB"})
    secret = fields.String(required=True)


class ClueAccepted(Schema):
    """The 202 answer to a clue's post (POST /v1/clues, a card's opinion, an observer's report)."""

    clue_id = fields.String(required=True)
    status = ClueStatus()
    received_at = Instant(required=True)
    receipt = fields.Nested(Receipt, required=True)


class TimelineEntry(Schema):
    """One reporter-safe line of a clue's timeline."""

    at = Instant(required=True)
    kind = fields.String(required=True)
    message = fields.String(required=True)
    message_zh = fields.String(required=True)
    message_en = fields.String(required=True)


class LookupAnswer(Schema):
    status = ClueStatus()
    updates = fields.List(fields.Nested(TimelineEntry), required=True)


class FollowUpAnswer(Schema):
    status = ClueStatus()
    at = Instant(required=True)


class SubjectView(Schema):
    name = fields.String(required=True)
    position = _text()
    employer = _text()
    rank = fields.String(required=True)
    party_member = fields.Boolean(allow_none=True)


class PartyView(Schema):
    kind = fields.String(required=True)
    name = fields.String(required=True)


class ClueView(Schema):
    """GET /v1/clues/{clue_id}: the clue, its status and timeline; never the reporter."""

    clue_id = fields.String(required=True)
    status = ClueStatus()
    received_at = Instant(required=True)
    acknowledged = fields.Boolean(required=True)
    frontline_unit = fields.String(required=True)
    source = fields.String(required=True)
    category = fields.String(required=True)
    summary = fields.String(required=True)
    details = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    subject = fields.Nested(SubjectView, required=True)
    amount_cny = fields.Integer(allow_none=True)
    occurred_on = _text(metadata={"format": "date"})
    collusion = fields.Boolean(required=True)
    parties = fields.List(fields.Nested(PartyView), required=True)
    updates = fields.List(fields.Nested(TimelineEntry), required=True)


class ImportResult(Schema):
    """One line of the NDJSON answer to POST /v1/clues:import: accepted (with the 202 body of the
    clue, `replayed` when its key's first answer), rejected or failed (with the line's errors)."""

    line = fields.Integer(required=True)
    result = fields.String(required=True, metadata={"enum": ["accepted", "rejected", "failed"]})
    code = fields.Integer(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    replayed = fields.Boolean()
    clue_id = fields.String()
    status = fields.String(metadata={"enum": list(CLUE_STATUSES)})
    received_at = Instant()
    receipt = fields.Nested(Receipt)


class Funnel(Schema):
    issued = fields.Integer(required=True)
    opinions = fields.Integer(required=True)
    led_to_case = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    outcomes = _counts()


class CardBatchView(Schema):
    """A batch of supervision cards with its funnel and the link to its printable sheet."""

    batch_id = fields.String(required=True)
    bureau = fields.String(required=True)
    bureau_name = fields.String(required=True)
    place_kind = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    count = fields.Integer(required=True)
    first_number = fields.String(required=True)
    last_number = fields.String(required=True)
    label = fields.String(required=True)
    created_at = Instant(required=True)
    sheet_url = fields.String(required=True)
    funnel = fields.Nested(Funnel, required=True)


class CardInBatch(Schema):
    code = fields.String(required=True)
    number = fields.String(required=True)


class CardBatchDetail(CardBatchView):
    cards = fields.List(fields.Nested(CardInBatch), required=True)


class CardBatchPage(Schema):
    items = fields.List(fields.Nested(CardBatchView), required=True)
    next = _text()


class BureauFunnel(Schema):
    bureau = fields.String(required=True)
    bureau_name = fields.String(required=True)
    issued = fields.Integer(required=True)
    opinions = fields.Integer(required=True)
    led_to_case = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    outcomes = _counts()


class BureauFunnelPage(Schema):
    items = fields.List(fields.Nested(BureauFunnel), required=True)
    next = _text()


class CardView(Schema):
    """A card as its holder sees it: the bureau, the place kind and its number."""

    code = fields.String(required=True)
    number = fields.String(required=True)
    bureau = fields.String(required=True)
    bureau_name = fields.String(required=True)
    place_kind = fields.String(required=True)
    jurisdiction = fields.String(required=True)


class ObserverView(Schema):
    """An integrity observer as supervisors see them: never the identity."""

    observer_id = fields.String(required=True)
    town = fields.String(required=True)
    background = fields.String(required=True)
    liaison_cadre_id = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = Instant(required=True)


class ObserverRegistered(ObserverView):
    observer_key = fields.String(required=True, metadata={"description": "shown only this once"})


class ObserverPage(Schema):
    items = fields.List(fields.Nested(ObserverView), required=True)
    next = _text()


class TownSummary(Schema):
    town = fields.String(required=True)
    observers = fields.Integer(required=True)
    active = fields.Integer(required=True)
    by_background = _counts()
    reports = fields.Integer(required=True)
    led_to_case = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    outcomes = _counts()
    town_name = fields.String(required=True)


class TownSummaryPage(Schema):
    items = fields.List(fields.Nested(TownSummary), required=True)
    next = _text()


def _one_of(self, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """The subject and the reporter load by another field's value: each is one of two schemas."""
    if isinstance(field, schemas.SubjectField):
        return {"oneOf": [{"$ref": "#/components/schemas/Subject"},
                          {"$ref": "#/components/schemas/CardSubject"}],
                "description": "CardSubject (name optional, employer required) for source supervision_card"}
    if isinstance(field, schemas.ReporterField):
        return {"oneOf": [{"$ref": "#/components/schemas/AnonymousReporter"},
                          {"$ref": "#/components/schemas/NamedReporter"}]}
    return {}


def _ecma_pattern(self, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Python's end-of-text anchor \\Z written as JSON Schema's $ (ECMA-262 has no \\Z)."""
    pattern = ret.get("pattern")
    return {"pattern": pattern.replace("\\Z", "$")} if isinstance(pattern, str) else {}


def register_components(api: Api) -> None:
    """Name the request schemas the others refer to (the subject's and the reporter's `oneOf`), and
    teach `api`'s spec those two fields and ECMA patterns; before any blueprint is registered."""
    api.ma_plugin.converter.add_attribute_function(_one_of)
    api.ma_plugin.converter.add_attribute_function(_ecma_pattern)
    for name, schema in [("Subject", schemas.SubjectSchema), ("CardSubject", schemas.CardSubjectSchema),
                         ("Party", schemas.PartySchema),
                         ("AnonymousReporter", schemas.AnonymousReporterSchema),
                         ("NamedReporter", schemas.NamedReporterSchema)]:
        api.spec.components.schema(name, schema=schema)
