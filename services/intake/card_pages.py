"""The card holder's page at /card/<code>: what the QR code of a supervision card opens.

It shows the card (bureau, place, number) and a short form for an opinion; the post goes through
`practice_api.post_card_opinion`, so it is validated and stored exactly like
POST /v1/cards/{code}/feedback, and answered with the receipt page. Views of the reporter pages'
blueprint (pages.py), with their language, CSRF guard and rate limit.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from werkzeug.datastructures import MultiDict

from services.intake import cards, practice_store
from services.intake.limits import limited, limited_after
from services.intake.page_texts import TEXTS as TEXTS_ALL
from services.intake.page_texts import label, text
from services.intake.pages import NO_ERRORS, bp, china_time, form_errors, guard, render
from services.intake.practice_api import post_card_opinion
from shared.i18n import N_
from shared.problems import Problem
from shared.vocabulary import CATEGORY_LABELS, PLACE_KIND_LABELS

TEXTS: dict[str, str] = {
    "card_title": N_("廉政监督卡意见反馈"),
    "card_intro": N_("您可以对执法人员的执法工作提出意见和建议。意见严格保密，有"
                     "专人跟进核查，提交后您会得到一个查询码，凭它查询核查情况。"),
    "card_bureau": N_("发卡单位"),
    "card_place": N_("发放场所"),
    "card_number": N_("卡号"),
    "card_unknown": N_("没有这张监督卡，请核对卡上的编码。"),
    "card_name_hint": N_("可不填：只反映单位执法作风的问题也可以。"),
}
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


TEXTS_ALL.update(TEXTS)


def card_form(code: str, status: int = 200, form: MultiDict | None = None, errors=NO_ERRORS):
    found = practice_store.find_card(code)
    if found is None:
        return render(
            "message.html", 404, title="card_title", body=text("card_unknown")
        )
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
        categories=[(c, label(zh)) for c, zh in CATEGORY_LABELS.items()],
    )


# A card's code is guessable like a receipt's: both card pages count against the receipt limit
# (the form's CSRF check first, whose refusal is not counted).
@bp.get("/card/<code>")
@limited
def card(code: str):
    return card_form(code)


@bp.post("/card/<code>")
@limited_after(guard)
def card_post(code: str):
    try:
        body = post_card_opinion(code, card_payload(request.form))
    except Problem as exc:
        if exc.status != 422:
            return card_form(code)
        return card_form(code, 422, request.form, form_errors(exc.errors or {}))
    return render(
        "receipt.html",
        code=body["receipt"]["code"],
        secret=body["receipt"]["secret"],
        received_at=china_time(body["received_at"]),
    )
