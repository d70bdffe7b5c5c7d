"""Intake's routes for supervision cards and integrity observers (API.md, Intake: cards, observers).

Parse with marshmallow, call practice_store or handlers, render. Opinions sent through a card and
observers' reports become clues through `handlers.post_clue`, validated by the same ClueSchema as
POST /v1/clues.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, request
from flask_smorest import Api
from marshmallow import RAISE, Schema, fields, validate

from services.intake import cards, handlers, observers, practice_store
from services.intake.api import CLUE_SCHEMA, IntakeBlueprint, IntakeContext, json_payload
from services.intake.api_schemas import (
    BureauFunnelPage,
    CardBatchDetail,
    CardBatchPage,
    CardBatchView,
    CardView,
    ClueAccepted,
    ObserverPage,
    ObserverRegistered,
    TownSummaryPage,
)
from services.intake.schemas import PATH_PATTERN, ClueSchema, Text
from shared.auth import jurisdiction_within, require
from shared.problems import Problem, load, must_be_object
from shared.vocabulary import OBSERVER_BACKGROUNDS, OUTCOME_LABELS, PLACE_KIND_LABELS, PLACE_KINDS
from shared.web import BEARER

SHEET_DAYS = 30
# The path's variables as documented: a card's code, a batch's id (each one's maxLength).
CODE = [{"name": "code", "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": 40}}]
BATCH_ID = [{"name": "batch_id", "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 64}}]
SHEET_PAGE = 100


class CardBatchBody(Schema):
    class Meta:
        unknown = RAISE

    bureau = Text(required=True, validate=validate.Regexp(PATH_PATTERN))
    place_kind = fields.String(required=True, validate=validate.OneOf(PLACE_KINDS))
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=cards.MAX_BATCH))
    jurisdiction = Text(load_default=None, validate=validate.Regexp(PATH_PATTERN))
    prefix = Text(load_default=None, validate=validate.Length(min=1, max=20))
    label = Text(load_default="", validate=validate.Length(max=200))


class IdentityBody(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Length(min=1, max=100))
    phone = Text(load_default=None, validate=validate.Length(max=30))
    notes = Text(load_default=None, validate=validate.Length(max=1000))


class ObserverBody(Schema):
    class Meta:
        unknown = RAISE

    town = Text(required=True, validate=validate.Regexp(PATH_PATTERN))
    background = fields.String(required=True, validate=validate.OneOf(OBSERVER_BACKGROUNDS))
    liaison_cadre_id = Text(required=True, validate=validate.Length(min=1, max=100))
    identity = fields.Nested(IdentityBody, required=True)


def _ctx() -> IntakeContext:
    return current_app.extensions["intake"]


def _places() -> practice_store.Places:
    return current_app.extensions["intake.places"]


def _iso(value) -> str:
    return handlers.iso(value)


def _in_scope(code: str) -> None:
    if not jurisdiction_within(code, g.principal.scope):
        raise Problem(403, "Forbidden", "outside your jurisdiction")


def batch_view(batch: practice_store.CardBatch, funnel: cards.Funnel | None = None) -> dict[str, Any]:
    key = _ctx().keys.receipt_key
    expires = int(time.time()) + SHEET_DAYS * 86400
    view = {
        "batch_id": batch.id,
        "bureau": batch.bureau,
        "bureau_name": _places().name(batch.bureau),
        "place_kind": batch.place_kind,
        "jurisdiction": batch.jurisdiction,
        "count": batch.count,
        "first_number": cards.serial(batch.prefix, batch.first_number),
        "last_number": cards.serial(batch.prefix, batch.last_number),
        "label": batch.label,
        "created_at": _iso(batch.created_at),
        "sheet_url": f"/cards/batches/{batch.id}/sheet?t={cards.sheet_token(key, batch.id, expires)}",
    }
    if funnel is not None:
        view["funnel"] = funnel.as_dict()
    return view


def _card_clue(code: str, payload: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validated clue an opinion through card `code` stands for, and the intake-only fields."""
    found = practice_store.find_card(code)
    if found is None:
        raise Problem(404, "Not Found", "no card has this code")
    card, batch = found
    must_be_object(payload)
    try:
        body = cards.feedback_clue(payload, batch.bureau, batch.jurisdiction)
    except ValueError as exc:
        raise Problem(
            422,
            "Unprocessable Content",
            "some fields are invalid",
            errors={name: ["Unknown field."] for name in str(exc).split(", ")},
        ) from None
    return load(CLUE_SCHEMA, body), {"card_batch_id": batch.id, "card_number": card.number}


def post_card_opinion(code: str, payload: Any) -> dict[str, Any]:
    """Store an opinion sent through a card as a clue; the 202 body (with the receipt)."""
    data, extra = _card_clue(code, payload)
    ctx = _ctx()
    body, _ = handlers.post_clue(
        data, f"card/{extra['card_batch_id']}", ctx.keys, outbox=ctx.outbox, extra=extra
    )
    return body


# The card and observer routes; the public card routes share the receipt routes' rate limit.
bp = IntakeBlueprint("cards_observers", __name__, description="Supervision cards and integrity observers")
# The printable sheet of a batch (HTML, not in the API) and the assets of the card pages.
sheets = Blueprint("practice", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/assets/practice")


def init_app(app: Flask, rest: Api, registry: dict[str, Any]) -> None:
    """The registry's places for these routes, and the routes on `app` (the API's on `rest`)."""
    app.extensions["intake.places"] = practice_store.load_places(registry)
    rest.register_blueprint(bp)
    app.register_blueprint(sheets)


def _clue_body(description: str) -> dict[str, Any]:
    """The doc of a body that becomes a clue once the card or observer has filled it in."""
    return {"description": description, "required": True,
            "content": {"application/json": {"schema": ClueSchema}}}


@bp.operation("POST", "/v1/card-batches", require("supervisor"))
@bp.arguments(CardBatchBody)
@bp.response(201, CardBatchView, description="the batch with its funnel and sheet_url")
def issue_batch(data: dict[str, Any]):
    """Issue a batch of numbered supervision cards (supervisor)"""
    bureau = _places().bureaus.get(data["bureau"])
    if bureau is None:
        raise Problem(
            422, "Unprocessable Content", "unknown bureau", errors={"bureau": ["Unknown bureau."]}
        )
    place = data["jurisdiction"] or bureau["jurisdiction"]
    if place not in _places().jurisdictions:
        raise Problem(
            422,
            "Unprocessable Content",
            "unknown jurisdiction",
            errors={"jurisdiction": ["Unknown jurisdiction."]},
        )
    _in_scope(place)
    prefix = data["prefix"] or cards.default_prefix(data["bureau"], data["place_kind"])
    batch = practice_store.issue_batch(
        data["bureau"], data["place_kind"], place, data["count"], prefix, data["label"], g.principal.actor
    )
    return batch_view(batch, cards.Funnel(issued=batch.count))


@bp.operation("GET", "/v1/card-batches", require("supervisor"))
@bp.response(200, CardBatchPage)
def list_batches():
    """Card batches in scope, each with its funnel (supervisor)"""
    batches = practice_store.batches_within(g.principal.scope)
    funnels = practice_store.batch_funnels(batches)
    return {"items": [batch_view(b, funnels[b.id]) for b in batches], "next": None}


@bp.operation("GET", "/v1/card-batches/funnel", require("supervisor"))
@bp.response(200, BureauFunnelPage)
def funnel_by_bureau():
    """The card funnel per bureau: issued, opinions, led to a case, outcomes (supervisor)"""
    batches = practice_store.batches_within(g.principal.scope)
    funnels = practice_store.batch_funnels(batches)
    total = cards.by_bureau((b.bureau, funnels[b.id]) for b in batches)
    items = [
        {"bureau": code, "bureau_name": _places().name(code), **row.as_dict()}
        for code, row in sorted(total.items())
    ]
    return {"items": items, "next": None}


@bp.operation("GET", "/v1/card-batches/<batch_id>", require("supervisor"), parameters=BATCH_ID)
@bp.response(200, CardBatchDetail)
def get_batch(batch_id: str):
    """A batch, its funnel and its cards (supervisor)"""
    batch = practice_store.batch(batch_id)
    if batch is None or not jurisdiction_within(batch.jurisdiction, g.principal.scope):
        raise Problem(404, "Not Found", "no such card batch")
    view = batch_view(batch, practice_store.batch_funnels([batch])[batch.id])
    view["cards"] = [
        {"code": c.id, "number": cards.serial(batch.prefix, c.number)}
        for c in practice_store.batch_cards(batch.id, 0, cards.MAX_BATCH)
    ]
    return view


@sheets.get("/cards/batches/<batch_id>/sheet")
def sheet(batch_id: str):
    batch = practice_store.batch(batch_id)
    token = request.args.get("t", "")
    if batch is None or not cards.sheet_token_valid(
        _ctx().keys.receipt_key, batch_id, token, int(time.time())
    ):
        return Response("链接无效或已过期。", status=404, mimetype="text/plain")
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 1 + (batch.count - 1) // SHEET_PAGE))
    base = _ctx().settings.public_url or request.url_root
    shown = practice_store.batch_cards(batch.id, (page - 1) * SHEET_PAGE, SHEET_PAGE)
    import segno  # only the sheet draws QR codes

    items = [
        {
            "code": c.id,
            "number": cards.serial(batch.prefix, c.number),
            "url": cards.card_url(base, c.id),
            "qr": segno.make(cards.card_url(base, c.id), error="m").svg_inline(scale=3),
        }
        for c in shown
    ]
    pages = 1 + (batch.count - 1) // SHEET_PAGE
    return render_template(
        "practice/sheet.html",
        batch=batch,
        items=items,
        page=page,
        pages=pages,
        token=token,
        bureau_name=_places().name(batch.bureau),
        place=PLACE_KIND_LABELS.get(batch.place_kind, batch.place_kind),
        funnel=practice_store.batch_funnels([batch])[batch.id].as_dict(),
        outcome_labels=OUTCOME_LABELS,
    )


@bp.public("GET", "/v1/cards/<code>", parameters=CODE)
@bp.response(200, CardView)
def get_card(code: str):
    """A card's bureau, place kind and number (public, rate limited)"""
    found = practice_store.find_card(code)
    if found is None:
        raise Problem(404, "Not Found", "no card has this code")
    card, batch = found
    return {
        "code": card.id,
        "number": cards.serial(batch.prefix, card.number),
        "bureau": batch.bureau,
        "bureau_name": _places().name(batch.bureau),
        "place_kind": batch.place_kind,
        "jurisdiction": batch.jurisdiction,
    }


@bp.public("POST", "/v1/cards/<code>/feedback", parameters=CODE)
@bp.response(202, ClueAccepted, description="accepted: the receipt is shown this once")
@bp.doc(requestBody=_clue_body("A Clue without source, jurisdiction and subject.employer (the card's); "
                               "subject.name may be left out."))
def card_feedback(code: str):
    """An opinion through a card: a clue with source supervision_card (public, rate limited)"""
    return post_card_opinion(code, json_payload())


@bp.operation("POST", "/v1/observers", require("supervisor"))
@bp.arguments(ObserverBody)
@bp.response(201, ObserverRegistered, description="the observer and observer_key")
def register_observer(data: dict[str, Any]):
    """Register an integrity observer of a town; the observer key is shown once (supervisor)"""
    town = _places().jurisdictions.get(data["town"])
    if town is None or town.get("level") != "town":
        raise Problem(422, "Unprocessable Content", "not a town", errors={"town": ["Not a known town."]})
    _in_scope(data["town"])
    liaison = observers.liaison_problem(
        _places().cadre_places.get(data["liaison_cadre_id"]), data["town"]
    )
    if liaison:
        raise Problem(
            422, "Unprocessable Content", "invalid liaison", errors={"liaison_cadre_id": [liaison]}
        )
    identity = {k: v for k, v in data["identity"].items() if v is not None}
    observer, token = practice_store.register_observer(
        data["town"], data["background"], data["liaison_cadre_id"], identity, _ctx().keys.vault
    )
    return {**observer_view(observer), "observer_key": token}


@bp.operation("GET", "/v1/observers", require("supervisor"))
@bp.response(200, ObserverPage)
def roster():
    """The roster in scope, without identities (supervisor)"""
    return {"items": [observer_view(o) for o in practice_store.observers_within(g.principal.scope)],
            "next": None}


@bp.operation("GET", "/v1/observers/summary", require("supervisor"))
@bp.response(200, TownSummaryPage)
def observer_summary():
    """Per town: observers by background, reports, led to a case, outcomes (supervisor)"""
    rows = practice_store.observer_summary(g.principal.scope)
    return {"items": [{**r, "town_name": _places().name(r["town"])} for r in rows], "next": None}


@bp.route("/v1/observer-reports", methods=["POST"])
@bp.problems
@bp.response(202, ClueAccepted, description="accepted: the receipt is shown this once")
@bp.doc(security=BEARER, requestBody=_clue_body(
    "A Clue without source and reporter; jurisdiction defaults to the observer's town and must lie in it."))
def observer_report():
    """The liaison posts an observer's report with the observer key: a clue with source observer"""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    observer = practice_store.observer_by_key(token.strip()) if scheme.lower() == "bearer" else None
    if observer is None:
        raise Problem(
            401,
            "Unauthorized",
            "send Authorization: Bearer <observer key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    payload = json_payload()
    must_be_object(payload)
    try:
        body = observers.report_clue(payload, observer.town)
    except ValueError as exc:
        detail = "Outside the observer's town." if str(exc) == "jurisdiction" else "Unknown field."
        raise Problem(
            422,
            "Unprocessable Content",
            "some fields are invalid",
            errors={name: [detail] for name in str(exc).split(", ")},
        ) from None
    ctx = _ctx()
    answer, _ = handlers.post_clue(
        load(CLUE_SCHEMA, body),
        f"observers/{observer.town}",
        ctx.keys,
        outbox=ctx.outbox,
        extra={"observer_id": observer.id},
    )
    return answer


def observer_view(observer: practice_store.Observer) -> dict[str, Any]:
    """An observer as supervisors see them: never the identity."""
    return {
        "observer_id": observer.id,
        "town": observer.town,
        "background": observer.background,
        "liaison_cadre_id": observer.liaison_cadre_id,
        "active": observer.active,
        "created_at": _iso(observer.created_at),
    }
