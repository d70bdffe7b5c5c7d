"""Intake's HTTP routes (API.md, Intake): parse with marshmallow, call a handler, render."""

from __future__ import annotations

import functools
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, Any

from flask import Request, Response, current_app, g, request, stream_with_context
from marshmallow import ValidationError
from pymongo.errors import ConnectionFailure

from services.intake import follow_ups, handlers, receipts, timeline
from services.intake.api_schemas import ClueAccepted, ClueView, FollowUpAnswer, ImportResult, LookupAnswer
from services.intake.limits import limited, receipt_limit
from services.intake.relay import IntakeOutbox
from services.intake.schemas import (
    ClueSchema,
    FollowUpSchema,
    ImportBatchQuery,
    ImportLineSchema,
    LookupSchema,
)
from services.intake.settings import IntakeSettings
from shared.auth import jurisdiction_within, require
from shared.kafka import DependencyDown
from shared.problems import Problem, flatten, json_body
from shared.web import ApiBlueprint, ProblemParser

MAX_IDEMPOTENCY_KEY = 200
# Schemas hold no per-load state: one instance each serves every request (and saves building one).
CLUE_SCHEMA, LOOKUP_SCHEMA, FOLLOW_UP_SCHEMA = ClueSchema(), LookupSchema(), FollowUpSchema()
IMPORT_LINE_SCHEMA = ImportLineSchema()
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass
class IntakeContext:
    """What the routes of one app use: settings, keys and the outbox relay."""

    settings: IntakeSettings
    keys: handlers.Keys
    outbox: IntakeOutbox


def unencodable(value: Any) -> bool:
    """True when a JSON value holds text that is not valid Unicode (a lone surrogate from \\ud800)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(unencodable(k) or unencodable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(unencodable(v) for v in value)
    return False


def json_payload() -> Any:
    """The request's JSON body (400/413/415 as shared.problems says), with only valid Unicode text.

    A body of ASCII bytes with no escape of a surrogate (\\ud800 to \\udfff) cannot hold one, and
    is not walked: most clients send that, non-ASCII text escaped."""
    payload = json_body(request)
    raw = request.get_data(cache=True)
    if (not raw.isascii() or _SURROGATE_ESCAPE.search(raw)) and unencodable(payload):
        raise Problem(400, "Bad Request", "the body holds text that is not valid Unicode")
    return payload


def _ctx() -> IntakeContext:
    return current_app.extensions["intake"]


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise Problem(422, "Unprocessable Content", "Idempotency-Key must be 1 to 200 characters",
                      errors={"Idempotency-Key": [f"Length must be between 1 and {MAX_IDEMPOTENCY_KEY}."]})
    return key


def _posting_unit() -> str:
    principal = g.principal
    return principal.scope if principal.role == "frontline" else principal.actor


def _visible(clue: Any) -> bool:
    principal = g.principal
    if principal.role == "supervisor":
        moved = getattr(clue, "conflict_moved_to", None)  # never shown below where it went
        return jurisdiction_within(clue.jurisdiction, principal.scope) and (
            moved is None or jurisdiction_within(moved, principal.scope))
    return clue.frontline_unit == principal.scope


def clue_view(clue: Any) -> dict[str, Any]:
    """What GET /v1/clues/{id} shows: the clue, its status and timeline; never the reporter."""
    return {
        "clue_id": clue.id, "status": clue.status, "received_at": handlers.iso(clue.received_at),
        "acknowledged": bool(clue.acknowledged), "frontline_unit": clue.frontline_unit,
        "source": clue.source, "category": clue.category, "summary": clue.summary,
        "details": clue.details, "jurisdiction": clue.jurisdiction, "subject": dict(clue.subject),
        "amount_cny": clue.amount_cny, "occurred_on": clue.occurred_on,
        "collusion": bool(clue.collusion), "parties": list(clue.parties or []),
        "updates": timeline.timeline(clue, quiet_days=_ctx().settings.common.still_handling_days),
    }


def read_lines(stream: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """The lines of `stream`, one at a time; None stands for a line longer than `limit` bytes."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # skip the rest of the overlong line without holding it
                rest = stream.readline(limit)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line


def import_cap(number: int, read: int, settings: IntakeSettings) -> dict[str, Any] | None:
    """The closing result of an import past its caps on lines or bytes; None within them."""
    if number > settings.import_max_lines:
        reason = f"An import holds at most {settings.import_max_lines} lines"
    elif read > settings.import_max_bytes:
        reason = f"An import holds at most {settings.import_max_bytes} bytes"
    else:
        return None
    return {"line": number, "result": "rejected", "code": 413,
            "errors": {"_import": [f"{reason}: this line and the rest were not read; send them "
                                   "in another import."]}}


def import_line(line: bytes | None, number: int, ctx: IntakeContext, unit: str,
                base_key: str | None, batch: dict[str, str] | None = None) -> dict[str, Any]:
    """Import one NDJSON line: its result, accepted or with the line's errors."""
    result: dict[str, Any] = {"line": number}
    if line is None:
        return {**result, "result": "rejected", "code": 413,
                "errors": {"_line": [f"Longer than {ctx.settings.import_line_max_bytes} bytes."]}}
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {**result, "result": "rejected", "code": 400,
                "errors": {"_line": [f"Not valid UTF-8 (byte {exc.start + 1})."]}}
    try:
        payload = json.loads(text)
    except ValueError as exc:
        return {**result, "result": "rejected", "code": 400,
                "errors": {"_line": [f"Malformed JSON: {exc.msg} at column {exc.colno}."]}}
    if unencodable(payload):
        return {**result, "result": "rejected", "code": 400,
                "errors": {"_line": ["Text is not valid Unicode."]}}
    if not isinstance(payload, dict):
        return {**result, "result": "rejected", "code": 422, "errors": {"_line": ["Must be an object."]}}
    try:
        data = IMPORT_LINE_SCHEMA.load(payload)
    except ValidationError as exc:
        return {**result, "result": "rejected", "code": 422, "errors": flatten(exc.messages)}
    if batch is not None:
        data["batch"] = batch
    principal = g.principal
    if principal.role == "supervisor" and not jurisdiction_within(data["jurisdiction"], principal.scope):
        return {**result, "result": "rejected", "code": 403,
                "errors": {"jurisdiction": ["Outside your jurisdiction."]}}
    try:
        response, replayed = handlers.post_clue(
            data, unit, ctx.keys, idempotency_key=f"{base_key}#{number}" if base_key else None,
            request_hash=handlers.body_hash(payload, ctx.keys.request_key) if base_key else None,
            outbox=ctx.outbox)
    except handlers.IdempotencyConflict:
        return {**result, "result": "rejected", "code": 409,
                "errors": {"_line": ["This line was imported before with a different body."]}}
    except (ConnectionFailure, DependencyDown):
        return {**result, "result": "failed", "code": 503,
                "errors": {"_line": ["A dependency is down: send this line again."]}}
    return {**result, "result": "accepted", "code": 202, "replayed": replayed, **response}


def _review_batch(unit: str, query: dict[str, Any]) -> dict[str, str] | None:
    """The review batch (大起底/回头看) the import's query names (`?batch=&deadline=`), or None."""
    if not query:
        return None
    try:
        return handlers.review_batch(unit, query["batch"], query["deadline"])
    except handlers.BatchConflict:
        raise Problem(409, "Conflict", "a batch of this name has another deadline",
                      errors={"deadline": ["The batch exists with another deadline."]}) from None


class IntakeParser(ProblemParser):
    """The project's parser, refusing text that is not valid Unicode (`json_payload`); the body
    as sent stays on `g.json_payload` (an Idempotency-Key's body hash is of it)."""

    def read_json(self, req: Request) -> Any:
        g.json_payload = payload = json_payload()
        return payload


class IntakeBlueprint(ApiBlueprint):
    """Intake's routes: documented with every problem+json answer (PROBLEMS) an intake route gives."""

    ARGUMENTS_PARSER = IntakeParser()
    PROBLEMS = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)

    def problems(self, view: Any) -> Any:
        for code in self.PROBLEMS:
            view = self.alt_response(code, response=HTTPStatus(code).name)(view)
        return view

    def operation(self, method: str, rule: str, require: Any,
                  parameters: list[dict[str, Any]] | None = None):
        keyed = super().operation(method, rule, require, parameters)
        return lambda view: keyed(self.problems(view))

    def public(self, method: str, rule: str, parameters: list[dict[str, Any]] | None = None):
        """Route `rule` for `method` with no key, counted against the receipt limit (`limited`)
        before the arguments are parsed."""

        def decorate(view: Any) -> Any:
            route = self.route(rule, methods=[method], parameters=parameters)
            return route(self.doc(security=[])(limited(self.problems(view))))

        return decorate


def idempotency_key_first(view: Any) -> Any:
    """The Idempotency-Key header checked (`g.idempotency_key`) before the body is parsed."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        g.idempotency_key = _idempotency_key()
        return view(*args, **kwargs)

    return checked


IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY}}

# The intake routes; the receipt routes share one rate limit per client and count wrong secrets
# per receipt code (see `limits`).
bp = IntakeBlueprint("intake", __name__, description="Clues and receipts")


@bp.operation("POST", "/v1/clues", require("frontline"), parameters=[IDEMPOTENCY_KEY])
@idempotency_key_first
@bp.arguments(CLUE_SCHEMA)
@bp.response(202, ClueAccepted, description="accepted: the receipt is shown this once")
def post_clue(data: dict[str, Any]):
    """Post a clue (frontline)"""
    key, ctx = g.idempotency_key, _ctx()
    try:
        body, replayed = handlers.post_clue(
            data, g.principal.scope, ctx.keys, idempotency_key=key,
            request_hash=handlers.body_hash(g.json_payload, ctx.keys.request_key) if key else None,
            outbox=ctx.outbox)
    except handlers.IdempotencyConflict:
        raise Problem(409, "Conflict", "this Idempotency-Key was used with a different body") from None
    headers = {"Location": f"/v1/clues/{body['clue_id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return body, headers


@bp.operation("GET", "/v1/clues/<clue_id>", require("frontline", "supervisor"))
@bp.response(200, ClueView)
def get_clue(clue_id: str):
    """A clue's status and reporter-safe timeline (posting unit, supervisor above it)"""
    clue = handlers.find_clue(clue_id) if len(clue_id) <= 64 else None
    if clue is None or not _visible(clue):
        raise Problem(404, "Not Found", "no such clue")
    return clue_view(clue)


def ndjson_first(view: Any) -> Any:
    """An import's body must be NDJSON (415) before its Idempotency-Key and its query are checked."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if request.mimetype not in NDJSON_TYPES:
            raise Problem(415, "Unsupported Media Type", "send the body as application/x-ndjson")
        # Streamed line by line with a limit per line; None would fall back to the 1 MiB app limit.
        request.max_content_length = sys.maxsize
        return view(*args, **kwargs)

    return checked


@bp.operation("POST", "/v1/clues:import", require("frontline", "supervisor"), parameters=[IDEMPOTENCY_KEY])
@ndjson_first
@idempotency_key_first
@bp.arguments(ImportBatchQuery, location="query")
@bp.response(200, ImportResult, content_type="application/x-ndjson", description="one result per line")
@bp.doc(requestBody={"required": True, "content": {
    "application/x-ndjson": {"schema": ImportLineSchema}}})
def import_clues(query: dict[str, Any]):
    """Import old clues, one JSON clue per line (frontline, supervisor); a review batch (大起底/回头看)
    is named by ?batch= with its 限期处置 ?deadline="""
    ctx = _ctx()
    unit, base_key = _posting_unit(), g.idempotency_key
    limit = ctx.settings.import_line_max_bytes
    batch = _review_batch(unit, query)

    def results() -> Iterator[str]:
        number, read = 0, 0
        # werkzeug's stream reads a line byte by byte; a buffer reads it in 64 KiB chunks.
        stream = request.stream
        buffered = io.BufferedReader(stream, 64 * 1024) if isinstance(stream, io.RawIOBase) else stream
        for line in read_lines(buffered, limit):
            number += 1
            read += limit + 1 if line is None else len(line)
            over = import_cap(number, read, ctx.settings)
            if over is not None:  # the rest is not read: one last line says so, then the end
                yield json.dumps(over, ensure_ascii=False) + "\n"
                return
            if line is not None and not line.strip():
                continue
            result = import_line(line, number, ctx, unit, base_key, batch)
            yield json.dumps(result, ensure_ascii=False) + "\n"

    return Response(stream_with_context(results()), mimetype="application/x-ndjson")


def by_receipt(code: str, use: Any) -> Any:
    """`use()` under the receipt code's failure counter; a wrong code or secret is a 404."""
    digest = receipts.code_digest(_ctx().keys.receipt_key, code)
    try:
        with receipt_limit().code_attempt(digest, handlers.ReceiptNotFound):
            return use()
    except handlers.ReceiptNotFound:
        raise Problem(404, "Not Found", "no clue has this receipt") from None


@bp.public("POST", "/v1/receipts/lookup")
@bp.arguments(LOOKUP_SCHEMA)
@bp.response(200, LookupAnswer)
def lookup(data: dict[str, Any]):
    """Status and updates of a clue by its receipt (public, rate limited)"""
    ctx = _ctx()
    return by_receipt(data["code"], lambda: follow_ups.lookup(
        data["code"], data["secret"], ctx.keys, quiet_days=ctx.settings.common.still_handling_days))


@bp.public("POST", "/v1/receipts/messages")
@bp.arguments(FOLLOW_UP_SCHEMA)
@bp.response(202, FollowUpAnswer, description="passed on")
def message(data: dict[str, Any]):
    """Add information or object to the result (public, rate limited)"""
    ctx = _ctx()
    return by_receipt(data["code"], lambda: follow_ups.follow_up(
        data["code"], data["secret"], data["message"], data["objection"], ctx.keys, outbox=ctx.outbox))
