"""Use cases: a clue is received (POST /v1/clues, the report page, cards, observers, imports),
the review batch (大起底/回头看) an import names, and the staff's view of one clue.

A clue is stored in one insert that holds its clue-received event (`model.received_clue`);
`outbox.announce` asks the relay to publish it at once (`backstops.reconcile` is its backstop).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from services.intake import receipts
from services.intake.clue_store import clues
from services.intake.keys import Keys, key_digest
from services.intake.model import (
    BatchConflict,
    iso,
    received_clue,
    received_event,
    replayed_answer,
    review_batch_fields,
)
from shared.outbox import OutboxDocument
from shared.times import to_stored_datetime


class Outbox(Protocol):
    """What the use cases need of the relay: publish a just-written document's events now."""

    def announce(self, envelope: dict[str, Any]) -> None: ...

    def wake(self, document: type[OutboxDocument], stored: Mapping[str, Any]) -> None: ...


def post_clue(data: dict[str, Any], frontline_unit: str, keys: Keys, *,
              idempotency_key: str | None = None, request_hash: str | None = None,
              outbox: Outbox | None = None, now: datetime | None = None,
              extra: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
    """Store a clue validated by ClueSchema with its clue-received event, in one insert (`extra`:
    fields only intake keeps, such as the card or observer it came through).

    Returns (the 202 body, replayed): with an Idempotency-Key used in the last 24 h with the same
    body (`request_hash`, the body's keyed `body_hash`, which only a key needs), the first answer
    again and replayed=True. Raises IdempotencyConflict for a different body, or a key older than
    24 h (its replay data is erased by then, see `backstops.expire_replays`).
    """
    if idempotency_key and request_hash is None:
        raise ValueError("an Idempotency-Key needs the request's body_hash")
    store = clues()
    received_at = to_stored_datetime(now or datetime.now(UTC))
    for _attempt in range(3):
        receipt = receipts.new_receipt()
        clue = received_clue(data, frontline_unit, keys, receipt, idempotency_key, request_hash,
                             received_at, extra)
        response = {"clue_id": clue["_id"], "status": clue["status"], "received_at": iso(received_at),
                    "receipt": {"code": receipt.code, "secret": receipt.secret}}
        if idempotency_key:
            clue["replay_sealed"] = keys.vault.seal(response)
        if store.insert(clue):
            if outbox is not None:
                outbox.announce(received_event(clue))
            return response, False
        first = (store.replay_of(frontline_unit, key_digest(idempotency_key, keys.request_key))
                 if idempotency_key else None)
        if first is not None:
            return replayed_answer(first, request_hash, received_at, keys.vault), True
        # else a receipt code collided (80 random bits): draw another
    raise RuntimeError("could not store the clue: unique keys kept colliding")


def review_batch(frontline_unit: str, name: str, deadline: datetime) -> dict[str, str]:
    """The review batch (大起底/回头看) `name` of the posting unit, made on first use: its id, name
    and 限期处置 deadline as the clues' events carry them. BatchConflict if the name is taken with
    another deadline."""
    batch_id, wanted = review_batch_fields(frontline_unit, name, deadline)
    if clues().review_batch(batch_id, wanted).get("deadline") != wanted["deadline"]:
        raise BatchConflict(f"batch {name!r} has another deadline")
    return {"id": batch_id, "name": name, "deadline": wanted["deadline"]}


def find_clue(clue_id: str) -> Any:
    """The clue (without reporter ciphertext or receipt digests), or None."""
    return clues().view(clue_id)
