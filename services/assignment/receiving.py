"""Use case: a clue is received (clue-received). Route it, decide escalation, make its case
(or link it to the open case on the same subject and category), in as few writes as a batch
allows. The reporter's reference and sealed contact in the event are never read or stored."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared import events
from shared.mongo import exact, new_id
from shared.outbox import entry
from shared.times import to_ms

from . import deadlines, escalation, store
from .case_events import assigned_event, closed_event, escalated_event
from .closing import apply_waiting
from .context import MAX_ATTEMPTS, SYSTEM, Context, clue_ids, open_key, subject_cadres, subject_key
from .documents import OPEN_STATUSES
from .escalation import Subject
from .linking import link_clue
from .model import clue_record
from .queueing import drain
from .routing import Route, is_serious, route
from .workload import Claims, choose_leads, claim_for_cases, release_lead, settle

log = logging.getLogger(__name__)


def cases():
    return store.cases()


def backfill_open_keys() -> int:
    """Give the open cases stored before open keys existed theirs. Where two of them share a
    subject and category, the older keeps the key (clues link to the oldest open case anyway).
    Returns how many were given one."""
    without = {"status": {"$in": list(OPEN_STATUSES)}, "open_key": {"$exists": False}}
    older_first = cases().find(without, {"subject_key": 1, "category": 1}).sort("received_at", 1)
    given = 0
    for doc in list(older_first):
        key = {"open_key": open_key(doc["subject_key"], doc["category"])}
        try:
            given += cases().update_one({"_id": doc["_id"], **without}, {"$set": key}).modified_count
        except DuplicateKeyError:
            continue
    return given


def _subject(data: dict[str, Any]) -> tuple[Subject, str | None]:
    subject = Subject.from_mapping(data)
    employer = (subject.employer or "").strip() or None
    rank = subject.rank if subject.rank in escalation.RANKS else None
    return Subject(subject.name, employer, rank), (subject.rank if rank is None else None)


def clue_received(event: events.Event, ctx: Context) -> None:
    """Make the clue's case (or link it to an open case on the same subject and category).

    The reporter's reference and sealed contact in the event are never read or stored.
    """
    receive_clue(event.data, ctx)


def receive_clue(data: dict[str, Any], ctx: Context) -> None:
    """`clue_received` on the event's data. When another worker stores a case on the same subject
    and category first (or the same clue's case) between the read and the insert, the insert is
    refused and the clue is looked at again: it is then linked (or announced again)."""
    for _ in range(MAX_ATTEMPTS):
        if _receive_once(data, ctx):
            return
    raise RuntimeError(f"clue {data['clue_id']}: its case kept being refused")


def _receive_once(data: dict[str, Any], ctx: Context) -> bool:
    """One look at the clue; False when its new case was refused (see `receive_clue`)."""
    clue_id = data["clue_id"]
    subject, bad_rank = _subject(data["subject"])
    key = subject_key(subject.name, subject.employer)
    received: datetime = data["received_at"]
    related = list(
        cases().find(
            exact(subject_key=key),
            {
                "clue_id": 1,
                "linked_clue_ids": 1,
                "clue_times": 1,
                "status": 1,
                "category": 1,
                "received_at": 1,
            },
        )
    )
    known = next((c for c in related if clue_id in clue_ids(c)), None)
    if known is not None:
        announce_again(known["_id"], clue_id, ctx)
        return True
    repeat_count = 1 + escalation.count_recent(
        [t for c in related for t in c.get("clue_times") or []], received, ctx.rules.repeat_window_days
    )
    same = sorted(
        (c for c in related if c["status"] in OPEN_STATUSES and c["category"] == data["category"]),
        key=lambda c: c["received_at"],
    )
    for candidate in same:
        if link_clue(candidate["_id"], clue_record(data), repeat_count, ctx):
            return True
    _stored, refused = store_new_cases([decide_case(data, subject, key, repeat_count, ctx, bad_rank)], ctx)
    return not refused


def clues_received(batch: list[events.Event], ctx: Context) -> None:
    """A polled batch of clue-received, with the outcome `clue_received` has one by one, in fewer
    writes: one read finds which subjects already have cases; the first clue about each subject
    without one becomes a new case, all of them stored together (`store_new_cases`); every other
    clue (a repeat, a redelivery, one whose case another worker stored first) then goes through
    `receive_clue`, in order."""
    parsed = [(event, *_subject(event.data["subject"])) for event in batch]
    keys = [subject_key(subject.name, subject.employer) for _event, subject, _bad in parsed]
    seen = {
        doc["subject_key"]
        for doc in cases().find({"subject_key": {"$in": sorted(set(keys))}}, {"subject_key": 1})
    }
    fresh: list[NewCase] = []
    at: list[int] = []  # the batch position of each fresh case
    again: set[int] = set()  # the positions that go one by one
    for i, ((event, subject, bad_rank), key) in enumerate(zip(parsed, keys, strict=True)):
        if key in seen:
            again.add(i)
        else:
            seen.add(key)
            fresh.append(decide_case(event.data, subject, key, 1, ctx, bad_rank))
            at.append(i)
    if fresh:
        _stored, refused = store_new_cases(fresh, ctx)
        again.update(at[j] for j in refused)
        if refused:  # another worker's case on the same subject and category, or a redelivery
            log.info("new cases refused, their clues handled one by one", extra={"clues": len(refused)})
    for i in sorted(again):  # in the batch's order, as one by one would
        receive_clue(batch[i].data, ctx)


def announce_again(case_id: str, clue_id: str, ctx: Context) -> None:
    """The clue already has a case, yet its clue-received came again: intake's reconciler resends
    it when it never saw the case announced (a broker that lost records), and a batch that failed
    halfway is handled again one by one. Stage the case's current state for this clue again;
    downstream consumers take repeats as no-ops."""
    for _ in range(MAX_ATTEMPTS):
        doc = cases().find_one({"_id": case_id})
        if doc is None:
            return
        now = ctx.clock()
        envelopes = [assigned_event(doc, clue_id, now)]
        if doc["status"] == "closed":
            envelopes.append(closed_event(doc, clue_id, now))
        if (updated := store.update_case(doc, {}, envelopes)) is not None:
            ctx.wake(updated)
            return
    raise RuntimeError(f"case {case_id} kept changing while announcing it again")


@dataclass(frozen=True)
class NewCase:
    """A case decided from its first clue, not stored yet: where it goes and why."""

    data: dict[str, Any]
    subject: Subject
    key: str
    where: Route
    decision: escalation.Escalation | None
    serious: bool
    bad_rank: str | None
    now: datetime

    @property
    def unit(self) -> str:
        return self.decision.to_unit if self.decision else self.where.unit

    @property
    def triage(self) -> bool:
        return self.where.mode == "triage"


def decide_case(
    data: dict[str, Any],
    subject: Subject,
    key: str,
    repeat_count: int,
    ctx: Context,
    bad_rank: str | None = None,
) -> NewCase:
    """Route the clue and decide escalation and seriousness (no storage touched)."""
    registry = ctx.registry()
    where = route(data["jurisdiction"], subject.employer, registry)
    decision = (
        None
        if where.mode == "triage"
        else escalation.decide(
            where.unit,
            subject,
            data.get("amount_cny"),
            bool(data.get("collusion")),
            repeat_count,
            registry,
            ctx.rules,
        )
    )
    serious = where.mode != "triage" and is_serious(
        decision.reasons if decision else [],
        data.get("amount_cny"),
        data["category"],
        bool(data.get("collusion")),
        ctx.serious,
    )
    return NewCase(data, subject, key, where, decision, serious, bad_rank, ctx.clock())


def case_document(
    new: NewCase, case_id: str, cadre: str | None, lead: str | None, ctx: Context
) -> dict[str, Any]:
    """The new case as stored, its events staged in its outbox."""
    data, subject, where, decision, now = new.data, new.subject, new.where, new.decision, new.now
    clue_id = data["clue_id"]
    supervised = decision is not None and decision.mode == "supervised"
    received: datetime = data["received_at"]
    reasons = list(decision.reasons) if decision else []
    doc: dict[str, Any] = {
        "_id": case_id,
        "clue_id": clue_id,
        "linked_clue_ids": [],
        "clue_times": [received],
        "received_at": received,
        "source": data["source"],
        "category": data["category"],
        "jurisdiction": data["jurisdiction"],
        "subject_name": subject.name,
        "subject_key": new.key,
        "open_key": open_key(new.key, data["category"]),
        "subject_employer": subject.employer,
        "subject_rank": subject.rank,
        "subject_position": (data["subject"].get("position") or None),
        "amount_cny": data.get("amount_cny"),
        "collusion": bool(data.get("collusion")),
        **_totals(data, subject),
        "routed_unit": where.unit,
        "route_mode": where.mode,
        "triage_reason": where.reason,
        "unit": new.unit,
        "cadre_id": cadre,
        "lead_cadre_id": lead,
        "holds_slot": cadre is not None,
        "holds_lead": lead is not None,
        "serious": new.serious,
        "status": "queued" if cadre is None else ("supervised" if supervised else "assigned"),
        "due_at": to_ms(deadlines.due_at(received, data["category"], data["source"], ctx.deadlines)),
        "accepted_at": None if new.triage else to_ms(now),
        "assigned_at": to_ms(now) if cadre else None,
        "supervised_at": None,
        "watched_by": new.unit if supervised else None,
        "escalation_reasons": reasons,
        "closed_at": None,
        "disposition": None,
        "outcomes": [],
        "reporter_summary": None,
        "reopened_at": None,
        "allegation": clue_record(data),
        "created_at": now,
        "outbox_version": 0,
    }
    envelopes = []
    if decision is not None:
        envelopes.append(escalated_event(doc, clue_id, where.unit, new.unit, decision.mode, reasons, now))
    envelopes.append(assigned_event(doc, clue_id, now))
    doc["outbox"] = [entry(e) for e in envelopes]
    doc["outbox_pending"] = True
    doc["opening_audit"] = opening_audit(doc, new.bad_rank)
    return doc


def _totals(data: dict[str, Any], subject: Subject) -> dict[str, Any]:
    """What the case's clues add up to (linking adds to it), and its review state."""
    return {
        "amount_total_cny": data.get("amount_cny"),
        "any_collusion": bool(data.get("collusion")),
        "top_rank": subject.rank,
        "review": False,
        "closed_by": None,
    }


def opening_audit(doc: dict[str, Any], bad_rank: str | None = None) -> list[dict[str, Any]]:
    """The first audit entries of a new case, received (with its route) and assigned or queued.
    They are stored in the case itself, in the write that creates it, and never change; every
    later entry goes to the audit collection (queries.case_detail shows both)."""
    received = {
        "clue_id": doc["clue_id"],
        "routed_unit": doc["routed_unit"],
        "route_mode": doc["route_mode"],
        "reason": doc.get("triage_reason"),
        **({"unknown_rank": bad_rank} if bad_rank else {}),
    }
    cadre, lead = doc.get("cadre_id"), doc.get("lead_cadre_id")
    assigned = {"unit": doc["unit"], "cadre_id": cadre, "lead_cadre_id": lead}
    return [
        store.audit_entry(
            doc["_id"], SYSTEM, "received", doc["created_at"], received, f"{doc['_id']}:received"
        ),
        store.audit_entry(
            doc["_id"],
            SYSTEM,
            "assigned" if cadre else "queued",
            doc["created_at"],
            assigned,
            f"{doc['_id']}:assigned",
        ),
    ]


def _by_unit(news: list[NewCase], which: Callable[[NewCase], bool]) -> dict[str, list[int]]:
    """Positions of the chosen new cases, grouped by unit (in order)."""
    groups: dict[str, list[int]] = {}
    for i, new in enumerate(news):
        if which(new):
            groups.setdefault(new.unit, []).append(i)
    return groups


def _insert_cases(docs: list[dict[str, Any]], claims: Claims) -> list[int]:
    """Insert new cases in one write, then settle their claims. A case is refused when its clue
    already has one (a redelivery racing the first) or when its subject and category already have
    an open case (another worker's, stored since the read): its slots are given back. Returns the
    positions refused; any other write error is raised once the claims are settled."""
    error: BulkWriteError | None = None
    try:
        cases().insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        error = exc
    errors = error.details.get("writeErrors", []) if error else []
    failed = {e["index"] for e in errors}
    settle(claims, {doc["_id"] for i, doc in enumerate(docs) if i not in failed})
    for i in failed:
        release_lead(docs[i]["lead_cadre_id"])
    if error and any(e.get("code") != 11000 for e in errors):
        raise error
    return sorted(failed)


def _claim(news: list[NewCase], ids: list[str], ctx: Context) -> Claims:
    """Slots for the new cases: one plan per unit for all its cases, except a case whose subject
    bears the name of one of the unit's cadres, claimed alone without that cadre."""
    claims = Claims()
    registry = ctx.registry()
    for unit, positions in _by_unit(news, lambda n: not n.triage).items():
        now = news[positions[0]].now
        plain = [ids[i] for i in positions if not subject_cadres(registry, unit, news[i].subject.name)]
        rounds = [(plain, set())] if plain else []
        for i in positions:
            if excluded := subject_cadres(registry, unit, news[i].subject.name):
                rounds.append(([ids[i]], excluded))
        for case_ids, excluded in rounds:
            got = claim_for_cases(unit, case_ids, now, excluded)
            claims.cadre_of.update(got.cadre_of)
            for cadre, keys in got.keys.items():
                claims.keys.setdefault(cadre, []).extend(keys)
    return claims


def store_new_cases(news: list[NewCase], ctx: Context) -> tuple[list[dict[str, Any]], list[int]]:
    """Claim cadres (`_claim`, journaled until the cases are stored), choose lead cadres for
    serious cases, insert the cases with their events, allegation and opening audit entries in
    one write, then record escalations, let queued units drain, and hand them
    the follow-ups that came before them. Returns the cases stored and the positions in `news`
    of those refused (see `_insert_cases`)."""
    ids = [new_id() for _ in news]
    claims = _claim(news, ids, ctx)
    cadres = [claims.cadre_of.get(case_id) for case_id in ids]
    leads: list[str | None] = [None] * len(news)
    registry = ctx.registry()
    for unit, positions in _by_unit(news, lambda n: n.serious).items():
        excludes = [
            {cadres[i]} - {None} | subject_cadres(registry, unit, news[i].subject.name) for i in positions
        ]
        for i, lead in zip(positions, choose_leads(unit, news[positions[0]].now, excludes), strict=True):
            leads[i] = lead
    docs = [case_document(new, ids[i], cadres[i], leads[i], ctx) for i, new in enumerate(news)]
    refused = _insert_cases(docs, claims)
    skip = set(refused)
    stored = [(doc, new) for i, (doc, new) in enumerate(zip(docs, news, strict=True)) if i not in skip]
    for doc, new in stored:
        ctx.wake(doc)
        if new.decision is not None:
            store.record_escalation(
                doc, new.where.unit, new.unit, new.decision.mode, new.decision.reasons, new.now, SYSTEM
            )
    for unit in dict.fromkeys(new.unit for doc, new in stored if doc["cadre_id"] is None and not new.triage):
        drain(unit, ctx)
    apply_waiting([doc["clue_id"] for doc, _new in stored], ctx)
    return [doc for doc, _new in stored], refused
