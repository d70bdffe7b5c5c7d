"""The refusals of recommendation_store that need a recommendation stored (a future answer date,
a second answer, one out of sight), on the real database: each is answered, byte for byte, as the
old Problem was (the rows that need no database: tests/unit/assignment/test_problems.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.assignment import recommendation_store
from services.assignment.registry_file import load_registry
from shared.auth import Principal
from shared.problems import Problem
from tests.unit.assignment.test_problems import CHANCHENG, T0, answer_to, issue, old_answer, refusal_of

pytestmark = pytest.mark.stack

FOSHAN = Path(__file__).resolve().parents[3] / "deploy" / "registry" / "foshan.yaml"


def test_the_recommendation_refusals_that_need_a_stored_one(mongo_db):
    foshan = load_registry(FOSHAN)
    rec = issue(date(2026, 4, 1))(foshan)
    future = refusal_of(lambda: recommendation_store.record_answer(
        rec.id, "done", date(2026, 3, 9), CHANCHENG, foshan, T0))
    assert answer_to(future) == old_answer(Problem(
        422, "Unprocessable Content", "invalid date", errors={"answered_on": ["Must not be in the future."]}))
    recommendation_store.record_answer(rec.id, "done", date(2026, 3, 1), CHANCHENG, foshan, T0)
    again = refusal_of(lambda: recommendation_store.record_answer(
        rec.id, "again", date(2026, 3, 1), CHANCHENG, foshan, T0))
    assert answer_to(again) == old_answer(Problem(409, "Conflict", "the bureau's answer is recorded already"))
    for rec_id, who in (("nope", CHANCHENG), (rec.id, Principal("supervisor", "foshan/nanhai", "k"))):
        hidden = refusal_of(lambda rec_id=rec_id, who=who: recommendation_store.find(rec_id, who, foshan))
        assert answer_to(hidden) == old_answer(Problem(404, "Not Found", "no such recommendation"))
