"""Storage of the assignment service (mongoengine, string ids, explicit plural collections).

No document here ever holds a reporter's reference or sealed contact: clue-received events are
reduced to the fields routing and escalation need before anything is written.
"""

from __future__ import annotations

import mongoengine as me

from shared.outbox import OutboxDocument

OPEN_STATUSES = ("queued", "assigned", "supervised", "reopened")
STATUSES = (*OPEN_STATUSES, "closed")


class JurisdictionDoc(me.Document):
    id = me.StringField(primary_key=True)  # the jurisdiction code
    name = me.StringField(required=True)
    level = me.StringField(required=True)
    parent = me.StringField(null=True)
    leaders = me.ListField(me.StringField(), default=list)
    position = me.IntField(default=0)
    meta = {"collection": "jurisdictions"}


class EmployerDoc(me.Document):
    id = me.StringField(primary_key=True)  # the employer code
    name = me.StringField(required=True)
    jurisdiction = me.StringField(required=True)
    leaders = me.ListField(me.StringField(), default=list)
    position = me.IntField(default=0)
    meta = {"collection": "employers"}


class UnitDoc(me.Document):
    id = me.StringField(primary_key=True)  # the unit code
    name = me.StringField(required=True)
    jurisdiction = me.StringField(required=True)
    kind = me.StringField(required=True)
    serves_employer = me.StringField(null=True)
    position = me.IntField(default=0)
    meta = {"collection": "units"}


class CadreSlot(me.Document):
    """A cadre and their load counter. `load` (open cases handled) moves only by conditional
    atomic updates (see workload.py); `leads` counts serious cases they lead (领导包案)."""

    id = me.StringField(primary_key=True)
    name = me.StringField(required=True)
    unit = me.StringField(required=True)
    role = me.StringField(required=True)
    capacity = me.IntField(required=True, min_value=1)
    active = me.BooleanField(default=True)
    load = me.IntField(default=0)
    leads = me.IntField(default=0)
    last_assigned_at = me.LongField(null=True)  # epoch ms (see shared/times.py)
    # slots claimed for new cases not stored yet: journal key -> case ids (see workload.py)
    inflight = me.DictField(default=dict)
    # slots and leads given back for a case whose release is not finished: key -> epoch ms (store.py)
    released = me.DictField(default=dict)
    position = me.IntField(default=0)
    meta = {"collection": "cadres", "indexes": ["unit"]}


class RegistryState(me.Document):
    """The registry's version: bumped on every change so processes know to reload it."""

    id = me.StringField(primary_key=True)  # always "current"
    version = me.IntField(default=0)
    source = me.StringField(default="")
    changed_at = me.DateTimeField()
    meta = {"collection": "registry_states"}


class Case(OutboxDocument):
    """A case: one per first clue (unique clue_id); repeat clues are linked to it."""

    id = me.StringField(primary_key=True)
    clue_id = me.StringField(required=True, unique=True)
    linked_clue_ids = me.ListField(me.StringField(), default=list)
    clue_times = me.ListField(me.DateTimeField(), default=list)  # received_at of every clue
    received_at = me.DateTimeField(required=True)
    source = me.StringField(required=True)
    category = me.StringField(required=True)
    jurisdiction = me.StringField(required=True)
    subject_name = me.StringField(required=True)
    subject_key = me.StringField(required=True)  # normalised name + "|" + employer
    subject_employer = me.StringField(null=True)
    subject_rank = me.StringField(null=True)
    subject_position = me.StringField(null=True)
    amount_cny = me.IntField(null=True)
    collusion = me.BooleanField(default=False)
    routed_unit = me.StringField(required=True)
    route_mode = me.StringField(required=True)
    triage_reason = me.StringField(null=True)
    unit = me.StringField(required=True)
    cadre_id = me.StringField(null=True)
    lead_cadre_id = me.StringField(null=True)
    holds_slot = me.BooleanField(default=False)  # counted in cadre_id's load
    holds_lead = me.BooleanField(default=False)  # counted in lead_cadre_id's leads
    serious = me.BooleanField(default=False)
    status = me.StringField(required=True, choices=STATUSES)
    # times changed by updates are epoch milliseconds (see shared/times.py)
    due_at = me.LongField(required=True)
    accepted_at = me.LongField(null=True)
    assigned_at = me.LongField(null=True)
    supervised_at = me.LongField(null=True)  # start of overdue supervision
    watched_by = me.StringField(null=True)  # the unit supervising the case (重点督办), if any
    escalation_reasons = me.ListField(me.StringField(), default=list)
    closed_at = me.LongField(null=True)
    disposition = me.StringField(null=True)
    outcomes = me.ListField(me.StringField(), default=list)
    reporter_summary = me.StringField(null=True)
    reopened_at = me.LongField(null=True)
    closed_by = me.StringField(null=True)  # the cadre who closed it (never its reviewer: 复查)
    review = me.BooleanField(default=False)  # reopened after an objection, until closed again
    # all clues of the case: money added up, any collusion, the highest rank (linked clues count)
    amount_total_cny = me.IntField(null=True)
    any_collusion = me.BooleanField(default=False)
    top_rank = me.StringField(null=True)
    # a slot (and lead) given up by this case's last write, not yet given back: store.py
    release_key = me.StringField(null=True)
    release_at = me.LongField(default=0)
    release_slot = me.StringField(null=True)
    release_lead = me.StringField(null=True)
    # the review (大起底/回头看): the batch, the clue's original unit, prior disposition, file number;
    # kind "review" (复查) when the old clue was handled before
    kind = me.StringField(default="new")
    batch_id = me.StringField(null=True)
    original_unit = me.StringField(null=True)
    prior_disposition = me.StringField(null=True)
    file_number = me.StringField(null=True)
    imported_at = me.DateTimeField(null=True)
    # subject key + category while the case is open, absent once closed: unique (handlers.open_key)
    open_key = me.StringField()
    # the journal keys of the slot claims this case's updates took (drain, escalation): workload.py
    slot_keys = me.DictField(default=dict)
    created_at = me.DateTimeField(required=True)
    allegation = me.DictField(null=True)  # what the opening clue says (model.clue_record)
    # the first audit entries (received; assigned or queued), written with the case, never changed
    opening_audit = me.ListField(me.DictField(), default=list)
    meta = {
        "collection": "cases",
        "indexes": [
            "subject_key",
            "status",
            "cadre_id",
            "lead_cadre_id",
            "due_at",
            ("unit", "status", "received_at"),  # also serves queries on the unit alone
            "watched_by",
            "release_at",
            ("batch_id", "unit"),  # the review page per batch (大起底/回头看)
            {"fields": ["open_key"], "unique": True, "sparse": True},
        ],
    }


class CaseClue(me.Document):
    """What one clue of a case says (its allegation), without the reporter: one per clue."""

    id = me.StringField(primary_key=True)  # the clue id
    case_id = me.StringField(required=True)
    summary = me.StringField(null=True)
    details = me.StringField(null=True)
    occurred_on = me.StringField(null=True)
    category = me.StringField(null=True)
    source = me.StringField(null=True)
    subject = me.DictField(default=dict)
    amount_cny = me.IntField(null=True)
    collusion = me.BooleanField(default=False)
    received_at = me.DateTimeField(null=True)
    meta = {"collection": "case_clues", "indexes": ["case_id"]}


class WaitingFollowUp(me.Document):
    """A reporter's follow-up whose clue has no case yet: kept until the case comes."""

    id = me.StringField(primary_key=True)  # the event id
    clue_id = me.StringField(required=True)
    message = me.StringField(default="")
    objection = me.BooleanField(default=False)
    sent_at = me.DateTimeField(null=True)
    at = me.DateTimeField(required=True)
    meta = {"collection": "waiting_follow_ups", "indexes": ["clue_id"]}


class CaseAudit(me.Document):
    """One entry of a case's audit trail: append-only (state changes and reads by people)."""

    id = me.StringField(primary_key=True)
    case_id = me.StringField(required=True)
    at = me.DateTimeField(required=True)
    actor = me.StringField(required=True)
    action = me.StringField(required=True)
    details = me.DictField(default=dict)
    meta = {"collection": "case_audits", "indexes": ["case_id"]}


class EscalationEntry(me.Document):
    """One move (or supervision) of a case: from_unit -> to_unit with reason codes."""

    id = me.StringField(primary_key=True)
    case_id = me.StringField(required=True)
    from_unit = me.StringField(required=True)
    to_unit = me.StringField(required=True)
    mode = me.StringField(required=True)
    reasons = me.ListField(me.StringField(), default=list)
    at = me.DateTimeField(required=True)
    actor = me.StringField(default="system")
    note = me.StringField(null=True)
    meta = {"collection": "escalations", "indexes": ["case_id", "at"]}


class DutyDoc(me.Document):
    """One duty of one clue of a case (duties.py): due, met or missed. `unit` follows the case."""

    id = me.StringField(primary_key=True)  # duties.Duty.key
    case_id = me.StringField(required=True)
    clue_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    unit = me.StringField(required=True)
    jurisdiction = me.StringField(required=True)  # where the clue was received
    state = me.StringField(required=True)  # due, met, missed
    start_at = me.LongField(required=True)  # epoch ms (see shared/times.py)
    due_at = me.LongField(required=True)
    met_at = me.LongField(null=True)
    failed_at = me.LongField(null=True)  # the last failed notification for it, if any
    failure = me.StringField(null=True)  # notify's fixed reason phrase, never contact details
    channel = me.StringField(null=True)
    created_at = me.DateTimeField(required=True)
    meta = {
        "collection": "duties",
        "indexes": [("state", "due_at"), ("unit", "state", "due_at"), "case_id", "clue_id"],
    }


class ReviewBatch(me.Document):
    """A batch of the 大起底/回头看 review: its name and 限期处置 deadline (as intake announced it)."""

    id = me.StringField(primary_key=True)
    name = me.StringField(required=True)
    deadline = me.LongField(required=True)  # epoch ms
    created_at = me.DateTimeField(required=True)
    meta = {"collection": "review_batches"}


class StatCounter(me.Document):
    """Statistics counters of one quarter, basis and jurisdiction (counters.py); id is
    `quarter|basis|jurisdiction`, the counts are flat numeric fields."""

    id = me.StringField(primary_key=True)
    quarter = me.StringField(required=True)
    basis = me.StringField(required=True)
    jurisdiction = me.StringField(required=True)
    meta = {"collection": "stat_counters", "strict": False}


class StatMark(me.Document):
    """That one fact was counted (its id names the fact): counting twice is refused."""

    id = me.StringField(primary_key=True)
    at = me.DateTimeField(required=True)
    meta = {"collection": "stat_marks"}


def ensure_indexes() -> None:
    """Create every collection's indexes (the unique clue_id one above all)."""
    for doc in (CadreSlot, Case, CaseAudit, CaseClue, EscalationEntry, WaitingFollowUp, DutyDoc):
        doc.ensure_indexes()
    from . import network_store, recommendation_store  # the relationship map's and recommendations' own

    own = (network_store.MapLink, network_store.JointCase, network_store.JointMember,
           recommendation_store.Recommendation)
    for doc in own:
        doc.ensure_indexes()
