"""Times that change after a document is inserted are stored as integer milliseconds since the epoch.

Why: the local MongoDB stand-in (nx-27017 0.8.1) stores a datetime written by `$set` as a
string, so such a field stops comparing with datetimes; integers behave the same on MongoDB and
the stand-in. Times written only at insert (received_at, created_at) stay datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime


def to_ms(value: datetime | None) -> int | None:
    """Milliseconds since the epoch of an aware datetime (None stays None)."""
    return None if value is None else int(round(value.timestamp() * 1000))


def from_ms(value: int | None) -> datetime | None:
    """The aware UTC datetime of `to_ms`' integer (None stays None)."""
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)
