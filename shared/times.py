"""Times as the services store and show them: epoch milliseconds, and China Standard Time.

Times that change after a document is inserted are stored as integer milliseconds since the
epoch. Why: the local MongoDB stand-in (nx-27017 0.8.1) stores a datetime written by `$set` as a
string, so such a field stops comparing with datetimes; integers behave the same on MongoDB and
the stand-in. Times written only at insert (received_at, created_at) stay datetimes.

The campaign runs in China: dates people see and "today" are in China Standard Time (UTC+8,
北京时间), whatever offset a stored or received time carries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA_TIME = timezone(timedelta(hours=8), "CST")


def to_ms(value: datetime | None) -> int | None:
    """Milliseconds since the epoch of an aware datetime (None stays None)."""
    return None if value is None else int(round(value.timestamp() * 1000))


def from_ms(value: int | None) -> datetime | None:
    """The aware UTC datetime of `to_ms`' integer; None for None or 0 (a field not set: no time
    stored here is the epoch itself)."""
    return datetime.fromtimestamp(value / 1000, UTC) if value else None


def to_stored_datetime(value: datetime) -> datetime:
    """`value` cut to the millisecond, as a BSON datetime keeps it (MongoDB truncates), so what is
    built from it before the write equals what is read back after."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def to_nearest_ms(value: datetime) -> datetime:
    """`value` to the nearest millisecond, as `to_ms` rounds it, so a time kept as a datetime and
    the same time kept as `to_ms`' integer agree."""
    return value.replace(microsecond=0) + timedelta(milliseconds=(value.microsecond + 500) // 1000)


def today_in_china() -> date:
    """Today's date in China Standard Time."""
    return datetime.now(CHINA_TIME).date()
