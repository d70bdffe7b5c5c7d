"""Intake's storage: clues, timeline entries and reporters' follow-up messages (with their outbox).

Reporter identity is only ever stored as ReporterVault ciphertext; receipts and idempotency keys
only as keyed digests. Histories are one document per entry (no $push of sub-documents).

A clue is its own outbox entry: it holds its clue-received event's id and everything the event
says (`handlers.received_event` rebuilds the same event from it), and stays pending until a case
event acknowledges it (`acknowledged`). So no write marks it sent: the relay publishes it at once,
and the reconciler publishes it again while it is unacknowledged.
"""

from __future__ import annotations

import mongoengine as me

from shared.outbox import OutboxDocument


class Clue(me.Document):
    """One clue as received, its reporter-facing status, and whether its event was acknowledged."""

    id = me.StringField(primary_key=True)
    frontline_unit = me.StringField(required=True)
    source = me.StringField(required=True)
    category = me.StringField(required=True)
    summary = me.StringField(required=True)
    details = me.StringField(default="")
    jurisdiction = me.StringField(required=True)
    subject = me.DictField(required=True)
    amount_cny = me.IntField(null=True)
    occurred_on = me.StringField(null=True)  # ISO date
    collusion = me.BooleanField(default=False)
    anonymous = me.BooleanField(default=True)
    # ReporterVault ciphertext of the reporter dict; erased (with contact_sealed) by `retention`
    # once the clue has been closed for longer than the objection window.
    reporter_sealed = me.StringField(null=True)
    reporter_ref = me.StringField(required=True)
    contact_sealed = me.StringField(null=True)  # sealed to notify's public key; null when anonymous
    receipt_code_digest = me.StringField(required=True, unique=True)
    receipt_secret_digest = me.StringField(required=True)
    status = me.StringField(required=True, default="received")
    received_at = me.DateTimeField(required=True)
    received_event_id = me.StringField(required=True)
    acknowledged = me.BooleanField(default=False)
    # where a case escalated for a conflict of interest went (its jurisdiction): supervisors
    # below it never see the clue (DOMAIN.md, clarified 2026-12-03)
    conflict_moved_to = me.StringField(null=True)
    # When its event last went out (epoch milliseconds: nx-27017 stores a $set datetime as a
    # string, which then compares as none).
    last_staged_ms = me.IntField(required=True)
    idempotency_key = me.StringField(required=True)  # digest of the Idempotency-Key, or "none:<id>"
    # With an Idempotency-Key only, for 24 h (`handlers.expire_replays` erases them after): the
    # body's keyed digest (HMAC, never a plain hash) and the 202 receipt, ReporterVault ciphertext.
    request_hash = me.StringField(null=True)
    replay_sealed = me.StringField(null=True)
    replay_until_ms = me.IntField(null=True)
    closed_ms = me.IntField(null=True)  # when the clue last became closed (epoch milliseconds)
    erased_ms = me.IntField(null=True)  # when retention erased the sealed identity and contact
    parties = me.ListField(me.DictField(), null=True)  # firms, intermediaries, relatives (关系图)
    card_batch_id = me.StringField(null=True)  # the supervision card batch it came through
    card_number = me.IntField(null=True)
    observer_id = me.StringField(null=True)  # the integrity observer who reported it (never sent on)
    # the review of old clues (大起底/回头看), on imported clues only (ISO text, as the event says)
    original_received_at = me.StringField(null=True)
    original_unit = me.StringField(null=True)
    prior_disposition = me.StringField(null=True)
    file_number = me.StringField(null=True)
    batch = me.DictField(null=True)  # {"id", "name", "deadline"}
    meta = {
        "collection": "clues",
        "strict": False,  # clues stored before they stopped carrying an outbox load too
        "indexes": [
            {"fields": ["frontline_unit", "idempotency_key"], "unique": True},
            ("acknowledged", "last_staged_ms"),
            {"fields": ["replay_until_ms"], "sparse": True},
            ("status", "closed_ms"),
        ],
    }


class ImportBatch(me.Document):
    """A batch of the review of old clues (大起底/回头看) imported by one unit: name and deadline.

    Not named ReviewBatch: mongoengine keys its document registry by class name, and assignment
    has a ReviewBatch; two classes of one name leave one with a stale connection after disconnect."""

    id = me.StringField(primary_key=True)
    name = me.StringField(required=True)
    deadline = me.StringField(required=True)  # ISO date-time with offset, as the events carry it
    frontline_unit = me.StringField(required=True)
    meta = {"collection": "review_batches", "strict": False}


class ClueUpdate(me.Document):
    """One reporter-safe line of a clue's timeline (its id is the event id that caused it)."""

    id = me.StringField(primary_key=True)
    clue_id = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    kind = me.StringField(required=True)
    message_zh = me.StringField(required=True)
    message_en = me.StringField(required=True)
    meta = {"collection": "clue_updates", "indexes": ["clue_id"]}


class FollowUp(OutboxDocument):
    """A message or objection a reporter sent through their receipt; carries clue-followed-up."""

    id = me.StringField(primary_key=True)
    clue_id = me.StringField(required=True)
    message = me.StringField(required=True)
    objection = me.BooleanField(default=False)
    at = me.DateTimeField(required=True)
    # False until noted on its clue (status, timeline); None for follow-ups stored before this field.
    applied = me.BooleanField(null=True)
    meta = {"collection": "follow_ups", "indexes": ["clue_id", "applied"]}


class ClueOutcome(me.Document):
    """The latest close of a clue's case: disposition and outcomes (no case officer, no unit)."""

    id = me.StringField(primary_key=True)  # the clue id
    disposition = me.StringField(required=True)
    outcomes = me.ListField(me.StringField(), default=list)
    closed_ms = me.LongField(required=True)  # epoch ms (nx-27017 keeps a $set datetime as text)
    meta = {"collection": "clue_outcomes"}
