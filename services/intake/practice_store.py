"""Intake's storage and commands for supervision cards and integrity observers (cards.py,
observers.py hold the rules).

Card batches, cards (one document each, the code as id), a counter per bureau and place kind
for the numbering, and observers. An observer's identity is stored only as ReporterVault
ciphertext and their key only as a digest; nothing here logs either.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import mongoengine as me
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError

from services.intake import cards, observers, outcomes
from services.intake.documents import Clue
from shared.mongo import exact, new_id, utcnow
from shared.sealing import ReporterVault


class CardBatch(me.Document):
    """A batch of supervision cards for one bureau and one place kind, numbered first..last."""

    id = me.StringField(primary_key=True)
    bureau = me.StringField(required=True)  # employer code
    place_kind = me.StringField(required=True)
    jurisdiction = me.StringField(required=True)  # where the cards are handed out
    count = me.IntField(required=True)
    first_number = me.IntField(required=True)
    last_number = me.IntField(required=True)
    prefix = me.StringField(required=True)
    label = me.StringField(default="")
    issued_by = me.StringField(required=True)  # the supervisor's scope, as audit trails name it
    created_at = me.DateTimeField(required=True)
    meta = {"collection": "card_batches", "indexes": ["bureau", "jurisdiction"]}


class Card(me.Document):
    """One card: its code (the id), batch and number."""

    id = me.StringField(primary_key=True)
    batch_id = me.StringField(required=True)
    number = me.IntField(required=True)
    meta = {"collection": "cards", "indexes": [("batch_id", "number")]}


class Observer(me.Document):
    """An integrity observer of a town: background, liaison, sealed identity, key digest."""

    id = me.StringField(primary_key=True)
    town = me.StringField(required=True)
    background = me.StringField(required=True)
    liaison_cadre_id = me.StringField(required=True)
    identity_sealed = me.StringField(required=True)  # ReporterVault ciphertext
    key_digest = me.StringField(required=True, unique=True)
    active = me.BooleanField(default=True)
    created_at = me.DateTimeField(required=True)
    meta = {"collection": "observers", "indexes": ["town"]}


@dataclass(frozen=True)
class Places:
    """What intake knows of the registry file: jurisdiction and bureau names and places."""

    jurisdictions: Mapping[str, dict[str, Any]]
    bureaus: Mapping[str, dict[str, Any]]
    cadre_places: Mapping[str, str] = field(default_factory=dict)  # cadre id -> their unit's jurisdiction

    def name(self, code: str) -> str:
        found = self.bureaus.get(code) or self.jurisdictions.get(code)
        return str(found.get("name") or code) if found else code


def load_places(data: Mapping[str, Any]) -> Places:
    """The registry's jurisdictions and employers (bureaus), by code, from the file as read
    (settings.read_registry)."""
    return Places(
        {j["code"]: j for j in data.get("jurisdictions") or []},
        {e["code"]: e for e in data.get("employers") or []},
        {c["id"]: u["jurisdiction"] for u in data.get("units") or [] for c in u.get("cadres") or []},
    )


def _counter(bureau: str, place_kind: str, count: int) -> int:
    """Reserve `count` numbers for the bureau and place kind; the last number reserved."""
    found = me.get_db()["card_counters"].find_one_and_update(
        {"_id": f"{bureau}|{place_kind}"},
        {"$inc": {"issued": count}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return int(found["issued"])


def issue_batch(
    bureau: str,
    place_kind: str,
    jurisdiction: str,
    count: int,
    prefix: str,
    label: str,
    issued_by: str,
    now: datetime | None = None,
) -> CardBatch:
    """Number and store a new batch of `count` cards with fresh codes."""
    last = _counter(bureau, place_kind, count)
    span = cards.numbers(last - count, count)
    batch = CardBatch(
        id=new_id(),
        bureau=bureau,
        place_kind=place_kind,
        jurisdiction=jurisdiction,
        count=count,
        first_number=span.start,
        last_number=span.stop - 1,
        prefix=prefix,
        label=label,
        issued_by=issued_by,
        created_at=now or utcnow(),
    )
    batch.save(force_insert=True)
    pending = list(span)
    while pending:  # a code collision (40 random bits) draws that card's code again
        docs = [{"_id": cards.new_code(), "batch_id": batch.id, "number": n} for n in pending]
        try:
            Card._get_collection().insert_many(docs, ordered=False)
            pending = []
        except BulkWriteError as exc:
            pending = [docs[e["index"]]["number"] for e in exc.details.get("writeErrors", [])]
    return batch


def find_card(code: str) -> tuple[Card, CardBatch] | None:
    """The card with this code (as typed) and its batch, or None."""
    canonical = cards.normalise_code(code)
    card = Card.objects(id=canonical).first() if canonical else None
    batch = CardBatch.objects(id=card.batch_id).first() if card else None
    return (card, batch) if batch else None


def batch(batch_id: str) -> CardBatch | None:
    """The card batch with this id, or None (an id over 64 characters is no batch's)."""
    return CardBatch.objects(id=batch_id).first() if len(batch_id) <= 64 else None


def batch_cards(batch_id: str, offset: int, limit: int) -> list[Card]:
    return list(Card.objects(__raw__=exact(batch_id=batch_id)).order_by("number").skip(offset).limit(limit))


def batches_within(scope: str) -> list[CardBatch]:
    """The batches handed out in `scope` or below, newest first."""
    return [b for b in CardBatch.objects.order_by("-id") if observers.within(b.jurisdiction, scope)]


def _clue_rows(field: str, ids: list[str]) -> list[tuple[str, str, list[str] | None]]:
    """(the card batch or observer, status, outcomes or None) of every clue from these ids."""
    if not ids:
        return []
    found = list(Clue.objects(**{f"{field}__in": ids}).only("id", "status", field))
    closed = outcomes.of_clues([c.id for c in found])
    return [(getattr(c, field), c.status, closed[c.id].outcomes if c.id in closed else None) for c in found]


def batch_funnels(batches: list[CardBatch]) -> dict[str, cards.Funnel]:
    """Each batch's funnel, by batch id."""
    rows = _clue_rows("card_batch_id", [b.id for b in batches])
    return {
        b.id: cards.funnel(b.count, [(s, o) for batch_id, s, o in rows if batch_id == b.id]) for b in batches
    }


def register_observer(
    town: str,
    background: str,
    liaison_cadre_id: str,
    identity: dict[str, Any],
    vault: ReporterVault,
    now: datetime | None = None,
) -> tuple[Observer, str]:
    """Store a new observer with their identity sealed; returns it and its key (shown once)."""
    token = "obs_" + secrets.token_urlsafe(32)
    observer = Observer(
        id=new_id(),
        town=town,
        background=background,
        liaison_cadre_id=liaison_cadre_id,
        identity_sealed=vault.seal(identity),
        key_digest=observers.key_digest(token),
        created_at=now or utcnow(),
    )
    observer.save(force_insert=True)
    return observer, token


def observer_by_key(token: str) -> Observer | None:
    """The active observer whose key this is, or None."""
    if not token or len(token) > 200:
        return None
    found = Observer.objects(__raw__=exact(key_digest=observers.key_digest(token))).first()
    return found if found is not None and found.active else None


def observers_within(scope: str) -> list[Observer]:
    return [o for o in Observer.objects.order_by("town", "id") if observers.within(o.town, scope)]


def observer_summary(scope: str) -> list[dict[str, Any]]:
    """observers.town_summary for the towns in `scope`."""
    roster = observers_within(scope)
    rows = _clue_rows("observer_id", [o.id for o in roster])
    return observers.town_summary(
        [{"id": o.id, "town": o.town, "background": o.background, "active": o.active} for o in roster], rows
    )
