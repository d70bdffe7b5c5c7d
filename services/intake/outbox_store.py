"""The collections intake's events go out from, handed to the shared outbox relays (relay.py) and
the backlog gauge (app.py): the clues, whose clue-received the case events settle, and the
collections with an outbox of their own (the follow-ups). The relays and the gauge work on pymongo
collections; this is the one place intake hands them out.
"""

from __future__ import annotations

from pymongo.collection import Collection

from services.intake.documents import Clue, FollowUp
from shared.outbox import OutboxDocument

OUTBOX_DOCUMENTS: tuple[type[OutboxDocument], ...] = (FollowUp,)


def clue_collection() -> Collection:
    """The clues' collection (no outbox of its own: see documents.py)."""
    return Clue._get_collection()


def name_of(document: type[OutboxDocument]) -> str:
    """The collection name of an outbox document."""
    return document._get_collection_name()


def outbox_collections() -> dict[str, Collection]:
    """The collections with an outbox of their own, by name."""
    return {name_of(doc): doc._get_collection() for doc in OUTBOX_DOCUMENTS}
