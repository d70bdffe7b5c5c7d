import pytest

from services.intake.status import (
    ACCEPTED_UPDATE,
    CLOSED_UPDATE,
    INITIAL_STATUS,
    MESSAGE_UPDATE,
    OBJECTION_UPDATE,
    REOPENED_UPDATE,
    ROUTING_UPDATE,
    STATUSES,
    TRANSFERRED_UPDATE,
    Update,
    apply,
)
from shared.vocabulary import CLUE_STATUSES

ASSIGNED = {
    "case_id": "c1",
    "clue_id": "k1",
    "unit": "chancheng-shiwan-jgw",
    "cadre_id": "cadre-zhang",
    "lead_cadre_id": "cadre-li",
    "due_at": "2024-08-01",
}
DIRECT = {
    "case_id": "c1",
    "from_unit": "shiwan",
    "to_unit": "chancheng",
    "mode": "direct_investigation",
    "reasons": ["rank"],
}
TRIAGE = {**ASSIGNED, "cadre_id": None, "lead_cadre_id": None, "status": "queued", "reason": "unroutable"}
REOPENED = {**ASSIGNED, "status": "reopened"}
SUPERVISED = {**DIRECT, "mode": "supervised", "reasons": ["overdue"]}
CLOSED_DATA = {
    "case_id": "c1",
    "disposition": "preliminary_verification",
    "outcomes": ["admonition_talk", "restitution"],
    "reporter_summary": "经核实，相关人员已受到处理。",
}
NOTE = {"clue_id": "k1", "message": "他还收了一部手机", "objection": False}
OBJECTION = {**NOTE, "objection": True}

CLOSED_WITH_SUMMARY = Update(
    "您反映的问题线索已办结。办理结果：经核实，相关人员已受到处理。",
    "The handling of your information is complete. Result: 经核实，相关人员已受到处理。",
)

# (status, event type, data, new status, update)
TRANSITIONS = [
    ("received", "clue-received", {}, "received", None),
    ("received", "case-assigned", ASSIGNED, "accepted", ACCEPTED_UPDATE),
    ("received", "case-escalated", DIRECT, "transferred", TRANSFERRED_UPDATE),
    ("received", "case-escalated", SUPERVISED, "received", None),
    ("received", "case-closed", CLOSED_DATA, "closed", CLOSED_WITH_SUMMARY),
    ("received", "clue-followed-up", NOTE, "received", MESSAGE_UPDATE),
    ("received", "clue-followed-up", OBJECTION, "received", OBJECTION_UPDATE),
    ("accepted", "case-assigned", ASSIGNED, "accepted", None),
    ("accepted", "case-escalated", DIRECT, "transferred", TRANSFERRED_UPDATE),
    ("accepted", "case-escalated", SUPERVISED, "accepted", None),
    ("accepted", "case-closed", CLOSED_DATA, "closed", CLOSED_WITH_SUMMARY),
    ("accepted", "clue-followed-up", NOTE, "accepted", MESSAGE_UPDATE),
    ("accepted", "clue-followed-up", OBJECTION, "accepted", OBJECTION_UPDATE),
    ("transferred", "case-assigned", ASSIGNED, "transferred", None),
    ("transferred", "case-escalated", DIRECT, "transferred", None),
    ("transferred", "case-escalated", SUPERVISED, "transferred", None),
    ("transferred", "case-closed", CLOSED_DATA, "closed", CLOSED_WITH_SUMMARY),
    ("transferred", "clue-followed-up", NOTE, "transferred", MESSAGE_UPDATE),
    ("closed", "case-assigned", ASSIGNED, "closed", None),
    ("closed", "case-escalated", DIRECT, "closed", None),
    ("closed", "case-closed", CLOSED_DATA, "closed", None),
    ("closed", "clue-followed-up", NOTE, "closed", MESSAGE_UPDATE),
    ("closed", "clue-followed-up", OBJECTION, "accepted", REOPENED_UPDATE),
    ("closed", "something-new", {}, "closed", None),
    ("accepted", "case-closed", {**CLOSED_DATA, "reporter_summary": "  "}, "closed", CLOSED_UPDATE),
    ("accepted", "case-closed", {**CLOSED_DATA, "reporter_summary": None}, "closed", CLOSED_UPDATE),
    ("accepted", "case-closed", {"case_id": "c1"}, "closed", CLOSED_UPDATE),
    ("received", "case-escalated", {}, "received", None),
    ("received", "campaign.case.assigned.v1", ASSIGNED, "accepted", ACCEPTED_UPDATE),
    ("accepted", "campaign.case.escalated.v1", DIRECT, "transferred", TRANSFERRED_UPDATE),
    ("accepted", "campaign.case.closed.v1", CLOSED_DATA, "closed", CLOSED_WITH_SUMMARY),
    ("closed", "campaign.clue.followed_up.v1", OBJECTION, "accepted", REOPENED_UPDATE),
    # triage: received, not accepted, with a line that it is being routed; routed: accepted
    ("received", "case-assigned", TRIAGE, "received", ROUTING_UPDATE),
    ("accepted", "case-assigned", TRIAGE, "accepted", None),
    ("closed", "case-assigned", TRIAGE, "closed", None),
    # review after an objection (复查): the objection already reopened the clue
    ("accepted", "case-assigned", REOPENED, "accepted", None),
]


def test_the_review_text_says_the_result_is_being_reviewed():
    assert "复查" in REOPENED_UPDATE.zh and "reviewed" in REOPENED_UPDATE.en
    assert "受理" in ROUTING_UPDATE.zh and "已受理" not in ROUTING_UPDATE.zh


@pytest.mark.parametrize(("status", "event", "data", "new_status", "update"), TRANSITIONS)
def test_transitions(status, event, data, new_status, update):
    assert apply(status, event, data) == (new_status, update)


def test_the_statuses_are_the_api_statuses():
    assert STATUSES == CLUE_STATUSES
    assert INITIAL_STATUS == "received"


@pytest.mark.parametrize(("status", "event", "data", "new_status", "update"), TRANSITIONS)
def test_updates_name_no_unit_cadre_or_internal_detail(status, event, data, new_status, update):
    if update is None:
        return
    text = update.text
    assert update.zh in text and update.en in text
    for internal in (
        "chancheng",
        "shiwan",
        "cadre",
        "admonition",
        "preliminary",
        "rank",
        "overdue",
        "手机",
        "c1",
        "k1",
    ):
        assert internal not in text


def test_a_late_event_does_not_undo_a_closing():
    status = "received"
    for event, data in [
        ("case-assigned", ASSIGNED),
        ("case-closed", CLOSED_DATA),
        ("case-escalated", DIRECT),
        ("case-assigned", ASSIGNED),
    ]:
        status, _ = apply(status, event, data)
    assert status == "closed"


def test_a_reopened_case_can_close_again():
    status, _ = apply("closed", "clue-followed-up", OBJECTION)
    status, update = apply(status, "case-closed", {"reporter_summary": "复查后维持原结论。"})
    assert status == "closed"
    assert "复查后维持原结论。" in update.zh


def test_an_unknown_status_is_an_error():
    with pytest.raises(ValueError):
        apply("lost", "case-assigned", ASSIGNED)
