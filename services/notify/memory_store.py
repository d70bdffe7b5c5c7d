"""Notify's store in dicts, for the unit tests of the handlers, the deliverer, the scheduler,
retention and outcomes: the same calls and answers as NotificationStore (notification_store.py),
checked by tests/integration/notify/test_notification_store.py on both."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.notify.notification_store import WAITING, Contact, Lane, Release
from services.notify.progress import Progress

_DEFAULTS = {"event_id": "", "channel": "", "params": {}, "attempts": 0, "lease_owner": "",
             "lease_until": None, "last_reason": None, "sent_at": None, "outcome_pending": False}
_OUTCOME = ("_id", "clue_id", "kind", "status", "channel", "last_reason", "sent_at")


def _in_lane(channel: str, lane: str | tuple[str, ...]) -> bool:
    return channel not in lane if isinstance(lane, tuple) else channel == lane


class MemoryNotificationStore:
    """The same store in dicts. Contacts and notifications are kept as the store hands them out."""

    def __init__(self) -> None:
        self.contact_items: dict[str, Contact] = {}
        self.erased: dict[str, datetime] = {}  # clue id: when its sealed contact was erased
        self.progresses: dict[str, tuple[Progress, int]] = {}
        self.items: dict[str, dict[str, Any]] = {}  # notification id: notification
        self.attempts: list[dict[str, Any]] = []

    # ---- contacts ------------------------------------------------------------------------------

    def add_contact(self, contact: Contact) -> bool:
        if contact.id in self.contact_items:
            return False
        self.contact_items[contact.id] = replace(contact)
        return True

    def contact(self, clue_id: str) -> Contact | None:
        found = self.contact_items.get(clue_id)
        return replace(found) if found else None

    def reach(self, clue_id: str) -> Contact | None:
        found = self.contact_items.get(clue_id)
        if found is None:
            return None
        return Contact(clue_id, channel=found.channel, lang=found.lang, anonymous=found.anonymous)

    def contacts(self, clue_ids: Iterable[str]) -> dict[str, Contact]:
        return {i: replace(self.contact_items[i]) for i in set(clue_ids) if i in self.contact_items}

    def note_channel(self, clue_id: str, channel: str) -> None:
        if clue_id in self.contact_items:
            self.contact_items[clue_id].channel = channel

    def mark_closed(self, clue_id: str, closed: bool) -> None:
        if clue_id in self.contact_items:
            self.contact_items[clue_id].closed = closed

    def touch(self, clue_id: str, at: datetime, *, closed: bool) -> None:
        if clue_id in self.contact_items:
            self.contact_items[clue_id].last_update, self.contact_items[clue_id].closed = at, closed

    def quiet_contacts(self, since: datetime, limit: int) -> list[Contact]:
        quiet = [c for c in self.contact_items.values()
                 if not c.anonymous and not c.closed and c.last_update <= since]
        return [replace(c, contact_sealed=None, reporter_ref="", created_at=None) for c in quiet][:limit]

    def claim_quiet(self, clue_id: str, since: datetime, now: datetime) -> bool:
        found = self.contact_items.get(clue_id)
        if found is None or found.closed or found.last_update > since:
            return False
        found.last_update = now
        return True

    def erase_contacts(self, quiet_since: datetime, now: datetime, batch: int) -> int:
        waiting = {n["clue_id"] for n in self.items.values() if n["status"] in WAITING}
        due = [c for c in self.contact_items.values() if c.closed and c.last_update < quiet_since
               and isinstance(c.contact_sealed, str) and c.id not in waiting]
        for found in due:
            found.contact_sealed = None
            self.erased[found.id] = now
        return len(due)

    # ---- progress ------------------------------------------------------------------------------

    def progress(self, clue_id: str) -> tuple[Progress, int] | None:
        return self.progresses.get(clue_id)

    def start_progress(self, clue_id: str, progress: Progress, now: datetime) -> bool:
        if clue_id in self.progresses:
            return False
        self.progresses[clue_id] = (progress, 0)
        return True

    def move_progress(self, clue_id: str, version: int, progress: Progress, now: datetime) -> bool:
        if clue_id not in self.progresses or self.progresses[clue_id][1] != version:
            return False
        self.progresses[clue_id] = (progress, version + 1)
        return True

    # ---- notifications -------------------------------------------------------------------------

    def add_notification(self, fields: dict[str, Any]) -> bool:
        if fields["id"] in self.items:
            return False
        stored = {**copy.deepcopy(_DEFAULTS), **copy.deepcopy(fields)}
        stored["_id"] = stored.pop("id")
        self.items[stored["_id"]] = stored
        return True

    def release_waiting(self, clue_id: str, channel: str, due: datetime) -> None:
        for found in self.items.values():
            if (found["clue_id"], found["status"], found["channel"]) == (clue_id, "pending", ""):
                found.update(due_at=due, channel=channel)

    def claim(self, lanes: list[Lane], now: datetime, token: str, lease_until: datetime, *,
              take_expired: bool = True) -> list[dict[str, Any]]:
        due = [lambda n: n["status"] == "pending" and n["due_at"] <= now]
        if take_expired:
            due.append(lambda n: n["status"] == "sending" and (n["lease_until"] is None
                                                               or n["lease_until"] <= now))
        claimed: list[dict[str, Any]] = []
        for lane, limit in lanes:
            for condition in due:
                taken = {n["_id"] for n in claimed}
                found = sorted((n for n in self.items.values() if condition(n) and n["_id"] not in taken
                                and _in_lane(n["channel"], lane)), key=lambda n: n["due_at"])
                found = found[:max(limit, 0)]
                claimed, limit = claimed + found, limit - len(found)
        for found in claimed:
            found.update(status="sending", lease_owner=token, lease_until=lease_until)
        return [copy.deepcopy(n) for n in claimed]

    def renew(self, notification_id: str, token: str, lease_until: datetime) -> bool:
        found = self._leased(notification_id, token)
        if found is not None:
            found["lease_until"] = lease_until
        return found is not None

    def release(self, releases: list[Release]) -> None:
        for notification_id, token, fields in releases:
            found = self._leased(notification_id, token)
            if found is not None:
                found.update(copy.deepcopy(fields), lease_owner="", lease_until=None)

    def _leased(self, notification_id: str, token: str) -> dict[str, Any] | None:
        found = self.items.get(notification_id)
        if found and found["status"] == "sending" and found["lease_owner"] == token:
            return found
        return None

    def add_attempts(self, attempts: list[dict[str, Any]]) -> None:
        self.attempts += copy.deepcopy(attempts)

    def pending_outcomes(self, limit: int) -> list[dict[str, Any]]:
        flagged = [n for n in self.items.values() if n["outcome_pending"]]
        return [{k: n[k] for k in _OUTCOME} for n in flagged][:limit]

    def outcome_told(self, notification_id: str, status: str) -> None:
        found = self.items.get(notification_id)
        if found and found["status"] == status:
            found["outcome_pending"] = False

    def page(self, limit: int, clue_id: str | None = None,
             before_seq: str | None = None) -> list[dict[str, Any]]:
        found = [n for n in self.items.values() if (clue_id is None or n["clue_id"] == clue_id)
                 and (before_seq is None or n["seq"] < before_seq)]
        return copy.deepcopy(sorted(found, key=lambda n: n["seq"], reverse=True)[:limit])

    def attempts_of(self, notification_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        return {nid: sorted((a for a in self.attempts if a["notification_id"] == nid),
                            key=lambda a: a["number"]) for nid in notification_ids}
