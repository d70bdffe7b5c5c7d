"""MongoDB: one database per service, string ids, and a processed-event record per consumer."""

from __future__ import annotations

from datetime import UTC, datetime

import mongoengine as me
import pymongo
from pymongo.errors import BulkWriteError
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


def exact(**fields: object) -> dict[str, dict[str, object]]:
    """A filter of exact matches on scalar fields, written `{"f": {"$eq": v}}`.

    The same query as `{"f": v}` on MongoDB. On nx-27017 the plain form becomes SQL that also
    looks inside arrays, which no index serves, so every such query reads the whole collection;
    `$eq` compares the field itself and uses its index (10 to 20 times faster at 20,000
    documents). Use it on the hot paths' scalar fields; not for array fields, nor for None.
    """
    return {name: {"$eq": value} for name, value in fields.items()}


def count_exact(collection: pymongo.collection.Collection, **fields: object) -> int:
    """How many documents have these scalar field values, counted by reading their ids through an
    index: `count_documents` is an aggregation, which nx-27017 runs over the whole collection."""
    return sum(1 for _ in collection.find(exact(**fields), {"_id": 1}))


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
        # find_one by _id, not a count: a count is an aggregation, a scan on nx-27017.
        return ProcessedEvent._get_collection().find_one(
            {"_id": f"{self.consumer}:{event_id}"}, {"_id": 1}) is not None

    def mark(self, event_id: str) -> None:
        self.mark_many([event_id])

    def seen_many(self, event_ids: list[str]) -> set[str]:
        """Those of `event_ids` seen before, in one read."""
        prefix = f"{self.consumer}:"
        keys = [prefix + event_id for event_id in event_ids]
        found = ProcessedEvent._get_collection().find({"_id": {"$in": keys}}, {"_id": 1})
        return {doc["_id"].removeprefix(prefix) for doc in found}

    def mark_many(self, event_ids: list[str]) -> None:
        """`mark` for each of `event_ids`, in one write."""
        if not event_ids:
            return
        now = utcnow()
        docs = [{"_id": f"{self.consumer}:{event_id}", "at": now} for event_id in event_ids]
        insert_new(ProcessedEvent._get_collection(), docs)  # some marked meanwhile: a re-delivery


def insert_new(collection: pymongo.collection.Collection, docs: list[dict]) -> set[int]:
    """Insert `docs`, skipping those whose unique key is taken already (written before, e.g. by a
    re-delivery of the same event); the positions in `docs` of those skipped. Any other write
    error is raised."""
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return {e["index"] for e in errors}
    return set()
