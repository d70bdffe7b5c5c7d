"""Use case: a clue is received (clue-received). Route it, decide escalation, make its case
(or link it to the open case on the same subject and category), in as few writes as a batch
allows. The reporter's reference and sealed contact in the event are never read or stored."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared import events
from shared.mongo import new_id

from . import escalation, tracking
from .case_events import assigned_event, closed_event
from .closing import apply_waiting
from .context import MAX_ATTEMPTS, SYSTEM, Context, clue_ids, open_key, subject_cadres, subject_key
from .documents import OPEN_STATUSES
from .escalation import Subject
from .linking import link_clue
from .model import clue_record
from .moves import record_escalation
from .new_case import NewCase, case_document, decide_case
from .queueing import drain
from .store import WITHOUT_OPEN_KEY, case_store
from .workload import Claims, choose_leads, claim_for_cases, release_lead, settle

log = logging.getLogger(__name__)


def backfill_open_keys() -> int:
    """Give the open cases stored before open keys existed theirs. Where two of them share a
    subject and category, the older keeps the key (clues link to the oldest open case anyway).
    Returns how many were given one."""
    older_first = case_store().select(WITHOUT_OPEN_KEY, {"subject_key": 1, "category": 1},
                                      sort=("received_at", 1))
    return sum(case_store().give_open_key(d["_id"], open_key(d["subject_key"], d["category"]))
               for d in older_first)


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
    fields = ("unit", "jurisdiction", "clue_id", "linked_clue_ids", "clue_times", "status", "category",
              "received_at")
    related = case_store().select({"subject_key": key}, dict.fromkeys(fields, 1))
    known = next((c for c in related if clue_id in clue_ids(c)), None)
    if known is not None:
        announce_again(known["_id"], clue_id, ctx)
        tracking.clue_seen_again(known["_id"], data, ctx)
        return True
    repeat_count = 1 + escalation.count_recent(
        [t for c in related for t in c.get("clue_times") or []], received, ctx.rules.repeat_window_days
    )
    same = sorted(
        (c for c in related if c["status"] in OPEN_STATUSES and c["category"] == data["category"]),
        key=lambda c: c["received_at"],
    )
    for candidate in same:
        if link_clue(candidate["_id"], {**clue_record(data), "received_at": received}, repeat_count, ctx):
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
        for doc in case_store().select({"subject_key": {"$in": sorted(set(keys))}}, {"subject_key": 1})
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
        doc = case_store().get(case_id)
        if doc is None:
            return
        now = ctx.clock()
        envelopes = [assigned_event(doc, clue_id, now)]
        if doc["status"] == "closed":
            envelopes.append(closed_event(doc, clue_id, now))
        if (updated := case_store().update(doc, {}, envelopes)) is not None:
            ctx.wake(updated)
            return
    raise RuntimeError(f"case {case_id} kept changing while announcing it again")


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
    failed, error = case_store().insert(docs)
    settle(claims, {doc["_id"] for doc in docs} - {docs[i]["_id"] for i in failed})
    for i in failed:
        release_lead(docs[i]["lead_cadre_id"])
    if error is not None:
        raise error
    return failed


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
    apply_waiting([doc["clue_id"] for doc, _new in stored], ctx)
    return [doc for doc, _new in stored], refused
