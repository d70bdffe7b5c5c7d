"""Valid events for notify's tests (decoded, as the consumer loop hands them to handlers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import events

T0 = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def decoded(envelope: dict) -> events.Event:
    return events.decode(events.encode(envelope))


def clue_received(clue_id: str, sealed: str | None, *, reporter_ref: str = "ref-1", at=T0,
                  **extra) -> dict:
    return events.make_event(events.CLUE_RECEIVED, {
        "clue_id": clue_id, "received_at": at, "source": "observer", "category": "solicitation",
        "jurisdiction": "foshan/chancheng/shiwan",
        "subject": {"name": "许某", "rank": "staff"}, "amount_cny": 4645, "collusion": False,
        "reporter_ref": reporter_ref, "reporter_contact_sealed": sealed, **extra},
        source="/tests")


def case_assigned(clue_id: str, *, at=T0 + timedelta(hours=1), status: str = "assigned",
                  cadre_id: str | None = "cadre-1") -> dict:
    return events.make_event(events.CASE_ASSIGNED, {
        "case_id": "case-" + clue_id, "clue_id": clue_id, "unit": "foshan/chancheng/shiwan",
        "cadre_id": cadre_id, "lead_cadre_id": None, "due_at": at + timedelta(days=90),
        "assigned_at": at, "status": status}, source="/tests")


def case_escalated(clue_id: str, *, mode: str = "direct_investigation",
                   at=T0 + timedelta(hours=2)) -> dict:
    return events.make_event(events.CASE_ESCALATED, {
        "case_id": "case-" + clue_id, "clue_id": clue_id, "from_unit": "foshan/chancheng/shiwan",
        "to_unit": "foshan/chancheng", "mode": mode, "reasons": ["rank"], "escalated_at": at},
        source="/tests")


def case_closed(clue_id: str, *, at=T0 + timedelta(days=10), summary: str = "经核实，已责令退还。",
                outcomes=("admonition_talk", "restitution")) -> dict:
    return events.make_event(events.CASE_CLOSED, {
        "case_id": "case-" + clue_id, "clue_id": clue_id, "disposition": "preliminary_verification",
        "outcomes": list(outcomes), "reporter_summary": summary, "closed_at": at}, source="/tests")
