"""Assignment's deadline settings: bad values refuse start-up with one line naming the setting."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.assignment.settings import AssignmentSettings
from shared.settings import Env, SettingsError

BASE = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "MONGODB_URI": "mongodb://127.0.0.1:27017"}

BAD = [
    ("unknown category", {"ASSIGNMENT_CATEGORY_DAYS": "bribe=30"}, "ASSIGNMENT_CATEGORY_DAYS"),
    ("longer than close days", {"ASSIGNMENT_CATEGORY_DAYS": "bribery=120"}, "ASSIGNMENT_CATEGORY_DAYS"),
    ("not category=days", {"ASSIGNMENT_CATEGORY_DAYS": "bribery"}, "ASSIGNMENT_CATEGORY_DAYS"),
    ("campaign deadline without a time zone", {"ASSIGNMENT_CAMPAIGN_DEADLINE": "2027-03-31T23:59:59"},
     "ASSIGNMENT_CAMPAIGN_DEADLINE"),
    ("campaign date without a time zone", {"ASSIGNMENT_CAMPAIGN_DEADLINE": "2027-03-31"},
     "ASSIGNMENT_CAMPAIGN_DEADLINE"),
    ("campaign deadline not a date", {"ASSIGNMENT_CAMPAIGN_DEADLINE": "soon"},
     "ASSIGNMENT_CAMPAIGN_DEADLINE"),
]


@pytest.mark.parametrize("label,env,setting", BAD, ids=[b[0] for b in BAD])
def test_bad_deadline_settings_name_the_setting(label, env, setting):
    with pytest.raises(SettingsError) as info:
        AssignmentSettings.from_env(Env({**BASE, **env}))
    message = str(info.value)
    assert message.startswith(setting + ":") and "\n" not in message


def test_good_deadline_settings():
    settings = AssignmentSettings.from_env(Env({
        **BASE, "ASSIGNMENT_CATEGORY_DAYS": "bribery=60,extortion=30",
        "ASSIGNMENT_CAMPAIGN_DEADLINE": "2027-03-31T23:59:59+08:00", "STILL_HANDLING_DAYS": "20",
        "CALENDAR_HOLIDAYS": "2027-01-01"}))
    rules = settings.deadlines
    assert dict(rules.category_days) == {"bribery": 60, "extortion": 30}
    assert rules.campaign_deadline == datetime(2027, 3, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=8)))
    assert rules.campaign_deadline.astimezone(UTC).hour == 15
    assert rules.still_handling_days == 20
    assert rules.calendar is settings.common.calendar
