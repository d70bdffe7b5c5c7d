"""Supervision cards' rules (cards.py) and the clue schema's card subject and parties."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from services.intake import cards
from services.intake.schemas import ClueSchema
from shared.problems import flatten

CODES = [
    ("K7QM-2H8D", "K7QM-2H8D"),
    ("k7qm2h8d", "K7QM-2H8D"),
    (" k7qm 2h8d ", "K7QM-2H8D"),
    ("O1IL-0000", "0111-0000"),  # O, I and L are read as 0 and 1
    ("K7QM-2H8", None),  # too short
    ("K7QM-2H8DX", None),  # too long
    ("K7QM-2H8U", None),  # U is not Crockford base32
    ("", None),
    ("x" * 100, None),
]


@pytest.mark.parametrize("typed, expected", CODES)
def test_normalise_code(typed, expected):
    assert cards.normalise_code(typed) == expected


def test_new_codes_are_canonical_and_differ():
    codes = {cards.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(cards.normalise_code(c) == c for c in codes)


NUMBERS = [
    (0, 1, range(1, 2)),
    (0, 1000, range(1, 1001)),
    (1000, 15, range(1001, 1016)),
    (0, cards.MAX_BATCH, range(1, cards.MAX_BATCH + 1)),
]


@pytest.mark.parametrize("before, count, expected", NUMBERS)
def test_numbers_run_on_per_bureau_and_place(before, count, expected):
    assert cards.numbers(before, count) == expected


@pytest.mark.parametrize("count", [0, -1, cards.MAX_BATCH + 1])
def test_a_batch_holds_one_to_max_cards(count):
    with pytest.raises(ValueError):
        cards.numbers(0, count)


KEY = b"k" * 32
TOKENS = [
    ("the token of the batch, in time", "b1", lambda: cards.sheet_token(KEY, "b1", 2000), 1999, True),
    ("at its last second", "b1", lambda: cards.sheet_token(KEY, "b1", 2000), 2000, True),
    ("expired", "b1", lambda: cards.sheet_token(KEY, "b1", 2000), 2001, False),
    ("another batch's token", "b2", lambda: cards.sheet_token(KEY, "b1", 2000), 1000, False),
    ("another key's token", "b1", lambda: cards.sheet_token(b"x" * 32, "b1", 2000), 1000, False),
    (
        "a later expiry written in",
        "b1",
        lambda: "9999." + cards.sheet_token(KEY, "b1", 2000)[5:],
        1000,
        False,
    ),
    ("garbage", "b1", lambda: "abc", 1000, False),
    ("empty", "b1", lambda: "", 1000, False),
]


@pytest.mark.parametrize("label, batch, token, now, valid", TOKENS, ids=[t[0] for t in TOKENS])
def test_sheet_token(label, batch, token, now, valid):
    assert cards.sheet_token_valid(KEY, batch, token(), now) is valid


@pytest.mark.parametrize(
    "bureau, place, expected",
    [
        ("foshan/nanhai/urban-management", "shop", "NANHAI-UM-SP"),
        ("foshan/gaoming/market-supervision", "service_window", "GAOMING-MS-SW"),
        ("foshan/urban-management", "muck_truck_fleet", "FOSHAN-UM-MT"),
        ("traffic", "building_site", "T-BS"),
    ],
)
def test_default_prefix(bureau, place, expected):
    assert cards.default_prefix(bureau, place) == expected
    assert cards.serial(expected, 15) == f"{expected}-0015"


def test_card_url():
    assert (
        cards.card_url("https://jubao.example.org/", "K7QM-2H8D")
        == "https://jubao.example.org/card/K7QM-2H8D"
    )


BUREAU, PLACE = "foshan/nanhai/urban-management", "foshan/nanhai"
FEEDBACK = [
    (
        "nothing but a summary",
        {"summary": "拖延", "reporter": {"anonymous": True}},
        {"category": "other", "subject": {"employer": BUREAU}},
    ),
    (
        "a person named",
        {
            "summary": "x",
            "subject": {"name": "许某"},
            "reporter": {"anonymous": True},
            "category": "solicitation",
        },
        {"category": "solicitation", "subject": {"name": "许某", "employer": BUREAU}},
    ),
]


@pytest.mark.parametrize("label, feedback, expected", FEEDBACK, ids=[f[0] for f in FEEDBACK])
def test_feedback_clue_takes_the_card_s_bureau_and_place(label, feedback, expected):
    body = cards.feedback_clue(feedback, BUREAU, PLACE)
    assert body["source"] == "supervision_card" and body["jurisdiction"] == PLACE
    assert {k: body[k] for k in expected} == expected
    ClueSchema().load(body)  # a valid clue


@pytest.mark.parametrize(
    "feedback, named",
    [
        ({"source": "public_report"}, "source"),
        ({"jurisdiction": "foshan"}, "jurisdiction"),
        ({"subject": {"employer": "foshan/x"}}, "subject.employer"),
    ],
)
def test_feedback_may_not_say_what_the_card_says(feedback, named):
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        cards.feedback_clue({"summary": "x", **feedback}, BUREAU, PLACE)


FUNNELS = [
    (
        "nothing came back",
        1000,
        [],
        {"issued": 1000, "opinions": 0, "led_to_case": 0, "closed": 0, "outcomes": {}},
    ),
    (
        "received, not yet a case",
        10,
        [("received", None)],
        {"issued": 10, "opinions": 1, "led_to_case": 0, "closed": 0, "outcomes": {}},
    ),
    (
        "the seed: 15 opinions, 2 reminder talks",
        1000,
        [("closed", ["reminder_talk"])] * 2 + [("closed", ["unfounded"])] * 3 + [("accepted", None)] * 10,
        {
            "issued": 1000,
            "opinions": 15,
            "led_to_case": 15,
            "closed": 5,
            "outcomes": {"reminder_talk": 2, "unfounded": 3},
        },
    ),
    (
        "moved up counts as a case",
        5,
        [("transferred", None)],
        {"issued": 5, "opinions": 1, "led_to_case": 1, "closed": 0, "outcomes": {}},
    ),
    (
        "an outcome counts a clue once",
        5,
        [("closed", ["restitution", "restitution", "reassigned"])],
        {
            "issued": 5,
            "opinions": 1,
            "led_to_case": 1,
            "closed": 1,
            "outcomes": {"reassigned": 1, "restitution": 1},
        },
    ),
]


@pytest.mark.parametrize("label, issued, clues, expected", FUNNELS, ids=[f[0] for f in FUNNELS])
def test_funnel(label, issued, clues, expected):
    assert cards.funnel(issued, clues).as_dict() == expected


def test_funnels_add_up_per_bureau():
    a = cards.funnel(1000, [("closed", ["reminder_talk"])])
    b = cards.funnel(500, [("accepted", None), ("received", None)])
    c = cards.funnel(10, [])
    total = cards.by_bureau([("um", a), ("um", b), ("ms", c)])
    assert total["um"].as_dict() == {
        "issued": 1500,
        "opinions": 3,
        "led_to_case": 2,
        "closed": 1,
        "outcomes": {"reminder_talk": 1},
    }
    assert total["ms"].issued == 10


BASE = {"category": "other", "summary": "x", "jurisdiction": "foshan/nanhai", "reporter": {"anonymous": True}}
SUBJECTS = [
    ("a card opinion may name no one", "supervision_card", {"employer": BUREAU}, None),
    ("a card opinion naming no one needs the bureau", "supervision_card", {}, "subject.employer"),
    ("a card opinion naming someone needs no bureau", "supervision_card", {"name": "许某"}, None),
    (
        "a card opinion's rank must still be a rank",
        "supervision_card",
        {"employer": BUREAU, "rank": "mayor"},
        "subject.rank",
    ),
    (
        "any other source must name the subject",
        "public_report",
        {"employer": BUREAU, "rank": "staff"},
        "subject.name",
    ),
    ("and give the rank", "observer", {"name": "许某"}, "subject.rank"),
]


@pytest.mark.parametrize("label, source, subject, error", SUBJECTS, ids=[s[0] for s in SUBJECTS])
def test_subject_by_source(label, source, subject, error):
    body = {**BASE, "source": source, "subject": subject}
    if error is None:
        loaded = ClueSchema().load(body)
        assert loaded["subject"]["rank"] in ("staff", "village", "section", "division", "bureau")
    else:
        with pytest.raises(ValidationError) as caught:
            ClueSchema().load(body)
        assert error in flatten(caught.value.messages)


PARTIES = [
    ("none", None, []),
    (
        "a firm and a relative",
        [{"kind": "firm", "name": " 甲公司 "}, {"kind": "relative", "name": "妻子"}],
        [{"kind": "firm", "name": "甲公司"}, {"kind": "relative", "name": "妻子"}],
    ),
    ("an unknown kind", [{"kind": "bank", "name": "x"}], "parties.0.kind"),
    ("a blank name", [{"kind": "firm", "name": "  "}], "parties.0.name"),
    ("an unknown field", [{"kind": "firm", "name": "x", "phone": "1"}], "parties.0.phone"),
    ("too many", [{"kind": "firm", "name": f"f{i}"} for i in range(51)], "parties"),
    ("not a list", {"kind": "firm"}, "parties"),
]


@pytest.mark.parametrize("label, parties, expected", PARTIES, ids=[p[0] for p in PARTIES])
def test_parties(label, parties, expected):
    body = {**BASE, "source": "inspection", "subject": {"name": "卢某", "rank": "staff"}}
    if parties is not None:
        body["parties"] = parties
    if isinstance(expected, list):
        assert ClueSchema().load(body)["parties"] == expected
    else:
        with pytest.raises(ValidationError) as caught:
            ClueSchema().load(body)
        assert expected in flatten(caught.value.messages)
