"""Notify's storage: reporters' sealed contacts, clue progress, notifications, delivery attempts.

The contact is kept exactly as received (sealed to notify's public key) and opened only at send
time. Nothing here holds a name, address, phone number or URL in plain text.

Times that change after the first write (and are compared in queries) are stored as epoch
milliseconds (`*_ms`): the local MongoDB stand-in (nx-27017 0.8.1) stores a datetime written by
`$set` as a string, which then matches no range query. Insert-only times stay DateTimeFields.
These documents are read and written only through notification_store.py.
"""

from __future__ import annotations

import mongoengine as me

STATUSES = ("pending", "sending", "sent", "failed")
ATTEMPT_STATUSES = ("sent", "retry", "failed")


class ClueContact(me.Document):
    """How to reach the reporter of one clue (id = clue id)."""

    id = me.StringField(primary_key=True)
    reporter_ref = me.StringField(required=True)
    # "" while unknown: the channel of a real-name reporter may sit inside the sealed contact.
    channel = me.StringField(default="")
    lang = me.StringField(default="")
    contact_sealed = me.StringField(null=True)
    anonymous = me.BooleanField(required=True)
    closed = me.BooleanField(default=False)
    last_update_ms = me.LongField(required=True)
    still_handling_sent_ms = me.LongField(default=0)
    created_at = me.DateTimeField(required=True)
    erased_ms = me.LongField(null=True)  # when retention erased contact_sealed
    meta = {"collection": "clue_contacts",
            "indexes": [("anonymous", "closed", "last_update_ms")]}


class ClueProgress(me.Document):
    """The highest stage a clue reached (id = clue id); `version` guards concurrent changes."""

    id = me.StringField(primary_key=True)
    stage = me.IntField(required=True)
    generation = me.IntField(default=0)
    closed_at_ms = me.LongField(default=0)
    version = me.IntField(default=0)
    updated_ms = me.LongField(required=True)
    meta = {"collection": "clue_progresses"}


class Notification(me.Document):
    """One message to one reporter; id is derived from its natural key, so duplicates collapse."""

    id = me.StringField(primary_key=True)
    key = me.StringField(required=True)
    seq = me.StringField(required=True)  # a ULID: newest-first order and list cursors
    clue_id = me.StringField(required=True)
    event_id = me.StringField(default="")
    kind = me.StringField(required=True)
    channel = me.StringField(default="")  # "" until the contact is known
    lang = me.StringField(required=True)
    subject = me.StringField(required=True)
    text = me.StringField(required=True)
    # What the message is rendered from (reporter-safe): at, reporter_summary, outcomes, disposition.
    params = me.DictField(default=dict)
    status = me.StringField(required=True, choices=STATUSES)
    attempts = me.IntField(default=0)
    due_ms = me.LongField(required=True)  # when the next attempt may be made
    lease_owner = me.StringField(default="")
    lease_until_ms = me.LongField(default=0)
    last_reason = me.StringField(null=True)  # a fixed phrase, never contact details
    created_at = me.DateTimeField(required=True)
    sent_at_ms = me.LongField(default=0)
    # a final status not yet told to the system as clue-notified (outcomes.py)
    outcome_pending = me.BooleanField(default=False)
    meta = {"collection": "notifications",
            "indexes": [("status", "due_ms"), ("status", "lease_until_ms"), ("clue_id", "seq"), "seq",
                        "lease_owner", "outcome_pending"]}


class DeliveryAttempt(me.Document):
    """One try to deliver one notification (one document per attempt)."""

    id = me.StringField(primary_key=True)
    notification_id = me.StringField(required=True)
    clue_id = me.StringField(required=True)
    number = me.IntField(required=True)
    channel = me.StringField(required=True)
    status = me.StringField(required=True, choices=ATTEMPT_STATUSES)
    reason = me.StringField(null=True)
    at = me.DateTimeField(required=True)
    duration_ms = me.IntField(default=0)
    meta = {"collection": "delivery_attempts", "indexes": ["notification_id"]}
