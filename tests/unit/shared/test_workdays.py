"""China's working-day calendar: one row per boundary (holidays off, make-up weekends on)."""

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.settings import CommonSettings, Env, SettingsError
from shared.workdays import WorkCalendar, parse_holidays

CN = timedelta(hours=8)


def cn(y: int, m: int, d: int, hour: int = 10) -> datetime:
    """10:00 in Shanghai, as UTC."""
    return datetime(y, m, d, hour, tzinfo=UTC) - CN


CAL = WorkCalendar(frozenset({date(2027, 1, 1), date(2027, 2, 8)}))

WORKING_DAY = [
    ("清明 2024: Thursday 4 April off", date(2024, 4, 4), False),
    ("清明 2024: Saturday 6 April off", date(2024, 4, 6), False),
    ("清明 2024: Sunday 7 April is a make-up working day", date(2024, 4, 7), True),
    ("国庆 2025: Sunday 28 September is a make-up working day", date(2025, 9, 28), True),
    ("国庆 2025: Wednesday 1 October off", date(2025, 10, 1), False),
    ("国庆 2025: Wednesday 8 October off", date(2025, 10, 8), False),
    ("国庆 2025: Saturday 11 October is the make-up working Saturday", date(2025, 10, 11), True),
    ("plain Monday", date(2025, 10, 13), True),
    ("plain Sunday", date(2025, 10, 12), False),
    ("unknown year 2027: Monday working", date(2027, 1, 4), True),
    ("unknown year 2027: Saturday off", date(2027, 1, 2), False),
    ("unknown year 2027: a holiday the setting lists", date(2027, 1, 1), False),
    ("unknown year 2027: a listed Monday", date(2027, 2, 8), False),
]


@pytest.mark.parametrize("label,day,expected", WORKING_DAY, ids=[w[0] for w in WORKING_DAY])
def test_is_working_day(label, day, expected):
    assert CAL.is_working_day(day) is expected


ADD = [
    ("zero", cn(2024, 4, 3), 0, cn(2024, 4, 3)),
    ("清明 2024: Wednesday + 1 skips 4-6 April, lands on make-up Sunday 7", cn(2024, 4, 3), 1,
     cn(2024, 4, 7)),
    ("清明 2024: Wednesday + 2 = Monday 8", cn(2024, 4, 3), 2, cn(2024, 4, 8)),
    ("清明 2024: 15 working days from 1 April = 23 April (Mon-Fri says 22)", cn(2024, 4, 1), 15,
     cn(2024, 4, 23)),
    ("国庆 2025: Friday 26 Sep + 1 = make-up Sunday 28", cn(2025, 9, 26), 1, cn(2025, 9, 28)),
    ("国庆 2025: Tuesday 30 Sep + 1 = Thursday 9 Oct", cn(2025, 9, 30), 1, cn(2025, 10, 9)),
    ("国庆 2025: Thursday 9 Oct + 2 = make-up Saturday 11", cn(2025, 10, 9), 2, cn(2025, 10, 11)),
    ("国庆 2025: 5 working days from Tuesday 30 Sep = Tuesday 14 Oct", cn(2025, 9, 30), 5, cn(2025, 10, 14)),
    ("unknown year: Thursday 31 Dec 2026 + 1 skips the listed 1 Jan", cn(2026, 12, 31), 1, cn(2027, 1, 4)),
    ("unknown year: Friday 5 Feb 2027 + 1 skips the listed Monday", cn(2027, 2, 5), 1, cn(2027, 2, 9)),
    ("Shanghai day, not UTC: Friday 20:00 UTC is Saturday in Foshan",
     datetime(2025, 10, 17, 20, tzinfo=UTC), 1, datetime(2025, 10, 19, 20, tzinfo=UTC)),
]


@pytest.mark.parametrize("label,start,n,expected", ADD, ids=[a[0] for a in ADD])
def test_add_working_days(label, start, n, expected):
    result = CAL.add_working_days(start, n)
    assert result == expected
    assert result.tzinfo is UTC


def test_add_days_counts_calendar_days_in_shanghai():
    assert CAL.add_days(cn(2024, 4, 1), 90) == cn(2024, 6, 30)
    assert CAL.add_days(cn(2024, 4, 1), -1) == cn(2024, 3, 31)


def test_naive_times_and_negative_counts_are_refused():
    with pytest.raises(ValueError):
        CAL.add_working_days(datetime(2024, 4, 1), 1)
    with pytest.raises(ValueError):
        CAL.add_working_days(cn(2024, 4, 1), -1)


def test_unknown_years_and_one_warning_line_each(caplog):
    assert CAL.knows(2025) and not CAL.knows(2027)
    with caplog.at_level(logging.WARNING, logger="shared.workdays"):
        years = CAL.warn_unknown_years(cn(2026, 12, 3))
    assert years == [2027]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "2027" in lines[0] and "CALENDAR_HOLIDAYS" in lines[0]


def test_parse_holidays():
    assert parse_holidays(" 2027-01-01, 2027-02-08 ,") == {date(2027, 1, 1), date(2027, 2, 8)}
    assert parse_holidays(None) == frozenset()
    with pytest.raises(ValueError, match="2027-13-01"):
        parse_holidays("2027-13-01")


BASE = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "MONGODB_URI": "mongodb://127.0.0.1:27017"}
SETTINGS = [
    ("holidays listed", {"CALENDAR_HOLIDAYS": "2027-01-01"}, None),
    ("bad holiday", {"CALENDAR_HOLIDAYS": "2027-1-1x"}, "CALENDAR_HOLIDAYS"),
    ("still handling days", {"STILL_HANDLING_DAYS": "20"}, None),
    ("old notify-only name", {"NOTIFY_STILL_HANDLING_DAYS": "20"}, "NOTIFY_STILL_HANDLING_DAYS"),
]


@pytest.mark.parametrize("label,env,error", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_common_calendar_settings(label, env, error):
    if error:
        with pytest.raises(SettingsError) as info:
            CommonSettings.from_env(Env({**BASE, **env}))
        assert str(info.value).startswith(error + ":") and "\n" not in str(info.value)
    else:
        common = CommonSettings.from_env(Env({**BASE, **env}))
        if "CALENDAR_HOLIDAYS" in env:
            assert common.calendar.fallback_holidays == {date(2027, 1, 1)}
        else:
            assert common.still_handling_days == 20
