"""`MemoryDutyStore`: the duty store of duty_store.py kept in a dict, for the use cases' unit tests
(same contract: tests/integration/assignment/test_duty_store.py runs it on both).

It keeps each duty as the database does (times in epoch milliseconds, `created_at` to the
millisecond) and hands it out as the database store does, so times come out rounded alike.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.times import to_ms, to_stored_datetime

from .duty_store import from_stored, state_filters, stored
from .memory_store import matches


class MemoryDutyStore:
    """The duties in a dict by id: same contract as MongoDutyStore, for unit tests."""

    def __init__(self) -> None:
        self.duties: dict[str, dict[str, Any]] = {}

    def add_many(self, items: Iterable[Mapping[str, Any]]) -> int:
        new = 0
        for item in items:
            if item["_id"] in self.duties:
                continue
            kept = stored(copy.deepcopy(dict(item)))
            kept["created_at"] = to_stored_datetime(kept["created_at"].astimezone(UTC))
            self.duties[item["_id"]] = kept
            new += 1
        return new

    def follow_case(self, case_id: str, unit: str) -> None:
        for duty in self.duties.values():
            if duty["case_id"] == case_id:
                duty["unit"] = unit

    def meet(self, duty_id: str, at: datetime, state: str, channel: str | None) -> bool:
        duty = self.duties.get(duty_id)
        if duty is None or duty.get("met_at") is not None:
            return False
        duty.update({"met_at": to_ms(at), "state": state, **({"channel": channel} if channel else {})})
        return True

    def fail(self, duty_id: str, at: datetime, reason: str, channel: str | None) -> None:
        duty = self.duties.get(duty_id)
        if duty is not None and duty.get("met_at") is None:
            duty.update({"failed_at": to_ms(at), "failure": reason, "channel": channel})

    def open_duties(self, clue_id: str, kinds: Iterable[str]) -> list[dict[str, Any]]:
        wanted = set(kinds)
        found = [self._out(d) for d in self.duties.values()
                 if d["clue_id"] == clue_id and d.get("met_at") is None and d["kind"] in wanted]
        return sorted(found, key=lambda d: d["start_at"])

    def sweep_missed(self, now: datetime, batch: int) -> list[dict[str, Any]]:
        now_ms = to_ms(now)
        found = [d for d in self.duties.values() if d["state"] == "due" and d["due_at"] < now_ms][:batch]
        for duty in found:
            duty["state"] = "missed"
        return [self._out({**d, "state": "due"}) for d in found]  # as found, like the database's

    def newest(
        self, units: list[str] | None, state: str | None, now: datetime, before: str | None, limit: int
    ) -> list[dict[str, Any]]:
        found = [d for d in self._within(units, state, now) if not before or d["_id"] < before]
        return [self._out(d) for d in sorted(found, key=lambda d: d["_id"], reverse=True)[:limit]]

    def count(self, units: list[str] | None, state: str, now: datetime) -> int:
        return len(self._within(units, state, now))

    def case_duties(self, case_id: str) -> list[dict[str, Any]]:
        found = [d for d in self.duties.values() if d["case_id"] == case_id]
        return [self._out(d) for d in sorted(found, key=lambda d: d["due_at"])]

    def _within(self, units: list[str] | None, state: str | None, now: datetime) -> list[dict[str, Any]]:
        filters = state_filters(state, now)
        return [d for d in self.duties.values()
                if (units is None or d["unit"] in units) and any(matches(d, f) for f in filters)]

    @staticmethod
    def _out(duty: Mapping[str, Any]) -> dict[str, Any]:
        return from_stored(copy.deepcopy(dict(duty)))
