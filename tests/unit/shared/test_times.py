"""shared/times.py: epoch milliseconds and China Standard Time, one row per rule and boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.times import CHINA_TIME, from_ms, to_ms, to_nearest_ms, to_stored_datetime

T = datetime(2026, 3, 2, 8, 30, 15, 123000, tzinfo=UTC)
T_MS = 1772440215123


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    (T, T_MS),
    (T.replace(microsecond=123499), T_MS),       # below half a millisecond: down
    (T.replace(microsecond=123500), T_MS + 1),   # half and above: up
    (T.astimezone(timezone(timedelta(hours=8))), T_MS),  # the offset does not matter
    (datetime(1970, 1, 1, tzinfo=UTC), 0),
])
def test_to_ms(value, expected):
    assert to_ms(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    (0, None),  # a field not set
    (T_MS, T),
])
def test_from_ms(value, expected):
    assert from_ms(value) == expected


def test_from_ms_is_utc_and_undoes_to_ms():
    assert from_ms(to_ms(T)).tzinfo == UTC and from_ms(to_ms(T)) == T


@pytest.mark.parametrize(("utc", "china_date"), [
    (datetime(2026, 3, 1, 15, 59, 59, tzinfo=UTC), "2026-03-01"),
    (datetime(2026, 3, 1, 16, 0, 0, tzinfo=UTC), "2026-03-02"),  # midnight in Beijing
])
def test_china_time_is_utc_plus_8(utc, china_date):
    assert utc.astimezone(CHINA_TIME).date().isoformat() == china_date


@pytest.mark.parametrize(("micros", "stored", "nearest"), [
    (123000, 123000, 123000),
    (123499, 123000, 123000),
    (123500, 123000, 124000),  # the stored datetime cuts, the nearest rounds up
    (999999, 999000, 0),       # rounding carries into the next second
])
def test_the_two_millisecond_precisions(micros, stored, nearest):
    value = T.replace(microsecond=micros)
    assert to_stored_datetime(value) == T.replace(microsecond=stored)
    carried = T + timedelta(seconds=1) if nearest == 0 and micros > 500000 else T
    assert to_nearest_ms(value) == carried.replace(microsecond=nearest)
    assert to_ms(to_nearest_ms(value)) == to_ms(value)  # the datetime and the integer agree
