"""MongoDB: one database per service, string ids, and a processed-event record per consumer."""

from __future__ import annotations

from datetime import UTC, datetime

import mongoengine as me
import pymongo
from pymongo.errors import DuplicateKeyError
from ulid import ULID


def new_id() -> str:
    """A new string primary key (ULID: sortable by creation time)."""
    return str(ULID())


def connect(uri: str, db: str, alias: str = "default", **kwargs) -> pymongo.MongoClient:
    """Connect mongoengine's `alias` to database `db`; returns the pymongo client."""
    me.disconnect(alias)
    return me.connect(db=db, host=uri, alias=alias, tz_aware=True, uuidRepresentation="standard",
                      serverSelectionTimeoutMS=kwargs.pop("timeout_ms", 5000), **kwargs)


def ping(alias: str = "default") -> None:
    """Raise if the database does not answer."""
    me.get_connection(alias).admin.command("ping")


def utcnow() -> datetime:
    return datetime.now(UTC)


class ProcessedEvent(me.Document):
    """That consumer `consumer` has handled event `event_id` (id is "<consumer>:<event id>")."""

    id = me.StringField(primary_key=True)
    at = me.DateTimeField(required=True)
    meta = {"collection": "processed_events"}


class ProcessedEvents:
    """The processed-event record of one consumer, for skipping duplicate deliveries."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer

    def seen(self, event_id: str) -> bool:
        return ProcessedEvent.objects(id=f"{self.consumer}:{event_id}").count() > 0

    def mark(self, event_id: str) -> None:
        try:
            ProcessedEvent(id=f"{self.consumer}:{event_id}", at=utcnow()).save(force_insert=True)
        except (me.NotUniqueError, DuplicateKeyError):
            pass
