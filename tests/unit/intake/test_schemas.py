import copy
import datetime as dt

import pytest
from marshmallow import ValidationError

from services.intake.api_schemas import ClueAccepted, LookupAnswer
from services.intake.schemas import (
    ClueSchema,
    FollowUpSchema,
    ImportBatchQuery,
    LookupSchema,
    today_in_china,
)
from shared.problems import flatten
from shared.vocabulary import CATEGORIES, CHANNELS, RANKS, SOURCES

API_EXAMPLE = {
    "source": "observer",
    "category": "solicitation",
    "summary": "Inspector takes cigarettes and red envelopes from shops on Zhongxin Road",
    "details": "free text, up to 20,000 characters",
    "jurisdiction": "foshan/chancheng/shiwan",
    "subject": {
        "name": "许某",
        "position": "城管执法队员",
        "employer": "foshan/chancheng/urban-management",
        "rank": "staff",
        "party_member": True,
    },
    "amount_cny": 4645,
    "occurred_on": "2019-12-01",
    "collusion": False,
    "reporter": {
        "anonymous": False,
        "name": "王某",
        "phone": "+8613800000000",
        "email": "wang@example.org",
        "channel": "email",
    },
}

MINIMAL = {
    "source": "review",
    "category": "other",
    "summary": "s",
    "jurisdiction": "foshan",
    "subject": {"name": "李某", "rank": "village"},
    "reporter": {"anonymous": True},
}


def errors_for(payload, schema=None):
    with pytest.raises(ValidationError) as caught:
        (schema or ClueSchema()).load(payload)
    return flatten(caught.value.messages)


def changed(base, path, value):
    """A deep copy of `base` with the dotted `path` set to `value` (or removed if DELETE)."""
    payload = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return payload


DELETE = object()
TOMORROW = (today_in_china() + dt.timedelta(days=1)).isoformat()


def test_the_api_example_loads():
    clue = ClueSchema().load(API_EXAMPLE)
    assert clue["occurred_on"] == dt.date(2019, 12, 1)
    assert clue["subject"]["rank"] == "staff"
    assert clue["amount_cny"] == 4645
    assert clue["reporter"] == API_EXAMPLE["reporter"]


def test_a_minimal_clue_loads_with_defaults():
    clue = ClueSchema().load(MINIMAL)
    assert clue["collusion"] is False
    assert clue["amount_cny"] is None
    assert clue["occurred_on"] is None
    assert clue["details"] == ""
    assert clue["subject"] == {
        "name": "李某",
        "rank": "village",
        "position": None,
        "employer": None,
        "party_member": None,
    }
    assert clue["reporter"] == {"anonymous": True}


def test_today_is_not_the_future():
    payload = changed(MINIMAL, "occurred_on", today_in_china().isoformat())
    assert ClueSchema().load(payload)["occurred_on"] == today_in_china()


@pytest.mark.parametrize("source", SOURCES)
def test_every_source_loads(source):
    assert ClueSchema().load(changed(MINIMAL, "source", source))["source"] == source


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_loads(category):
    assert ClueSchema().load(changed(MINIMAL, "category", category))["category"] == category


@pytest.mark.parametrize("employer", [
    "foshan/chancheng/urban-management",
    "foshan/chancheng/shiwan#commission",  # a discipline body: the conflict rule
    "foshan/nanhai/urban-management#embedded",
])
def test_an_employer_may_name_a_bureau_or_a_unit_code(employer):
    loaded = ClueSchema().load(changed(MINIMAL, "subject.employer", employer))
    assert loaded["subject"]["employer"] == employer


@pytest.mark.parametrize("rank", RANKS)
def test_every_rank_loads(rank):
    assert ClueSchema().load(changed(MINIMAL, "subject.rank", rank))["subject"]["rank"] == rank


VALID_REPORTERS = [
    {"anonymous": True},
    {"anonymous": False, "name": "王某", "channel": "inbox"},
    {"anonymous": False, "name": "王某", "channel": "email", "email": "w@example.org"},
    {"anonymous": False, "name": "王某", "channel": "sms", "phone": "+8613800000000"},
    {
        "anonymous": False,
        "name": "王某",
        "channel": "webhook",
        "webhook_url": "https://hooks.example.org/clues",
    },
    {
        "anonymous": False,
        "name": "王某",
        "channel": "webhook",
        "webhook_url": "http://localhost:9000/hook",
        "lang": "en",
    },
]


@pytest.mark.parametrize("reporter", VALID_REPORTERS)
def test_valid_reporters_load_as_sent(reporter):
    assert ClueSchema().load(changed(MINIMAL, "reporter", reporter))["reporter"] == reporter


NAMED = {"anonymous": False, "name": "王某", "channel": "inbox"}

# (field path to change, bad value, error path)
BAD_VALUES = [
    ("bogus", 1, "bogus"),
    ("subject.bogus", 1, "subject.bogus"),
    ("reporter.bogus", 1, "reporter.bogus"),
    ("source", "rumour", "source"),
    ("source", DELETE, "source"),
    ("source", None, "source"),
    ("category", "theft", "category"),
    ("category", DELETE, "category"),
    ("summary", "", "summary"),
    ("summary", "   ", "summary"),
    ("summary", "x" * 501, "summary"),
    ("summary", 12, "summary"),
    ("summary", DELETE, "summary"),
    ("details", "x" * 20_001, "details"),
    ("jurisdiction", "", "jurisdiction"),
    ("jurisdiction", "Foshan/Chancheng", "jurisdiction"),
    ("jurisdiction", "foshan//shiwan", "jurisdiction"),
    ("jurisdiction", "foshan/", "jurisdiction"),
    ("jurisdiction", "/foshan", "jurisdiction"),
    ("jurisdiction", "foshan/chan cheng", "jurisdiction"),
    ("jurisdiction", "a/" * 100 + "a", "jurisdiction"),
    ("jurisdiction", DELETE, "jurisdiction"),
    ("subject", DELETE, "subject"),
    ("subject", "许某", "subject"),
    ("subject.name", "", "subject.name"),
    ("subject.name", "x" * 101, "subject.name"),
    ("subject.name", DELETE, "subject.name"),
    ("subject.position", "x" * 101, "subject.position"),
    ("subject.employer", "Urban Management", "subject.employer"),
    ("subject.employer", "foshan/chancheng#", "subject.employer"),
    ("subject.employer", "foshan/chancheng#leaders", "subject.employer"),
    ("subject.employer", "foshan#commission#commission", "subject.employer"),
    ("subject.rank", "mayor", "subject.rank"),
    ("subject.rank", DELETE, "subject.rank"),
    ("subject.party_member", "yes", "subject.party_member"),
    ("subject.party_member", 1, "subject.party_member"),
    ("amount_cny", -1, "amount_cny"),
    ("amount_cny", 10**12 + 1, "amount_cny"),
    ("amount_cny", "4645", "amount_cny"),
    ("amount_cny", 46.45, "amount_cny"),
    ("amount_cny", True, "amount_cny"),
    ("occurred_on", "2019-13-01", "occurred_on"),
    ("occurred_on", "yesterday", "occurred_on"),
    ("occurred_on", TOMORROW, "occurred_on"),
    ("collusion", "false", "collusion"),
    ("collusion", 0, "collusion"),
    ("reporter", DELETE, "reporter"),
    ("reporter", "anonymous", "reporter"),
    ("reporter", {}, "reporter.anonymous"),
    ("reporter", {"anonymous": "no"}, "reporter.anonymous"),
    ("reporter", {"anonymous": True, "name": "王某"}, "reporter.name"),
    ("reporter", {"anonymous": True, "channel": "sms"}, "reporter.channel"),
    ("reporter", {**NAMED, "name": ""}, "reporter.name"),
    ("reporter", {**NAMED, "name": "x" * 101}, "reporter.name"),
    ("reporter", {k: v for k, v in NAMED.items() if k != "name"}, "reporter.name"),
    ("reporter", {**NAMED, "channel": "fax"}, "reporter.channel"),
    ("reporter", {"anonymous": False, "name": "王某"}, "reporter.channel"),
    ("reporter", {**NAMED, "phone": "13800000000"}, "reporter.phone"),
    ("reporter", {**NAMED, "phone": "+12345"}, "reporter.phone"),
    ("reporter", {**NAMED, "phone": "+1" + "2" * 20}, "reporter.phone"),
    ("reporter", {**NAMED, "email": "not-an-address"}, "reporter.email"),
    ("reporter", {**NAMED, "webhook_url": "ftp://example.org/x"}, "reporter.webhook_url"),
    ("reporter", {**NAMED, "lang": "fr"}, "reporter.lang"),
    ("reporter", {**NAMED, "channel": "email"}, "reporter.email"),
    ("reporter", {**NAMED, "channel": "sms"}, "reporter.phone"),
    ("reporter", {**NAMED, "channel": "webhook"}, "reporter.webhook_url"),
    ("reporter", {**NAMED, "channel": "sms", "email": "w@example.org"}, "reporter.phone"),
]


@pytest.mark.parametrize(
    ("path", "value", "error_path"), BAD_VALUES, ids=[f"{p}={v!r:.30}" for p, v, _ in BAD_VALUES]
)
def test_a_bad_value_is_reported_at_its_path(path, value, error_path):
    errors = errors_for(changed(API_EXAMPLE, path, value))
    assert list(errors) == [error_path]
    assert all(isinstance(message, str) and message for message in errors[error_path])


def test_anonymous_with_contact_says_why():
    errors = errors_for(changed(MINIMAL, "reporter", {"anonymous": True, "phone": "+8613800000000"}))
    assert errors == {"reporter.phone": ["Not allowed for an anonymous reporter."]}


def test_channel_without_its_contact_names_the_channel():
    errors = errors_for(changed(MINIMAL, "reporter", {**NAMED, "channel": "email"}))
    assert errors == {"reporter.email": ["Required for channel email."]}


def test_several_errors_are_all_reported():
    payload = changed(changed(API_EXAMPLE, "subject.rank", "mayor"), "amount_cny", -5)
    payload["extra"] = 1
    assert set(errors_for(payload)) == {"subject.rank", "amount_cny", "extra"}


def test_error_messages_never_repeat_reporter_contact():
    reporter = {
        "anonymous": False,
        "name": "王秘密" * 40,
        "phone": "+86-secret-phone",
        "email": "secret@@example",
        "channel": "fax",
        "webhook_url": "gopher://secret",
    }
    errors = errors_for(changed(API_EXAMPLE, "reporter", reporter))
    text = repr(errors)
    assert "reporter.name" in errors
    for value in ("王秘密", "secret", "fax"):
        assert value not in text


def test_text_is_stripped():
    clue = ClueSchema().load(changed(MINIMAL, "summary", "  shops pay  "))
    assert clue["summary"] == "shops pay"


def test_a_non_object_body_is_a_schema_error():
    assert errors_for(["not", "an", "object"]) == {"_schema": ["Invalid input type."]}


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_is_known(channel):
    reporter = {**VALID_REPORTERS[2], **VALID_REPORTERS[3], **VALID_REPORTERS[4], "channel": channel}
    assert ClueSchema().load(changed(MINIMAL, "reporter", reporter))["reporter"]["channel"] == channel


LOOKUP = {"code": "4F7K-9QXM-2H8D-T6WB", "secret": "abc"}

BAD_LOOKUPS = [
    (LookupSchema, {"code": "4F7K"}, "secret"),
    (LookupSchema, {"secret": "abc"}, "code"),
    (LookupSchema, {**LOOKUP, "code": ""}, "code"),
    (LookupSchema, {**LOOKUP, "secret": "x" * 201}, "secret"),
    (LookupSchema, {**LOOKUP, "message": "hi"}, "message"),
    (FollowUpSchema, LOOKUP, "message"),
    (FollowUpSchema, {**LOOKUP, "message": ""}, "message"),
    (FollowUpSchema, {**LOOKUP, "message": "x" * 5_001}, "message"),
    (FollowUpSchema, {**LOOKUP, "message": "m", "objection": "yes"}, "objection"),
    (FollowUpSchema, {**LOOKUP, "message": "m", "extra": 1}, "extra"),
]


@pytest.mark.parametrize(("schema", "payload", "error_path"), BAD_LOOKUPS)
def test_bad_receipt_bodies(schema, payload, error_path):
    assert list(errors_for(payload, schema())) == [error_path]


def test_follow_up_defaults_to_no_objection():
    loaded = FollowUpSchema().load({**LOOKUP, "message": "more: he also took a phone"})
    assert loaded == {**LOOKUP, "message": "more: he also took a phone", "objection": False}
    assert LookupSchema().load(LOOKUP) == LOOKUP


def test_response_schemas_dump_the_api_shapes():
    """Times pass through as the routes render them; what no field names is not served."""
    at = "2024-05-01T01:30:00+00:00"
    receipt = {"code": "4F7K-9QXM-2H8D-T6WB", "secret": "s"}
    answer = {"clue_id": "01J", "status": "received", "received_at": at, "receipt": receipt}
    assert ClueAccepted().dump({**answer, "reporter": {"name": "王某"}}) == answer
    update = {"at": at, "kind": "received", "message": "已收到", "message_zh": "已收到",
              "message_en": "Received"}
    assert LookupAnswer().dump({"status": "accepted", "updates": [update]}) == {
        "status": "accepted", "updates": [update]}


def test_an_import_names_a_review_batch_with_both_or_neither():
    assert ImportBatchQuery().load({}) == {}
    loaded = ImportBatchQuery().load({"batch": " b1 ", "deadline": "2030-01-01T00:00:00+08:00"})
    assert loaded["batch"] == "b1" and loaded["deadline"].utcoffset() == dt.timedelta(hours=8)
    with pytest.raises(ValidationError) as half:
        ImportBatchQuery().load({"batch": "b1"})
    assert half.value.messages == {"deadline": ["Missing data for required field."]}
    with pytest.raises(ValidationError) as unknown:
        ImportBatchQuery().load({"colour": "red"})
    assert set(unknown.value.messages) == {"batch", "deadline", "colour"}

