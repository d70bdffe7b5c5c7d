"""Supervision cards (廉政监督卡): rules in plain Python.

A supervisor issues a batch of numbered cards for one enforcement bureau and one kind of place
(building sites, muck-truck fleets, shops, service windows). Numbers run on per bureau and place
kind across batches. Each card has a short code (8 Crockford base32 symbols, "K7QM-2H8D",
forgiving when typed back) and a QR code of the reporter page's URL with that code.

An opinion sent through a card becomes a clue with source `supervision_card`: the card's bureau
is the subject's employer, the batch's jurisdiction is where it happened, and it may name no
person (then it routes by the bureau). The funnel counts, per batch and per bureau: cards issued,
opinions received, opinions that led to a case, and the outcomes of those cases.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.intake.receipts import ALPHABET

CODE_LENGTH = 8
MAX_BATCH = 5000
SOURCE = "supervision_card"
# A clue that reached a case (accepted, moved up, or closed) "led to a case"; `received` did not yet.
LED_TO_CASE = frozenset({"accepted", "transferred", "closed"})
# What an opinion sent through a card may say; the rest comes from the card.
FEEDBACK_FIELDS = frozenset(
    {
        "category",
        "summary",
        "details",
        "occurred_on",
        "amount_cny",
        "collusion",
        "subject",
        "parties",
        "reporter",
    }
)
FEEDBACK_SUBJECT_FIELDS = frozenset({"name", "position", "rank", "party_member"})

_TYPED_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -\t\r\n")


def new_code() -> str:
    """A fresh card code: 40 random bits as 8 Crockford base32 symbols, "XXXX-XXXX"."""
    number = secrets.randbits(5 * CODE_LENGTH)
    symbols = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))
    return f"{symbols[:4]}-{symbols[4:]}"


def normalise_code(text: str) -> str | None:
    """The canonical form of a card code as typed (case, spaces, dashes, O/I/L forgiven); None
    when it cannot be one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    symbols = text.upper().translate(_SEPARATORS).translate(_TYPED_ALIASES)
    if len(symbols) != CODE_LENGTH or any(ch not in ALPHABET for ch in symbols):
        return None
    return f"{symbols[:4]}-{symbols[4:]}"


def card_url(base_url: str, code: str) -> str:
    """The reporter page of a card: what its QR code holds."""
    return f"{base_url.rstrip('/')}/card/{code}"


def numbers(issued_before: int, count: int) -> range:
    """The numbers of a new batch of `count` cards after `issued_before` for the same bureau
    and place kind (numbering starts at 1)."""
    if count < 1 or count > MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} cards")
    return range(issued_before + 1, issued_before + count + 1)


PLACE_MARKS = {"building_site": "BS", "muck_truck_fleet": "MT", "shop": "SP", "service_window": "SW"}


def default_prefix(bureau: str, place_kind: str) -> str:
    """The printed prefix of a bureau's cards for a place kind: the bureau's place, its initials
    and the place kind's mark, "NANHAI-UM-SP" for Nanhai's city management at shops (numbers run
    per bureau and place kind, so the prefix tells the series apart)."""
    *_, place, slug = ["", *bureau.split("/")]
    initials = "".join(word[:1] for word in slug.split("-")).upper()
    return "-".join(p for p in (place.upper(), initials, PLACE_MARKS.get(place_kind, "")) if p)


def serial(prefix: str, number: int) -> str:
    """The number printed on a card: the batch's prefix and the number, 4 digits at least."""
    return f"{prefix}-{number:04d}"


def sheet_token(key: bytes, batch_id: str, expires_at: int) -> str:
    """A link token for the printable sheet of a batch, valid until `expires_at` (epoch s)."""
    mac = hmac.new(key, f"card-sheet|{batch_id}|{expires_at}".encode(), hashlib.sha256).hexdigest()
    return f"{expires_at}.{mac[:32]}"


def sheet_token_valid(key: bytes, batch_id: str, token: str, now: int) -> bool:
    """True when `token` is `sheet_token` of this batch and has not expired at `now` (epoch s)."""
    stamp, _, _mac = (token or "").partition(".")
    if not stamp.isdigit() or int(stamp) < now:
        return False
    return hmac.compare_digest(sheet_token(key, batch_id, int(stamp)), token)


def feedback_clue(feedback: Mapping[str, Any], bureau: str, jurisdiction: str) -> dict[str, Any]:
    """The POST /v1/clues body that an opinion sent through a card stands for.

    Raises ValueError naming the unknown fields: the source, the place and the bureau come from
    the card, not from the sender. The category defaults to `other`."""
    unknown = sorted(set(feedback) - FEEDBACK_FIELDS)
    subject = feedback.get("subject") or {}
    if isinstance(subject, Mapping):
        unknown += sorted(f"subject.{k}" for k in set(subject) - FEEDBACK_SUBJECT_FIELDS)
    if unknown:
        raise ValueError(", ".join(unknown))
    body = {k: v for k, v in feedback.items() if k != "subject"}
    body.setdefault("category", "other")
    body["source"] = SOURCE
    body["jurisdiction"] = jurisdiction
    body["subject"] = {**subject, "employer": bureau} if isinstance(subject, Mapping) else subject
    return body


@dataclass
class Funnel:
    """One row of the funnel: a batch, or a bureau's batches together."""

    issued: int = 0
    opinions: int = 0
    led_to_case: int = 0
    closed: int = 0
    outcomes: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "issued": self.issued,
            "opinions": self.opinions,
            "led_to_case": self.led_to_case,
            "closed": self.closed,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


def funnel(issued: int, clues: Iterable[tuple[str, list[str] | None]]) -> Funnel:
    """The funnel of `issued` cards whose opinions are `clues`: (the clue's status, its
    outcomes or None if its case is not closed). An outcome counts each clue once."""
    row = Funnel(issued=issued)
    for clue_status, clue_outcomes in clues:
        row.opinions += 1
        if clue_status in LED_TO_CASE:
            row.led_to_case += 1
        if clue_outcomes is not None:
            row.closed += 1
            row.outcomes.update(set(clue_outcomes))
    return row


def by_bureau(rows: Iterable[tuple[str, Funnel]]) -> dict[str, Funnel]:
    """Batches' funnels added up per bureau: rows of (bureau, the batch's funnel)."""
    total: dict[str, Funnel] = {}
    for bureau, row in rows:
        sum_row = total.setdefault(bureau, Funnel())
        sum_row.issued += row.issued
        sum_row.opinions += row.opinions
        sum_row.led_to_case += row.led_to_case
        sum_row.closed += row.closed
        sum_row.outcomes.update(row.outcomes)
    return total
