"""Where the receipt routes' rate limits are counted (limits.py holds the limits): `MongoCounters`,
a `limits` storage for fixed windows on one plain MongoDB collection, shared by every worker and
every web process.

`limits`' own MongoDB storage uses pipeline updates and `$not`, which the local stand-in lacks;
`MongoCounters` uses only inserts, `$inc` and deletes, the same on MongoDB 7 and nx-27017.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import mongoengine as me
from limits.storage import Storage
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, PyMongoError


def counters_collection() -> Collection:
    """The collection the receipt limit counts in, in intake's database."""
    return me.get_db()["rate_limits"]


class MongoCounters(Storage):
    """A `limits` storage for fixed windows on one MongoDB collection: one document per key, with
    `count`, `expire_ms` (compared) and `expireAt` (the TTL index's, written at insert only)."""

    STORAGE_SCHEME = ["campaign+mongodb"]

    def __init__(self, collection: Collection, **options: Any) -> None:
        super().__init__(None, wrap_exceptions=False, **options)
        self.collection = collection
        collection.create_index("expireAt", expireAfterSeconds=0)

    @property
    def base_exceptions(self) -> type[Exception]:
        return PyMongoError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now_ms = int(time.time() * 1000)
        self.collection.delete_one({"_id": key, "expire_ms": {"$lte": now_ms}})  # the window ended
        for _attempt in range(3):
            doc = self.collection.find_one_and_update({"_id": key}, {"$inc": {"count": amount}},
                                                      return_document=True)
            if doc is not None:
                return int(doc["count"])
            expire_ms = now_ms + expiry * 1000
            try:
                self.collection.insert_one({"_id": key, "count": amount, "expire_ms": expire_ms,
                                            "expireAt": datetime.fromtimestamp(expire_ms / 1000, UTC)})
                return amount
            except DuplicateKeyError:
                continue  # another worker started the window first: count in it
        raise RuntimeError("rate limit counter kept changing")

    def get(self, key: str) -> int:
        doc = self.collection.find_one({"_id": key, "expire_ms": {"$gt": int(time.time() * 1000)}},
                                       {"count": 1})
        return int(doc["count"]) if doc else 0

    def get_expiry(self, key: str) -> float:
        doc = self.collection.find_one({"_id": key}, {"expire_ms": 1})
        return doc["expire_ms"] / 1000 if doc else time.time()

    def check(self) -> bool:
        try:
            self.collection.database.command("ping")
            return True
        except PyMongoError:
            return False

    def reset(self) -> int | None:
        return self.collection.delete_many({}).deleted_count

    def clear(self, key: str) -> None:
        self.collection.delete_one({"_id": key})
