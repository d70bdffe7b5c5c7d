"""One handler per consumed event: store the contact, advance the clue's progress, queue feedback.

Handlers are idempotent without a processed-event record: notifications have deterministic ids
(see progress.notification_key) and progress only moves forward, so a duplicate or late event
changes nothing. Delivery is not done here; the deliverer picks pending notifications up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from services.notify import progress as rules
from services.notify.notification_store import Contact, notifications
from services.notify.templates import DEFAULT_LANG, render, short_clue_ref
from shared import events
from shared.consumer import PoisonRecord
from shared.mongo import new_id, utcnow

log = logging.getLogger(__name__)

# A notification made before the reporter's contact arrived waits with this reason.
WAITING_FOR_CONTACT = "waiting for the reporter's contact"


class ProgressConflict(RuntimeError):
    """The clue's progress kept changing under this handler; the consumer loop retries it."""


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _expect(event: events.Event, topic: str) -> dict[str, Any]:
    if event.type != events.TYPES[topic]:
        raise PoisonRecord(f"event type {event.type} does not belong on {topic}")
    return event.data


def on_clue_received(event: events.Event, now: datetime | None = None) -> None:
    """Keep the (still sealed) contact and queue the "received" note."""
    data = _expect(event, events.CLUE_RECEIVED)
    now = now or utcnow()
    clue_id = data["clue_id"]
    sealed = data.get("reporter_contact_sealed")
    anonymous = not sealed or bool(data.get("anonymous"))
    # A real-name reporter's channel and language travel inside the sealed contact (delivery
    # opens it); until then they are unknown here.
    contact = Contact(clue_id, data["reporter_ref"], channel="inbox" if anonymous else "", lang="",
                      contact_sealed=None if anonymous else sealed, anonymous=anonymous,
                      last_update=now, created_at=now)
    store = notifications()
    if not store.add_contact(contact):
        contact = store.contact(clue_id) or contact
    had_progress = _advance(clue_id, "received", data["received_at"], event.id, {}, contact, now)
    if had_progress:
        # Case events came first: their notifications wait for this contact; release them now.
        store.mark_closed(clue_id, _is_closed(clue_id))
        store.release_waiting(clue_id, contact.channel, now)


def on_case_assigned(event: events.Event, now: datetime | None = None) -> None:
    """Queue "accepted" once per clue (queued and assigned are both acceptance); "reviewing" for a
    case reopened after an objection (复查). Nothing while it waits in triage (it carries a
    `reason`): the reporter was told it was received, and it is not accepted yet."""
    data = _expect(event, events.CASE_ASSIGNED)
    if data.get("reason"):
        return
    reopened = data.get("status") == "reopened"
    _advance(data["clue_id"], "reviewing" if reopened else "accepted", data["assigned_at"], event.id, {},
             None, now or utcnow(), reopened=reopened)


def on_case_escalated(event: events.Event, now: datetime | None = None) -> None:
    """Queue "transferred" (direct investigation) or "supervised", once per escalation event."""
    data = _expect(event, events.CASE_ESCALATED)
    kind = rules.ESCALATION_KIND.get(data["mode"])
    if kind is None:
        raise PoisonRecord("unknown escalation mode")
    _advance(data["clue_id"], kind, data["escalated_at"], event.id, {}, None, now or utcnow())


def on_case_closed(event: events.Event, now: datetime | None = None) -> None:
    """Queue "closed" with the disposition, outcomes and the reporter-safe summary."""
    data = _expect(event, events.CASE_CLOSED)
    params = {"reporter_summary": data.get("reporter_summary") or "",
              "outcomes": list(data.get("outcomes") or []),
              "disposition": data.get("disposition")}
    _advance(data["clue_id"], "closed", data["closed_at"], event.id, params, None, now or utcnow())


HANDLERS = {
    events.CLUE_RECEIVED: on_clue_received,
    events.CASE_ASSIGNED: on_case_assigned,
    events.CASE_ESCALATED: on_case_escalated,
    events.CASE_CLOSED: on_case_closed,
}


def _is_closed(clue_id: str) -> bool:
    found = notifications().progress(clue_id)
    return bool(found and found[0].stage == rules.CLOSED)


def _advance(clue_id: str, kind: str, at: datetime, event_id: str, params: dict[str, Any],
             contact: Contact | None, now: datetime, *, reopened: bool = False) -> bool:
    """Decide, queue the notification, then move the progress on; True if progress existed before.

    The notification is written before the progress, so a crash in between is repaired by the
    event's redelivery (the same deterministic id collapses).
    """
    at, store = _aware(at), notifications()
    for _ in range(5):
        found = store.progress(clue_id)
        before, version = found if found else (rules.Progress(), 0)
        decision = rules.decide(before, kind, at, clue_id=clue_id, event_id=event_id,
                                reopened=reopened)
        if decision.send:
            queue_notification(decision.key, clue_id, kind, at, event_id, params, contact, now,
                               closed=decision.progress.stage == rules.CLOSED)
        after = decision.progress
        if found is not None and after == before:
            return True
        if found is None:
            if store.start_progress(clue_id, after, now):
                return False
            continue
        if store.move_progress(clue_id, version, after, now):
            return True
    raise ProgressConflict("clue progress changed five times in a row")


def queue_notification(key: str, clue_id: str, kind: str, at: datetime, event_id: str,
                       params: dict[str, Any], contact: Contact | None, now: datetime, *,
                       closed: bool) -> bool:
    """Store a pending notification under the key's id; False if it already existed.

    Raises PoisonRecord when the message cannot be rendered from this data.
    """
    store = notifications()
    if contact is None:
        contact = store.reach(clue_id)
    lang = (contact.lang if contact else "") or DEFAULT_LANG
    try:
        message = render(kind, lang, clue_ref=short_clue_ref(clue_id), at=at, **params)
    except ValueError as exc:
        # An unknown outcome or disposition code, or an unusable clue id, never renders.
        raise PoisonRecord(f"cannot render {kind}: {exc}") from None
    notification_id = rules.notification_id(key)
    if not store.add_notification(dict(
            id=notification_id, key=key, seq=new_id(), clue_id=clue_id, event_id=event_id, kind=kind,
            channel=contact.channel if contact else "", lang=lang, subject=message.subject,
            text=message.text, params={"at": at.isoformat(), **params}, status="pending", attempts=0,
            due_at=now, last_reason=None if contact else WAITING_FOR_CONTACT, created_at=now)):
        return False
    log.info("notification queued", extra={"notification_id": notification_id, "kind": kind})
    if contact is not None and kind != "received":
        store.touch(clue_id, now, closed=closed)
    return True
