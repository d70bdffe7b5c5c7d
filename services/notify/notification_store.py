"""Where notify keeps the reporters' sealed contacts, each clue's progress, the notifications and
their delivery attempts: the one place notify's handlers, deliverer, scheduler, retention, outcomes
and admin list reach the database through, and the one place that converts times for it.

Everything goes in and comes out in aware datetimes. Inside, times that change after the first
write are epoch milliseconds (`*_ms`, documents.py says why); a notification comes out as a dict
with `due_at`, `lease_until` and `sent_at` in their place.

`NotificationStore` speaks to MongoDB (or nx-27017); `MemoryNotificationStore` (memory_store.py)
keeps the same in dicts, for the unit tests. tests/integration/notify/test_notification_store.py
runs one contract on both. `notifications()` is the store in use; `use()` swaps it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import mongoengine as me
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from services.notify.documents import ClueContact, ClueProgress, DeliveryAttempt, Notification
from services.notify.progress import Progress
from shared.current import Current
from shared.mongo import exact
from shared.times import from_ms, to_ms

WAITING = ("pending", "sending")  # a notification not yet final
# A claim's lane: exactly this channel, or (a tuple) any channel but these; and how many at most.
Lane = tuple[str | tuple[str, ...], int]
# A claimed notification's end of lease: (notification id, lease token, fields to set).
Release = tuple[str, str, dict[str, Any]]
_TIMES = {"due_ms": "due_at", "lease_until_ms": "lease_until", "sent_at_ms": "sent_at"}


@dataclass
class Contact:
    """How to reach the reporter of one clue (`id` is the clue's id); still sealed."""

    id: str
    reporter_ref: str = ""
    channel: str = ""  # "" while unknown
    lang: str = ""
    contact_sealed: str | None = None
    anonymous: bool = True
    closed: bool = False
    last_update: datetime | None = None
    created_at: datetime | None = None


def notification_out(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored notification with datetimes in place of its `*_ms` fields (None when not set)."""
    out = {k: v for k, v in doc.items() if k not in _TIMES}
    out.update({name: from_ms(doc.get(field)) for field, name in _TIMES.items()})
    return out


def _fields_in(fields: dict[str, Any]) -> dict[str, Any]:
    stored = {k: v for k, v in fields.items() if k not in _TIMES.values()}
    stored.update({field: to_ms(fields[name]) or 0 for field, name in _TIMES.items() if name in fields})
    return stored


_REACH = {"channel": 1, "lang": 1, "anonymous": 1}  # what a notification needs to be queued


def _contact_out(doc: dict[str, Any]) -> Contact:
    return Contact(doc["_id"], doc.get("reporter_ref", ""), doc.get("channel") or "", doc.get("lang") or "",
                   doc.get("contact_sealed"), bool(doc.get("anonymous")), bool(doc.get("closed")),
                   from_ms(doc.get("last_update_ms")), doc.get("created_at"))


class NotificationStore:
    """Notify's store on the database."""

    # ---- contacts ------------------------------------------------------------------------------

    def add_contact(self, contact: Contact) -> bool:
        """Keep a new contact; False if the clue has one already."""
        try:
            ClueContact(id=contact.id, reporter_ref=contact.reporter_ref, channel=contact.channel,
                        lang=contact.lang, contact_sealed=contact.contact_sealed, anonymous=contact.anonymous,
                        closed=contact.closed, last_update_ms=to_ms(contact.last_update),
                        created_at=contact.created_at).save(force_insert=True)
        except (me.NotUniqueError, DuplicateKeyError):
            return False
        return True

    def contact(self, clue_id: str) -> Contact | None:
        found = ClueContact._get_collection().find_one({"_id": clue_id})
        return _contact_out(found) if found else None

    def reach(self, clue_id: str) -> Contact | None:
        """The contact's channel, language and anonymity only: never its sealed details."""
        found = ClueContact._get_collection().find_one({"_id": clue_id}, _REACH)
        return _contact_out(found) if found else None

    def contacts(self, clue_ids: Iterable[str]) -> dict[str, Contact]:
        found = ClueContact._get_collection().find({"_id": {"$in": list(clue_ids)}})
        return {d["_id"]: _contact_out(d) for d in found}

    def note_channel(self, clue_id: str, channel: str) -> None:
        ClueContact._get_collection().update_one({"_id": clue_id}, {"$set": {"channel": channel}})

    def mark_closed(self, clue_id: str, closed: bool) -> None:
        ClueContact._get_collection().update_one({"_id": clue_id}, {"$set": {"closed": closed}})

    def touch(self, clue_id: str, at: datetime, *, closed: bool) -> None:
        """The reporter was told something at `at`: their quiet period starts again."""
        ClueContact._get_collection().update_one(
            {"_id": clue_id}, {"$set": {"last_update_ms": to_ms(at), "closed": closed}})

    def quiet_contacts(self, since: datetime, limit: int) -> list[Contact]:
        """Real-name contacts of unclosed clues told nothing after `since`."""
        due = {**exact(anonymous=False, closed=False), "last_update_ms": {"$lte": to_ms(since)}}
        wanted = {"last_update_ms": 1, "channel": 1, "lang": 1, "anonymous": 1}
        return [_contact_out(d) for d in ClueContact._get_collection().find(due, wanted).limit(limit)]

    def claim_quiet(self, clue_id: str, since: datetime, now: datetime) -> bool:
        """Start the clue's quiet period again if it is still quiet since `since`; False if not
        (another scheduler took it, or the clue moved on)."""
        claimed = ClueContact._get_collection().update_one(
            {"_id": clue_id, "closed": False, "last_update_ms": {"$lte": to_ms(since)}},
            {"$set": {"last_update_ms": to_ms(now), "still_handling_sent_ms": to_ms(now)}})
        return claimed.matched_count == 1

    def erase_contacts(self, quiet_since: datetime, now: datetime, batch: int) -> int:
        """Erase the sealed contact of closed clues told nothing after `quiet_since` and with no
        notification still waiting to go out, `batch` at a time; how many."""
        contacts, erased, skip = ClueContact._get_collection(), 0, 0
        due = {**exact(closed=True), "last_update_ms": {"$lt": to_ms(quiet_since)},
               "contact_sealed": {"$type": "string"}}
        while True:
            ids = [d["_id"] for d in contacts.find(due, {"_id": 1}).sort("_id", 1).skip(skip).limit(batch)]
            if not ids:
                return erased
            waiting = {d["clue_id"] for d in Notification._get_collection().find(
                {"clue_id": {"$in": ids}, "status": {"$in": list(WAITING)}}, {"clue_id": 1})}
            done = [clue_id for clue_id in ids if clue_id not in waiting]
            skip += len(ids) - len(done)
            if done:
                erased += contacts.update_many({"_id": {"$in": done}, **exact(closed=True)},
                                               {"$set": {"contact_sealed": None, "erased_ms": to_ms(now)}}
                                               ).modified_count
            if len(ids) < batch:
                return erased

    # ---- progress ------------------------------------------------------------------------------

    def progress(self, clue_id: str) -> tuple[Progress, int] | None:
        """The clue's progress and its version, or None before its first event."""
        found = ClueProgress._get_collection().find_one({"_id": clue_id})
        if found is None:
            return None
        return (Progress(found["stage"], found.get("generation", 0), from_ms(found.get("closed_at_ms"))),
                found.get("version", 0))

    def start_progress(self, clue_id: str, progress: Progress, now: datetime) -> bool:
        """Store the clue's first progress; False if another handler stored one first."""
        try:
            ClueProgress(id=clue_id, updated_ms=to_ms(now),
                         **_progress_fields(progress)).save(force_insert=True)
        except (me.NotUniqueError, DuplicateKeyError):
            return False
        return True

    def move_progress(self, clue_id: str, version: int, progress: Progress, now: datetime) -> bool:
        """Replace the progress of `version`; False if it changed meanwhile."""
        moved = ClueProgress._get_collection().update_one(
            {"_id": clue_id, "version": version},
            {"$set": {**_progress_fields(progress), "updated_ms": to_ms(now)}, "$inc": {"version": 1}})
        return moved.matched_count == 1

    # ---- notifications -------------------------------------------------------------------------

    def add_notification(self, fields: dict[str, Any]) -> bool:
        """Store a new notification (`id`, ..., `due_at`); False if its id is taken."""
        try:
            Notification(**_fields_in(fields)).save(force_insert=True)
        except (me.NotUniqueError, DuplicateKeyError):
            return False
        return True

    def release_waiting(self, clue_id: str, channel: str, due: datetime) -> None:
        """The clue's notifications that waited for its contact: into `channel`'s lane, due then."""
        Notification._get_collection().update_many(
            exact(clue_id=clue_id, status="pending", channel=""),
            {"$set": {"due_ms": to_ms(due), "channel": channel}})

    def claim(self, lanes: list[Lane], now: datetime, token: str, lease_until: datetime, *,
              take_expired: bool = True) -> list[dict[str, Any]]:
        """Lease due notifications (pending and due, or, with `take_expired`, sending with a lease
        run out) to `token` until `lease_until`, lane by lane, earliest due first; the claimed."""
        now_ms, collection = to_ms(now), Notification._get_collection()
        # Two plain conditions rather than one $or: nx-27017 runs an $or in Python over the whole
        # collection, and MongoDB serves each of these from an index.
        due: tuple[dict[str, Any], ...] = ({**exact(status="pending"), "due_ms": {"$lte": now_ms}},)
        if take_expired:
            due += ({**exact(status="sending"), "lease_until_ms": {"$lte": now_ms}},)
        ids: list[list[str]] = [[] for _ in due]  # per condition
        for channel, limit in lanes:
            match = {"$nin": list(channel)} if isinstance(channel, tuple) else {"$eq": channel}
            for which, condition in enumerate(due):
                if limit > 0:
                    found = [d["_id"] for d in collection.find(
                        {**condition, "channel": match}, {"_id": 1}).sort("due_ms", 1).limit(limit)]
                    ids[which] += found
                    limit -= len(found)
        if not any(ids):
            return []
        lease = {"$set": {"status": "sending", "lease_owner": token, "lease_until_ms": to_ms(lease_until)}}
        for which, condition in enumerate(due):
            if ids[which]:
                collection.update_many({"_id": {"$in": ids[which]}, **condition}, lease)
        return [notification_out(d) for d in collection.find(exact(lease_owner=token, status="sending"))]

    def renew(self, notification_id: str, token: str, lease_until: datetime) -> bool:
        """Extend `token`'s lease; False when the notification is no longer leased to it."""
        renewed = Notification._get_collection().update_one(
            _leased(notification_id, token), {"$set": {"lease_until_ms": to_ms(lease_until)}})
        return renewed.matched_count == 1

    def release(self, releases: list[Release]) -> None:
        """End each lease, setting its fields (`due_at`, `sent_at` as datetimes); a lease no
        longer the token's is left alone."""
        if releases:
            Notification._get_collection().bulk_write(
                [UpdateOne(_leased(nid, token), {"$set": {**_fields_in(fields), "lease_owner": "",
                                                          "lease_until_ms": 0}})
                 for nid, token, fields in releases], ordered=False)

    def add_attempts(self, attempts: list[dict[str, Any]]) -> None:
        if attempts:
            DeliveryAttempt._get_collection().insert_many(attempts, ordered=False)

    def pending_outcomes(self, limit: int) -> list[dict[str, Any]]:
        """Notifications whose final status the system has not been told yet (outcomes.py)."""
        found = Notification._get_collection().find(
            {"outcome_pending": {"$eq": True}},
            {"clue_id": 1, "kind": 1, "status": 1, "channel": 1, "last_reason": 1, "sent_at_ms": 1})
        return [notification_out(d) for d in found.limit(limit)]

    def outcome_told(self, notification_id: str, status: str) -> None:
        """Clear the outcome flag, unless the status changed since (a new try keeps it)."""
        Notification._get_collection().update_one({"_id": notification_id, "status": status},
                                                  {"$set": {"outcome_pending": False}})

    def page(self, limit: int, clue_id: str | None = None,
             before_seq: str | None = None) -> list[dict[str, Any]]:
        """Up to `limit` notifications, newest first (of one clue; before a sequence number)."""
        query: dict[str, Any] = {}
        if clue_id is not None:
            query["clue_id"] = clue_id
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        found = Notification._get_collection().find(query).sort("seq", -1).limit(limit)
        return [notification_out(d) for d in found]

    def attempts_of(self, notification_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Each notification's delivery attempts, first to last."""
        by_notification: dict[str, list[dict[str, Any]]] = {nid: [] for nid in notification_ids}
        if notification_ids:
            wanted = {"notification_id": {"$in": notification_ids}}
            for found in DeliveryAttempt._get_collection().find(wanted):
                by_notification[found["notification_id"]].append(found)
        return {nid: sorted(found, key=lambda a: a["number"]) for nid, found in by_notification.items()}


def _progress_fields(progress: Progress) -> dict[str, Any]:
    return {"stage": progress.stage, "generation": progress.generation,
            "closed_at_ms": to_ms(progress.closed_at) or 0}


def _leased(notification_id: str, token: str) -> dict[str, Any]:
    return {"_id": notification_id, "lease_owner": token, "status": "sending"}


class Store(Protocol):
    """What both stores offer (NotificationStore above, MemoryNotificationStore beside it)."""

    def add_contact(self, contact: Contact) -> bool: ...
    def contact(self, clue_id: str) -> Contact | None: ...
    def reach(self, clue_id: str) -> Contact | None: ...
    def contacts(self, clue_ids: Iterable[str]) -> dict[str, Contact]: ...
    def note_channel(self, clue_id: str, channel: str) -> None: ...
    def mark_closed(self, clue_id: str, closed: bool) -> None: ...
    def touch(self, clue_id: str, at: datetime, *, closed: bool) -> None: ...
    def quiet_contacts(self, since: datetime, limit: int) -> list[Contact]: ...
    def claim_quiet(self, clue_id: str, since: datetime, now: datetime) -> bool: ...
    def erase_contacts(self, quiet_since: datetime, now: datetime, batch: int) -> int: ...
    def progress(self, clue_id: str) -> tuple[Progress, int] | None: ...
    def start_progress(self, clue_id: str, progress: Progress, now: datetime) -> bool: ...
    def move_progress(self, clue_id: str, version: int, progress: Progress, now: datetime) -> bool: ...
    def add_notification(self, fields: dict[str, Any]) -> bool: ...
    def release_waiting(self, clue_id: str, channel: str, due: datetime) -> None: ...
    def claim(self, lanes: list[Lane], now: datetime, token: str, lease_until: datetime, *,
              take_expired: bool = True) -> list[dict[str, Any]]: ...
    def renew(self, notification_id: str, token: str, lease_until: datetime) -> bool: ...
    def release(self, releases: list[Release]) -> None: ...
    def add_attempts(self, attempts: list[dict[str, Any]]) -> None: ...
    def pending_outcomes(self, limit: int) -> list[dict[str, Any]]: ...
    def outcome_told(self, notification_id: str, status: str) -> None: ...
    def page(self, limit: int, clue_id: str | None = None,
             before_seq: str | None = None) -> list[dict[str, Any]]: ...
    def attempts_of(self, notification_ids: list[str]) -> dict[str, list[dict[str, Any]]]: ...


# The store notify's use cases use; `use(other)` swaps in a stand-in, returning the one before.
_current: Current[Store] = Current(NotificationStore())
notifications = _current.get
use = _current.use
