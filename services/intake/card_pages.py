"""The card holder's page at /card/<code>: what the QR code of a supervision card opens.

It shows the card (bureau, place, number) and a short form for an opinion; the post goes through
`practice_api.post_card_opinion`, so it is validated and stored exactly like
POST /v1/cards/{code}/feedback, and answered with the receipt page. The views are routed on the
reporter pages' blueprint (`pages`), with their language, CSRF guard and rate limit.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from werkzeug.datastructures import MultiDict

from services.intake import cards, practice_store
from services.intake.page_forms import NO_ERRORS, form_errors
from services.intake.page_texts import CATEGORY_EN, text
from services.intake.page_web import china_time, page_lang, render
from services.intake.practice_api import post_card_opinion
from shared.forms import FormErrors
from shared.problems import Problem
from shared.vocabulary import CATEGORY_LABELS, PLACE_KIND_LABELS

FIELDS = ("category", "summary", "details")


def card_payload(form: MultiDict) -> dict[str, Any]:
    """The POST /v1/cards/{code}/feedback body the form stands for (anonymous, receipt only)."""
    body: dict[str, Any] = {k: form[k].strip() for k in FIELDS if (form.get(k) or "").strip()}
    subject = {
        k: form[f"subject.{k}"].strip()
        for k in ("name", "position")
        if (form.get(f"subject.{k}") or "").strip()
    }
    if subject:
        body["subject"] = subject
    body["reporter"] = {"anonymous": True}
    return body


def card_form(code: str, status: int = 200, form: MultiDict | None = None,
              errors: FormErrors = NO_ERRORS) -> Response:
    """The card's page with its opinion form; 404 when no card has `code`."""
    found = practice_store.find_card(code)
    if found is None:
        return render("message.html", 404, title="card_title", body=text("card_unknown", page_lang()))
    card, batch = found
    places: practice_store.Places = current_app.extensions["intake.places"]
    return render(
        "card.html",
        status,
        card_code=card.id,
        number=cards.serial(batch.prefix, card.number),
        bureau=places.name(batch.bureau),
        place=PLACE_KIND_LABELS.get(batch.place_kind, ""),
        values=dict(form.items()) if form is not None else {"category": "other"},
        errors=errors,
        categories=[(c, zh, CATEGORY_EN[c]) for c, zh in CATEGORY_LABELS.items()],
    )


def card(code: str):
    """GET /card/<code>."""
    return card_form(code)


def card_post(code: str):
    """POST /card/<code>: the opinion as a clue, answered with the receipt page."""
    try:
        body = post_card_opinion(code, card_payload(request.form))
    except Problem as exc:
        if exc.status != 422:
            return card_form(code)
        return card_form(code, 422, request.form, form_errors(exc.errors or {}, page_lang()))
    return render(
        "receipt.html",
        code=body["receipt"]["code"],
        secret=body["receipt"]["secret"],
        received_at=china_time(body["received_at"]),
    )
