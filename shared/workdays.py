"""China's working-day calendar (工作日), the one every deadline in the system goes through.

Working days follow the State Council's yearly notice: public holidays are off and the make-up
working weekends (调休) are on, as the `chinese-calendar` package lists them, in China Standard
Time (`shared.times.CHINA_TIME`, the one zone of the services). A year the package does not know
falls back to Monday to Friday, minus the holidays a setting lists (`CALENDAR_HOLIDAYS`);
`unknown_years` names such years, so each service can warn once at start-up.
Plain Python: no web, database or broker imports.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import chinese_calendar

from shared.times import CHINA_TIME

log = logging.getLogger(__name__)


@functools.cache
def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def parse_holidays(raw: str | None) -> frozenset[date]:
    """`2027-01-01,2027-02-10` as dates; ValueError naming the bad item."""
    out: set[date] = set()
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        try:
            out.add(date.fromisoformat(item.strip()))
        except ValueError:
            raise ValueError(f"{item.strip()!r} is not an ISO date (YYYY-MM-DD)") from None
    return frozenset(out)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days in China Standard Time; `fallback_holidays` count only in years the package lacks."""

    fallback_holidays: frozenset[date] = frozenset()

    def knows(self, year: int) -> bool:
        """True when the package has the official calendar of `year`."""
        return _package_knows(year)

    def is_working_day(self, day: date) -> bool:
        if self.knows(day.year):
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5 and day not in self.fallback_holidays

    def local(self, moment: datetime) -> datetime:
        _require_aware(moment, "moment")
        return moment.astimezone(CHINA_TIME)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """`start` moved forward by `n` working days, at the same local time of day, in UTC.

        Counting starts the day after `start` (in China Standard Time): Friday + 1 is the next
        working day, a holiday's + 1 the first working day after it; n = 0 returns `start`."""
        if n < 0:
            raise ValueError("n must be >= 0")
        local = self.local(start)
        day = local.date()
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        moved = datetime.combine(day, local.timetz().replace(tzinfo=None), CHINA_TIME)
        return moved.astimezone(UTC)

    def add_days(self, start: datetime, n: int) -> datetime:
        """`start` moved by `n` calendar days (negative: back) at the same time of day in China
        Standard Time, in UTC."""
        local = self.local(start)
        moved = datetime.combine(local.date() + timedelta(days=n), local.timetz().replace(tzinfo=None),
                                 CHINA_TIME)
        return moved.astimezone(UTC)

    def unknown_years(self, years: Iterable[int]) -> list[int]:
        """Those of `years` the package does not know (they fall back to Monday to Friday)."""
        return sorted(y for y in set(years) if not self.knows(y))

    def warn_unknown_years(self, now: datetime, setting: str = "CALENDAR_HOLIDAYS") -> list[int]:
        """One warning line per year, this one or the next, the package does not know; the years."""
        year = self.local(now).year
        unknown = self.unknown_years((year, year + 1))
        for missing in unknown:
            log.warning(
                f"working-day calendar: chinese-calendar does not know {missing}; that year counts "
                f"Monday to Friday minus the holidays {setting} lists "
                f"({sum(1 for d in self.fallback_holidays if d.year == missing)} listed)"
            )
        return unknown


DEFAULT = WorkCalendar()
