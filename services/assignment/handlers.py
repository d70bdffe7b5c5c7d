"""Handlers: one function per event or command. Load, ask the domain, save with events staged.

Every change of a case is one conditional single-document write (filter on `outbox_version`)
that also stages its events in the case's outbox; cadre slots move only through workload.py.
Handlers are safe to run twice for the same event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared import events
from shared.auth import Principal
from shared.consumer import PoisonRecord
from shared.mongo import exact, new_id, utcnow
from shared.outbox import pending as outbox_fields
from shared.outbox import staged_update
from shared.problems import Problem
from shared.times import from_ms, to_ms

from . import deadlines, escalation, tracking
from .deadlines import DeadlineRules
from .documents import OPEN_STATUSES, Case, CaseAudit, EscalationEntry
from .escalation import EscalationRules, Subject
from .registry import Registry, normalise_name
from .routing import Route, SeriousRules, is_serious, route
from .workload import (
    Claims,
    choose_lead,
    choose_leads,
    claim_cadre,
    claim_for_cases,
    release_lead,
    release_slot,
    release_stranded,
    settle,
    settle_slot,
)

log = logging.getLogger(__name__)
SOURCE = "/services/assignment"
SYSTEM = "system"
MAX_ATTEMPTS = 8


@dataclass
class Context:
    """What handlers need besides their input: the registry, the rules, the clock, and `wake`
    (asks the outbox relay to publish a case's pending events now)."""

    registry: Callable[[], Registry]
    rules: EscalationRules = field(default_factory=EscalationRules)
    deadlines: DeadlineRules = field(default_factory=DeadlineRules)
    serious: SeriousRules = field(default_factory=SeriousRules)
    wake: Callable[[dict[str, Any]], None] = lambda _case: None
    clock: Callable[[], datetime] = utcnow


def cases():
    return Case._get_collection()


def subject_key(name: str, employer: str | None, clue_id: str = "") -> str:
    """How repeat clues about one person are matched: normalised name and employer code. A clue
    that names no one (a supervision card's opinion about a bureau) matches no other clue."""
    person = normalise_name(name) or f"~{clue_id}"
    return f"{person}|{(employer or '').strip()}"


def open_key(key: str, category: str) -> str:
    """What may have one open case at a time (DOMAIN.md: a clue about the same subject and
    category while a case on them is open is linked to it). A case holds it while open; a unique
    index on it makes two workers racing on the same subject end with one case, not two."""
    return f"{key}|{category}"


def clue_ids(doc: dict[str, Any]) -> list[str]:
    return [doc["clue_id"], *(doc.get("linked_clue_ids") or [])]


# ---- events ------------------------------------------------------------------------------------


def assigned_event(doc: dict[str, Any], clue_id: str, now: datetime) -> dict[str, Any]:
    data = {
        "case_id": doc["_id"],
        "clue_id": clue_id,
        "unit": doc["unit"],
        "cadre_id": doc.get("cadre_id"),
        "lead_cadre_id": doc.get("lead_cadre_id"),
        "due_at": from_ms(doc["due_at"]),
        "assigned_at": from_ms(doc.get("assigned_at")) or now,
        "status": "queued" if doc.get("cadre_id") is None else "assigned",
    }
    if doc.get("triage_reason"):
        data["reason"] = doc["triage_reason"]
    return events.make_event(events.CASE_ASSIGNED, data, source=SOURCE, at=now)


def escalated_event(
    doc: dict[str, Any],
    clue_id: str,
    from_unit: str,
    to_unit: str,
    mode: str,
    reasons: Iterable[str],
    now: datetime,
) -> dict[str, Any]:
    return events.make_event(
        events.CASE_ESCALATED,
        {
            "case_id": doc["_id"],
            "clue_id": clue_id,
            "from_unit": from_unit,
            "to_unit": to_unit,
            "mode": mode,
            "reasons": list(reasons),
            "escalated_at": now,
        },
        source=SOURCE,
        at=now,
    )


def closed_event(doc: dict[str, Any], clue_id: str, now: datetime) -> dict[str, Any]:
    return events.make_event(
        events.CASE_CLOSED,
        {
            "case_id": doc["_id"],
            "clue_id": clue_id,
            "disposition": doc["disposition"],
            "outcomes": list(doc["outcomes"]),
            "reporter_summary": doc["reporter_summary"],
            "closed_at": now,
        },
        source=SOURCE,
        at=now,
    )


# ---- storage steps -----------------------------------------------------------------------------


def update_case(
    doc: dict[str, Any],
    changes: dict[str, Any],
    envelopes: Iterable[dict[str, Any]],
    extra_filter: dict[str, Any] | None = None,
    unset: Iterable[str] = (),
    slot: tuple[str, str] | None = None,
) -> dict[str, Any] | None:
    """Apply `changes` (and remove the `unset` fields) and stage `envelopes` in one write, only if
    the case is still the version `doc` was read at (and matches `extra_filter`); the updated
    case, or None if it changed.

    `slot`, a (cadre, journal key) from `claim_cadre` that this write gives the case: the write
    records the key (what tells the sweep the case took the slot), and the claim is settled after
    it, the slot given back if the write missed."""
    update = staged_update(doc, *envelopes)
    update["$set"].update(changes)
    if slot:
        update["$set"][f"slot_keys.{slot[1]}"] = True
    if unset := list(unset):
        update["$unset"] = dict.fromkeys(unset, "")
    updated = cases().find_one_and_update(
        {"_id": doc["_id"], "outbox_version": doc.get("outbox_version", 0), **(extra_filter or {})},
        update,
        return_document=ReturnDocument.AFTER,
    )
    if slot:
        settle_slot(*slot, taken=updated is not None)
    return updated


def audit_entry(
    case_id: str, actor: str, action: str, at: datetime, details: dict[str, Any], entry_id: str | None = None
) -> dict[str, Any]:
    """One audit entry as stored (a given id makes appending it idempotent)."""
    return {
        "_id": entry_id or new_id(),
        "case_id": case_id,
        "at": at,
        "actor": actor,
        "action": action,
        "details": details,
    }


def audit(
    case_id: str, actor: str, action: str, at: datetime, entry_id: str | None = None, **details: Any
) -> None:
    """Append one audit entry (a given id makes the append idempotent)."""
    try:
        CaseAudit._get_collection().insert_one(audit_entry(case_id, actor, action, at, details, entry_id))
    except DuplicateKeyError:
        pass


def record_escalation(
    doc: dict[str, Any],
    from_unit: str,
    to_unit: str,
    mode: str,
    reasons: Iterable[str],
    at: datetime,
    actor: str,
    note: str | None = None,
    ctx: Context | None = None,
) -> None:
    reasons = list(reasons)
    entry_id = f"{doc['_id']}:{doc.get('outbox_version', 0)}"
    try:
        EscalationEntry._get_collection().insert_one(
            {
                "_id": entry_id,
                "case_id": doc["_id"],
                "from_unit": from_unit,
                "to_unit": to_unit,
                "mode": mode,
                "reasons": reasons,
                "at": at,
                "actor": actor,
                "note": note,
            }
        )
    except DuplicateKeyError:
        pass
    else:
        if ctx is not None:
            tracking.escalation_recorded(doc, entry_id, from_unit, to_unit, mode, reasons, at, ctx)
    audit(
        doc["_id"],
        actor,
        "escalated" if mode == "direct_investigation" else "supervised",
        at,
        from_unit=from_unit,
        to_unit=to_unit,
        mode=mode,
        reasons=reasons,
        **({"note": note} if note else {}),
    )


def drain(unit: str, ctx: Context) -> int:
    """Give free slots of `unit` to its oldest queued cases; returns how many were assigned.

    Each step claims a slot for the oldest queued case (journaled), then takes the case with a
    conditional update that records the claim's key; if another worker took that case, the slot
    goes back and the next case is tried, so two drainers never take the same case nor strand a
    free slot.
    """
    assigned = 0
    while True:
        queued = list(
            cases()
            .find({**exact(unit=unit, status="queued"), "cadre_id": None, "triage_reason": None})
            .sort("received_at", 1)
            .limit(8)
        )
        if not queued:
            return assigned
        for doc in queued:
            now = ctx.clock()
            if (slot := claim_cadre(unit, now, doc["_id"])) is None:
                return assigned
            cadre = slot[0]
            changes = {
                "cadre_id": cadre,
                "holds_slot": True,
                "assigned_at": to_ms(now),
                "status": "supervised" if doc.get("watched_by") else "assigned",
            }
            new = {**doc, **changes}
            updated = update_case(
                doc,
                changes,
                [assigned_event(new, c, now) for c in clue_ids(doc)],
                {"status": "queued", "cadre_id": None},
                slot=slot,
            )
            if updated is not None:
                audit(doc["_id"], SYSTEM, "assigned", now, cadre_id=cadre, from_queue=True)
                ctx.wake(updated)
                assigned += 1
                break


def sweep_stranded_slots(ctx: Context, older_than: datetime) -> int:
    """Give back slots claimed before `older_than` for new cases that were never stored (a worker
    died mid-batch), and let those units' queues take them; the slots freed."""
    freed = release_stranded(older_than)
    for unit in freed:
        drain(unit, ctx)
    return sum(freed.values())


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


# ---- clue-received -----------------------------------------------------------------------------


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
    key = subject_key(subject.name, subject.employer, clue_id)
    received: datetime = tracking.received_at(data)  # an imported old clue's original date
    related = list(
        cases().find(
            exact(subject_key=key),
            {
                "unit": 1,
                "jurisdiction": 1,
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
        if link_clue(candidate["_id"], clue_id, received, repeat_count, ctx):
            tracking.clue_linked(candidate, data, ctx)
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
    keys = [
        subject_key(subject.name, subject.employer, event.data["clue_id"]) for event, subject, _bad in parsed
    ]
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
        if (updated := update_case(doc, {}, envelopes)) is not None:
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
    serious = where.mode != "triage" and (
        is_serious(
            decision.reasons if decision else [],
            data.get("amount_cny"),
            data["category"],
            bool(data.get("collusion")),
            ctx.serious,
        )
        or review_kind(data) == "review"  # 复查 gets a lead cadre, as a reopened case does
    )
    return NewCase(data, subject, key, where, decision, serious, bad_rank, ctx.clock())


def case_document(
    new: NewCase, case_id: str, cadre: str | None, lead: str | None, ctx: Context
) -> dict[str, Any]:
    """The new case as stored, its events staged in its outbox."""
    data, subject, where, decision, now = new.data, new.subject, new.where, new.decision, new.now
    clue_id = data["clue_id"]
    supervised = decision is not None and decision.mode == "supervised"
    received: datetime = tracking.received_at(data)  # an imported old clue's original date
    batch = data.get("batch") or {}
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
        "due_at": to_ms(
            deadlines.due_at(received, data["category"], data["source"], ctx.deadlines, batch.get("deadline"))
        ),
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
        "kind": review_kind(data),
        "batch_id": batch.get("id"),
        "original_unit": data.get("original_unit"),
        "prior_disposition": data.get("prior_disposition"),
        "file_number": data.get("file_number"),
        "imported_at": data["received_at"] if data.get("original_received_at") else None,
        "created_at": now,
        "outbox_version": 0,
    }
    envelopes = []
    if decision is not None:
        envelopes.append(escalated_event(doc, clue_id, where.unit, new.unit, decision.mode, reasons, now))
    envelopes.append(assigned_event(doc, clue_id, now))
    doc.update(outbox_fields(*envelopes))
    doc["opening_audit"] = opening_audit(doc, new.bad_rank)
    return doc


def review_kind(data: dict[str, Any]) -> str:
    """An imported old clue whose prior disposition was "handled" opens a review case (复查)."""
    return "review" if data.get("prior_disposition") == "handled" else "new"


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
        audit_entry(doc["_id"], SYSTEM, "received", doc["created_at"], received, f"{doc['_id']}:received"),
        audit_entry(
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


def store_new_cases(news: list[NewCase], ctx: Context) -> tuple[list[dict[str, Any]], list[int]]:
    """Claim cadres (one plan per unit for all its cases, least-loaded first, journaled until the
    cases are stored), choose lead cadres for serious cases, insert the cases with their events
    and opening audit entries in one write, then record escalations and let queued units drain.
    Returns the cases stored and the positions in `news` of those refused (see `_insert_cases`)."""
    ids = [new_id() for _ in news]
    claims = Claims()
    for unit, positions in _by_unit(news, lambda n: not n.triage).items():
        got = claim_for_cases(unit, [ids[i] for i in positions], news[positions[0]].now)
        claims.cadre_of.update(got.cadre_of)
        claims.keys.update(got.keys)
    cadres = [claims.cadre_of.get(case_id) for case_id in ids]
    leads: list[str | None] = [None] * len(news)
    for unit, positions in _by_unit(news, lambda n: n.serious).items():
        excludes = [[cadres[i]] if cadres[i] else [] for i in positions]
        for i, lead in zip(positions, choose_leads(unit, news[positions[0]].now, excludes), strict=True):
            leads[i] = lead
    docs = [case_document(new, ids[i], cadres[i], leads[i], ctx) for i, new in enumerate(news)]
    refused = _insert_cases(docs, claims)
    skip = set(refused)
    stored = [(doc, new) for i, (doc, new) in enumerate(zip(docs, news, strict=True)) if i not in skip]
    tracking.cases_opened([(doc, new.data) for doc, new in stored], ctx)
    for doc, new in stored:
        ctx.wake(doc)
        if new.decision is not None:
            record_escalation(
                doc, new.where.unit, new.unit, new.decision.mode, new.decision.reasons, new.now, SYSTEM,
                ctx=ctx,
            )
    for unit in dict.fromkeys(new.unit for doc, new in stored if doc["cadre_id"] is None and not new.triage):
        drain(unit, ctx)
    return [doc for doc, _new in stored], refused


def link_clue(case_id: str, clue_id: str, received: datetime, repeat_count: int, ctx: Context) -> bool:
    """Link a repeat clue to an open case and publish its case-assigned; False if the case is no
    longer open. Escalates the case for `repeat` when the clue count reaches the threshold."""
    for _ in range(MAX_ATTEMPTS):
        doc = cases().find_one({"_id": case_id})
        if doc is None or doc["status"] not in OPEN_STATUSES:
            return False
        if clue_id in clue_ids(doc):
            return True
        now = ctx.clock()
        changes = {
            "linked_clue_ids": [*doc.get("linked_clue_ids", []), clue_id],
            "clue_times": [*doc.get("clue_times", []), received],
        }
        updated = update_case(
            doc, changes, [assigned_event(doc, clue_id, now)], {"status": {"$in": list(OPEN_STATUSES)}}
        )
        if updated is None:
            continue
        ctx.wake(updated)
        audit(
            case_id,
            SYSTEM,
            "clue_linked",
            now,
            f"{case_id}:link:{clue_id}",
            clue_id=clue_id,
            repeat_count=repeat_count,
        )
        if (
            repeat_count >= ctx.rules.repeat_count
            and "repeat" not in (doc.get("escalation_reasons") or [])
            and not updated.get("triage_reason")
        ):
            move_case(
                case_id,
                ["repeat"],
                SYSTEM,
                ctx,
                guard=lambda d: "repeat" not in (d.get("escalation_reasons") or []),
            )
        return True
    raise RuntimeError(f"case {case_id} kept changing while a clue was linked")


# ---- escalation and supervision ----------------------------------------------------------------


def _decision(
    doc: dict[str, Any], reasons: list[str], registry: Registry, to_unit: str | None = None
) -> escalation.Escalation:
    decision = (
        escalation.Escalation(to_unit, "direct_investigation", escalation.sort_reasons(reasons))
        if to_unit
        else escalation.target_unit(doc["unit"], reasons, registry)
    )
    assert decision is not None
    if decision.mode == "supervised":
        return decision
    subject = Subject(doc["subject_name"], doc.get("subject_employer"), doc.get("subject_rank"))
    to_unit, codes = decision.to_unit, list(decision.reasons)
    while registry.level_of(to_unit) != "city" and escalation.conflict_of_interest(
        subject, to_unit, registry
    ):
        to_unit = registry.parent_unit(to_unit) or registry.city_unit()
        codes = list(escalation.sort_reasons([*codes, "conflict"]))
    return escalation.Escalation(to_unit, decision.mode, tuple(codes))


def move_case(
    case_id: str,
    reasons: list[str],
    actor: str,
    ctx: Context,
    note: str | None = None,
    guard: Callable[[dict[str, Any]], bool] | None = None,
    to_unit: str | None = None,
) -> dict[str, Any] | None:
    """Escalate a case one level up for `reasons` (at the city: supervised there instead), or to
    `to_unit` when given (a network's covering unit, relmap.py).

    The move is one conditional write; a losing concurrent mover gives its claimed slot back and
    re-reads the case, so each transition happens once. `guard` (re-checked on every read) says
    whether the move is still wanted; None is returned when it is not.
    """
    registry = ctx.registry()
    for _ in range(MAX_ATTEMPTS):
        doc = cases().find_one({"_id": case_id})
        if doc is None:
            raise Problem(404, "Not Found", "no such case")
        if doc["status"] == "closed":
            raise Problem(409, "Conflict", "the case is closed")
        if guard is not None and not guard(doc):
            return None
        if doc.get("triage_reason") or registry.unit(doc["unit"]) is None:
            raise Problem(409, "Conflict", "the case waits in triage; route it first")
        now = ctx.clock()
        decision = _decision(doc, reasons, registry, to_unit)
        merged = list(escalation.sort_reasons([*(doc.get("escalation_reasons") or []), *decision.reasons]))
        clues = clue_ids(doc)
        if decision.mode == "supervised":
            changes = {
                "watched_by": decision.to_unit,
                "escalation_reasons": merged,
                "due_at": to_ms(deadlines.due_at(now, doc["category"], "", ctx.deadlines)),
                "supervised_at": None,
            }
            if doc["status"] != "queued":
                changes["status"] = "supervised"
            envelopes = [
                escalated_event(doc, c, doc["unit"], decision.to_unit, "supervised", decision.reasons, now)
                for c in clues
            ]
            updated = update_case(doc, changes, envelopes)
            if updated is None:
                continue
            ctx.wake(updated)
            record_escalation(
                doc, doc["unit"], decision.to_unit, "supervised", decision.reasons, now, actor, note, ctx
            )
            return updated
        new_unit = decision.to_unit
        slot = claim_cadre(new_unit, now, case_id)
        cadre = slot[0] if slot else None
        lead = choose_lead(new_unit, now, [cadre] if cadre else [])
        changes = {
            "unit": new_unit,
            "cadre_id": cadre,
            "lead_cadre_id": lead,
            "holds_slot": cadre is not None,
            "holds_lead": lead is not None,
            "serious": True,
            "status": "assigned" if cadre else "queued",
            "assigned_at": to_ms(now) if cadre else None,
            "due_at": to_ms(deadlines.due_at(now, doc["category"], "", ctx.deadlines)),
            "supervised_at": None,
            "watched_by": None,
            "escalation_reasons": merged,
        }
        new = {**doc, **changes}
        envelopes = []
        for c in clues:
            envelopes.append(
                escalated_event(doc, c, doc["unit"], new_unit, decision.mode, decision.reasons, now)
            )
            envelopes.append(assigned_event(new, c, now))
        updated = update_case(doc, changes, envelopes, slot=slot)
        if updated is None:
            release_lead(lead)
            continue
        ctx.wake(updated)
        if doc.get("holds_slot"):
            release_slot(doc.get("cadre_id"))
        if doc.get("holds_lead"):
            release_lead(doc.get("lead_cadre_id"))
        record_escalation(doc, doc["unit"], new_unit, decision.mode, decision.reasons, now, actor, note, ctx)
        audit(
            case_id,
            SYSTEM,
            "assigned" if cadre else "queued",
            now,
            unit=new_unit,
            cadre_id=cadre,
            lead_cadre_id=lead,
        )
        if doc.get("holds_slot"):
            drain(doc["unit"], ctx)
        if cadre is None:
            drain(new_unit, ctx)
        return updated
    raise Problem(409, "Conflict", "the case kept changing; try again")


def escalate_case(case_id: str, principal: Principal, reason: str, ctx: Context) -> dict[str, Any]:
    """Manual escalation by a supervisor whose jurisdiction covers the case."""
    doc = cases().find_one({"_id": case_id}, {"unit": 1})
    if doc is None:
        raise Problem(404, "Not Found", "no such case")
    ensure_visible(doc, principal, ctx.registry())
    updated = move_case(case_id, ["manual"], principal.actor, ctx, note=reason)
    assert updated is not None
    return updated


def supervise_overdue(doc: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """First step for an overdue case: supervised by the level above (重点督办), once."""
    now = ctx.clock()
    if (
        deadlines.overdue_transition(
            doc["status"], from_ms(doc["due_at"]), from_ms(doc.get("supervised_at")), now, ctx.deadlines
        )
        != "supervise"
    ):
        return None
    watcher = escalation.supervision(doc["unit"], ctx.registry())
    changes = {"supervised_at": to_ms(now), "watched_by": watcher.to_unit}
    if doc["status"] != "queued":
        changes["status"] = "supervised"
    envelopes = [
        escalated_event(doc, c, doc["unit"], watcher.to_unit, "supervised", watcher.reasons, now)
        for c in clue_ids(doc)
    ]
    updated = update_case(doc, changes, envelopes, {"supervised_at": None})
    if updated is not None:
        ctx.wake(updated)
        record_escalation(
            doc, doc["unit"], watcher.to_unit, "supervised", watcher.reasons, now, SYSTEM, ctx=ctx
        )
        tracking.case_overdue(doc, now, ctx)
    return updated


def run_deadlines(ctx: Context, batch: int = 500) -> dict[str, int]:
    """One scheduler round: supervise cases past due, escalate those supervised for the grace
    period. Safe with several schedulers at once (every transition is a conditional write)."""
    now = ctx.clock()
    done = {"supervised": 0, "escalated": 0}
    grace_start = ctx.deadlines.calendar.add_days(now, -ctx.deadlines.supervision_grace_days)
    open_ = {"$in": list(OPEN_STATUSES)}
    for doc in list(
        cases()
        .find({"status": open_, "due_at": {"$lt": to_ms(now)}, "supervised_at": None, "triage_reason": None})
        .limit(batch)
    ):
        if supervise_overdue(doc, ctx) is not None:
            done["supervised"] += 1
    for doc in list(
        cases()
        .find(
            {"status": open_, "supervised_at": {"$lte": to_ms(grace_start)}, "triage_reason": None},
            {"_id": 1},
        )
        .limit(batch)
    ):

        def still_due(d: dict[str, Any]) -> bool:
            return (
                deadlines.overdue_transition(
                    d["status"],
                    from_ms(d["due_at"]),
                    from_ms(d.get("supervised_at")),
                    ctx.clock(),
                    ctx.deadlines,
                )
                == "escalate"
            )

        try:
            if move_case(doc["_id"], ["overdue"], SYSTEM, ctx, guard=still_due) is not None:
                done["escalated"] += 1
        except Problem as exc:
            log.warning("overdue escalation skipped", extra={"case_id": doc["_id"], "error": exc.detail})
    return done


# ---- closing, follow-ups -----------------------------------------------------------------------


def close_case(
    case_id: str,
    principal: Principal,
    disposition: str,
    outcomes: list[str],
    reporter_summary: str,
    ctx: Context,
) -> dict[str, Any]:
    """Close a case (its cadre or lead cadre only): publishes case-closed per clue, frees the
    cadre's slot and gives it to the unit's oldest queued case."""
    for _ in range(MAX_ATTEMPTS):
        doc = cases().find_one({"_id": case_id})
        if doc is None:
            raise Problem(404, "Not Found", "no such case")
        if principal.role != "cadre" or principal.scope not in {
            doc.get("cadre_id"),
            doc.get("lead_cadre_id"),
        } - {None}:
            raise Problem(403, "Forbidden", "only the case's cadre or lead cadre may close it")
        if doc["status"] == "closed":
            raise Problem(409, "Conflict", "the case is already closed")
        now = ctx.clock()
        changes = {
            "status": "closed",
            "closed_at": to_ms(now),
            "disposition": disposition,
            "outcomes": list(outcomes),
            "reporter_summary": reporter_summary,
            "holds_slot": False,
            "holds_lead": False,
        }
        new = {**doc, **changes}
        updated = update_case(
            doc,
            changes,
            [closed_event(new, c, now) for c in clue_ids(doc)],
            {"status": {"$in": list(OPEN_STATUSES)}},
            unset=["open_key"],
        )
        if updated is None:
            continue
        ctx.wake(updated)
        if doc.get("holds_slot"):
            release_slot(doc.get("cadre_id"))
        if doc.get("holds_lead"):
            release_lead(doc.get("lead_cadre_id"))
        audit(case_id, principal.actor, "closed", now, disposition=disposition, outcomes=list(outcomes))
        tracking.case_closed(updated, ctx)
        if doc.get("holds_slot"):
            drain(doc["unit"], ctx)
        return updated
    raise Problem(409, "Conflict", "the case kept changing; try again")


def clue_followed_up(event: events.Event, ctx: Context) -> None:
    """A reporter's follow-up lands on the case as a note; an objection to a closed case reopens
    it for review by the supervisor (the level above watches it)."""
    data = event.data
    clue_id = data["clue_id"]
    doc = cases().find_one(exact(clue_id=clue_id)) or cases().find_one({"linked_clue_ids": clue_id})
    if doc is None:
        raise PoisonRecord("no case holds this clue")
    note_id = f"{doc['_id']}:followup:{event.id}"
    if CaseAudit._get_collection().find_one({"_id": note_id}, {"_id": 1}):
        return
    now = ctx.clock()
    if data["objection"] and doc["status"] == "closed":
        registry = ctx.registry()
        watcher = escalation.supervision(doc["unit"], registry) if registry.unit(doc["unit"]) else None
        changes = {
            "status": "reopened",
            "reopened_at": to_ms(now),
            "due_at": to_ms(deadlines.due_at(now, doc["category"], "", ctx.deadlines)),
            "supervised_at": None,
            "watched_by": watcher.to_unit if watcher else None,
        }
        if _reopen(doc, changes) is not None:
            audit(
                doc["_id"],
                SYSTEM,
                "reopened",
                now,
                clue_id=clue_id,
                reason="objection",
                supervisor_unit=changes["watched_by"],
            )
    audit(
        doc["_id"],
        "reporter",
        "objection" if data["objection"] else "follow_up",
        now,
        note_id,
        clue_id=clue_id,
        message=data["message"],
        sent_at=data["at"],
    )


def _reopen(doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
    """Reopen a closed case; it takes its subject and category's open key back unless a newer
    case on them is open (then clues keep linking to the oldest open one, as before)."""
    key = {"open_key": open_key(doc["subject_key"], doc["category"])}
    try:
        reopened = update_case(doc, {**changes, **key}, [], {"status": "closed"})
    except DuplicateKeyError:  # MongoDB: the key is a newer open case's
        reopened = None
    # nx-27017 answers a refused key with no document and no error: once more without the key
    return reopened or update_case(doc, changes, [], {"status": "closed"})


# ---- scope -------------------------------------------------------------------------------------


def ensure_visible(doc: dict[str, Any], principal: Principal, registry: Registry) -> None:
    """403 unless the principal may see the case: its cadre or lead cadre, a supervisor whose
    jurisdiction covers the case's unit, or an admin."""
    if principal.role == "admin":
        return
    if principal.role == "cadre" and principal.scope in {doc.get("cadre_id"), doc.get("lead_cadre_id")}:
        return
    if (
        principal.role == "supervisor"
        and registry.unit(doc["unit"]) is not None
        and registry.is_within(doc["unit"], principal.scope)
    ):
        return
    raise Problem(403, "Forbidden", "this case is outside your scope")
