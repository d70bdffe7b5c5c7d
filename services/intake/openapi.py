"""Intake's OpenAPI 3.1 document, built from the same marshmallow schemas the routes load with."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from services.intake import schemas
from shared.web import new_spec

PROBLEM = {"description": "problem+json", "content": {"application/problem+json": {
    "schema": {"$ref": "#/components/schemas/Problem"}}}}


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class TimelineEntrySchema(schemas.UpdateSchema):
    kind = fields.String()
    message_zh = fields.String()
    message_en = fields.String()


class LookupAnswerSchema(schemas.LookupResponseSchema):
    updates = fields.List(fields.Nested(TimelineEntrySchema), required=True)


class ClueViewSchema(Schema):
    clue_id = fields.String(required=True)
    status = fields.String(required=True)
    received_at = fields.DateTime(required=True)
    acknowledged = fields.Boolean()
    frontline_unit = fields.String()
    source = fields.String()
    category = fields.String()
    summary = fields.String()
    details = fields.String()
    jurisdiction = fields.String()
    subject = fields.Nested(schemas.SubjectSchema)
    amount_cny = fields.Integer(allow_none=True)
    occurred_on = fields.Date(allow_none=True)
    collusion = fields.Boolean()
    parties = fields.List(fields.Nested(schemas.PartySchema))
    updates = fields.List(fields.Nested(TimelineEntrySchema))


class FollowUpAnswerSchema(Schema):
    status = fields.String(required=True)
    at = fields.DateTime(required=True)


class ImportResultSchema(Schema):
    line = fields.Integer(required=True)
    result = fields.String(required=True, metadata={"enum": ["accepted", "rejected", "failed"]})
    status = fields.String()
    code = fields.Integer(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    clue_id = fields.String()
    received_at = fields.DateTime()
    receipt = fields.Nested(schemas.ReceiptSchema)


def _reporter_property(self, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    if isinstance(field, schemas.SubjectField):
        return {"oneOf": [{"$ref": "#/components/schemas/Subject"},
                          {"$ref": "#/components/schemas/CardSubject"}],
                "description": "CardSubject (name optional, employer required) for source supervision_card"}
    if isinstance(field, schemas.ReporterField):
        return {"oneOf": [{"$ref": "#/components/schemas/AnonymousReporter"},
                          {"$ref": "#/components/schemas/NamedReporter"}]}
    return {}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _ecma_patterns(node: Any) -> Any:
    """Python's end-of-text anchor \\Z written as JSON Schema's $ (ECMA-262 has no \\Z)."""
    if isinstance(node, dict):
        return {k: (v.replace("\\Z", "$") if k == "pattern" and isinstance(v, str) else _ecma_patterns(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_ecma_patterns(v) for v in node]
    return node


def build_spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document of intake's routes."""
    spec = new_spec("Intake: clues and receipts")
    spec.plugins[0].converter.add_attribute_function(_reporter_property)
    for name, schema in [("Problem", ProblemSchema), ("Subject", schemas.SubjectSchema),
                         ("CardSubject", schemas.CardSubjectSchema), ("Party", schemas.PartySchema),
                         ("AnonymousReporter", schemas.AnonymousReporterSchema),
                         ("NamedReporter", schemas.NamedReporterSchema), ("Clue", schemas.ClueSchema),
                         ("ClueAccepted", schemas.ClueResponseSchema), ("ClueView", ClueViewSchema),
                         ("Lookup", schemas.LookupSchema), ("LookupAnswer", LookupAnswerSchema),
                         ("FollowUp", schemas.FollowUpSchema), ("FollowUpAnswer", FollowUpAnswerSchema),
                         ("ImportResult", ImportResultSchema), ("ImportLine", schemas.ImportLineSchema)]:
        spec.components.schema(name, schema=schema)
    errors = {str(code): PROBLEM for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)}
    bearer = [{"bearer": []}]
    spec.path("/v1/clues", operations={"post": {
        "summary": "Post a clue (frontline)", "security": bearer,
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200}}],
        "requestBody": {"required": True, "content": _json("Clue")},
        "responses": {"202": {"description": "accepted", "content": _json("ClueAccepted")}, **errors}}})
    spec.path("/v1/clues/{clue_id}", operations={"get": {
        "summary": "A clue's status and reporter-safe timeline (posting unit, supervisor above it)",
        "security": bearer,
        "parameters": [{"name": "clue_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the clue", "content": _json("ClueView")}, **errors}}})
    spec.path("/v1/clues:import", operations={"post": {
        "summary": "Import old clues, one JSON clue per line (frontline, supervisor); a review batch "
                   "(大起底/回头看) is named by ?batch= with its 限期处置 ?deadline=", "security": bearer,
        "parameters": [{"name": "batch", "in": "query", "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 100}},
                       {"name": "deadline", "in": "query", "required": False,
                        "schema": {"type": "string", "format": "date-time"}}],
        "requestBody": {"required": True, "content": {"application/x-ndjson": {
            "schema": {"$ref": "#/components/schemas/ImportLine"}}}},
        "responses": {"200": {"description": "one result per line", "content": {"application/x-ndjson": {
            "schema": {"$ref": "#/components/schemas/ImportResult"}}}}, **errors}}})
    spec.path("/v1/receipts/lookup", operations={"post": {
        "summary": "Status and updates of a clue by its receipt (public, rate limited)", "security": [],
        "requestBody": {"required": True, "content": _json("Lookup")},
        "responses": {"200": {"description": "status", "content": _json("LookupAnswer")}, **errors}}})
    spec.path("/v1/receipts/messages", operations={"post": {
        "summary": "Add information or object to the result (public, rate limited)", "security": [],
        "requestBody": {"required": True, "content": _json("FollowUp")},
        "responses": {"202": {"description": "passed on", "content": _json("FollowUpAnswer")}, **errors}}})
    from services.intake.practice_openapi import register_practice_paths

    register_practice_paths(spec, errors, bearer)
    return _ecma_patterns(spec.to_dict())
