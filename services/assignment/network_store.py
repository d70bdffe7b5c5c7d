"""Where the relationship map lives: its links (one document per party a clue names), the joint
handlings (协作办案) and which case belongs to which; and the case fields the map reads. The one
place networks.py and casemap.py reach the database through."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import mongoengine as me
from pymongo.errors import DuplicateKeyError

from shared.mongo import insert_new
from shared.times import to_ms

from . import relmap, store

MAX_LINKS = 5000


class MapLink(me.Document):
    """One party named by one clue about one subject (an edge of the relationship map)."""

    id = me.StringField(primary_key=True)  # "<clue id>:<party key>"
    clue_id = me.StringField(required=True)
    case_id = me.StringField(required=True)
    subject_key = me.StringField(required=True)
    subject_name = me.StringField(default="")
    party_kind = me.StringField(required=True)
    party_name = me.StringField(required=True)
    party_key = me.StringField(required=True)
    meta = {"collection": "map_links", "indexes": ["subject_key", "party_key", "case_id"]}


class JointCase(me.Document):
    """Joint handling (协作办案) of a network: one lead unit, the assisting units, the cases."""

    id = me.StringField(primary_key=True)
    lead_unit = me.StringField(required=True)
    assisting_units = me.ListField(me.StringField(), default=list)
    case_ids = me.ListField(me.StringField(), default=list)
    subjects = me.ListField(me.StringField(), default=list)  # subject keys
    parties = me.ListField(me.StringField(), default=list)  # party keys
    why = me.ListField(me.StringField(), default=list)
    created_at = me.DateTimeField(required=True)
    updated_ms = me.LongField(required=True)
    meta = {"collection": "joint_cases", "indexes": ["lead_unit"]}


class JointMember(me.Document):
    """Which joint handling a case belongs to (the id is the case id)."""

    id = me.StringField(primary_key=True)
    joint_id = me.StringField(required=True)
    meta = {"collection": "joint_members", "indexes": ["joint_id"]}


def add_links(docs: list[dict[str, Any]]) -> None:
    """Store links; those stored before stay as they are (their ids are natural)."""
    insert_new(MapLink._get_collection(), docs)


def links_with(field: str, keys: set[str]) -> list[dict[str, Any]]:
    """The links whose `field` (subject_key or party_key) is one of `keys`, at most MAX_LINKS."""
    return list(MapLink._get_collection().find({field: {"$in": sorted(keys)}}).limit(MAX_LINKS))


def case_refs(case_ids: Iterable[str]) -> dict[str, relmap.CaseRef]:
    docs = store.cases().find({"_id": {"$in": sorted(set(case_ids))}}, {"outbox": 0, "opening_audit": 0})
    return {
        d["_id"]: relmap.CaseRef(
            d["_id"], d["subject_key"], d.get("subject_name", ""), d.get("subject_employer"), d["unit"],
            d["routed_unit"], d["status"], tuple(d.get("escalation_reasons") or []),
            bool(d.get("triage_reason")),
        )
        for d in docs
    }


def joint_of_cases(case_ids: list[str]) -> JointCase | None:
    """The joint handling some of these cases belong to (the oldest, when several)."""
    members = {m.id: m.joint_id for m in JointMember.objects(id__in=case_ids)}
    return JointCase.objects(id=min(members.values())).first() if members else None


def joint(joint_id: str) -> JointCase | None:
    return JointCase.objects(id=joint_id).first() if len(joint_id) <= 64 else None


def joints_newest_first() -> list[JointCase]:
    return list(JointCase.objects.order_by("-id"))


def save_joint(
    joint_id: str, fields: dict[str, Any], created_at: datetime, case_ids: list[str], updated_at: datetime
) -> None:
    """Write the joint handling, changed at `updated_at`, and make each case a member of it.

    `created_at` goes in with the first insert only: a datetime written by `$set` comes back from the
    local database as a string (shared/times.py)."""
    joints = JointCase._get_collection()
    changes = {**fields, "updated_ms": to_ms(updated_at)}
    try:
        joints.insert_one({"_id": joint_id, **changes, "created_at": created_at})
    except DuplicateKeyError:
        joints.update_one({"_id": joint_id}, {"$set": changes})
    for case_id in case_ids:
        JointMember._get_collection().update_one({"_id": case_id}, {"$set": {"joint_id": joint_id}},
                                                 upsert=True)
