"""A clue whose case left its unit for a conflict of interest is never shown to supervisors below
where the case went (intake's GET /v1/clues/{id}, real database)."""

import pytest

from services.intake import case_events
from shared import events
from shared.auth import issue_key
from tests.unit.intake.clues import clue

pytestmark = pytest.mark.stack


def escalated(clue_id: str, to_unit: str, reasons: list[str]) -> events.Event:
    env = events.make_event(events.CASE_ESCALATED, {
        "case_id": "k1", "clue_id": clue_id, "from_unit": "foshan/chancheng/shiwan#commission",
        "to_unit": to_unit, "mode": "direct_investigation", "reasons": reasons,
        "escalated_at": events.now()}, source="/services/assignment")
    return events.decode(events.encode(env))


def bearer(role: str, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_key(role, scope)}"}


# (escalation reasons, where the case went, who reads, status)
ROWS = [
    (["conflict"], "foshan/chancheng#commission", ("supervisor", "foshan/chancheng/shiwan"), 404),
    (["conflict"], "foshan/chancheng#commission", ("supervisor", "foshan/chancheng"), 200),
    (["conflict"], "foshan#commission", ("supervisor", "foshan/chancheng"), 404),  # the district was passed
    (["conflict"], "foshan#commission", ("supervisor", "foshan"), 200),
    (["rank"], "foshan/chancheng#commission", ("supervisor", "foshan/chancheng/shiwan"), 200),
    (["conflict"], "foshan#commission", ("frontline", "foshan/chancheng/shiwan/contact"), 200),  # its poster
]


@pytest.mark.parametrize(("reasons", "to_unit", "who", "status"), ROWS)
def test_a_conflict_clue_is_hidden_below_where_its_case_went(client, keys, reasons, to_unit, who, status):
    clue_id = client.post("/v1/clues", json=clue(), headers=keys["shiwan"]).json["clue_id"]
    shiwan = bearer("supervisor", "foshan/chancheng/shiwan")
    assert client.get(f"/v1/clues/{clue_id}", headers=shiwan).status_code == 200
    case_events.apply_case_event(escalated(clue_id, to_unit, reasons))
    case_events.apply_case_event(escalated(clue_id, to_unit, reasons))  # a redelivery changes nothing
    assert client.get(f"/v1/clues/{clue_id}", headers=bearer(*who)).status_code == status


def test_the_batch_path_notes_the_conflict_too(client, keys):
    from services.intake.documents import Clue

    clue_id = client.post("/v1/clues", json=clue(), headers=keys["shiwan"]).json["clue_id"]
    case_events.note_conflicts([escalated(clue_id, "foshan/chancheng#commission", ["conflict", "rank"])])
    assert Clue.objects(id=clue_id).first().conflict_moved_to == "foshan/chancheng"
    assert case_events.unit_jurisdiction("foshan/nanhai/urban-management#embedded") == "foshan/nanhai"
