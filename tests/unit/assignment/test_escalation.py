from datetime import UTC, datetime, timedelta

import pytest

from services.assignment.escalation import (
    Escalation,
    EscalationRules,
    Subject,
    conflict_of_interest,
    count_recent,
    decide,
    normalise_name,
    reasons,
    required_level,
    supervision,
    target_unit,
)

SHIWAN = "foshan/chancheng/shiwan#commission"
CHANCHENG = "foshan/chancheng#commission"
CITY = "foshan#commission"
NANHAI_UM = "foshan/nanhai/urban-management#embedded"

AMOUNTS = [
    # unit level, amount, expected reasons
    ("town", None, []),
    ("town", 49_999, []),
    ("town", 50_000, ["amount"]),
    ("town", 499_999, ["amount"]),
    ("town", 500_000, ["amount"]),
    ("district", 49_999, []),
    ("district", 50_000, []),
    ("district", 499_999, []),
    ("district", 500_000, ["amount"]),
    ("city", 500_000, []),
    ("city", 10_000_000, []),
]


@pytest.mark.parametrize("level,amount,expected", AMOUNTS)
def test_amount_thresholds(level, amount, expected):
    assert reasons(level, "staff", amount, False, 0, False) == expected


RANK_AT_LEVEL = [
    ("town", "staff", []),
    ("town", "village", []),
    ("town", "section", ["rank"]),
    ("town", "division", ["rank"]),
    ("town", "bureau", ["rank"]),
    ("district", "staff", []),
    ("district", "village", []),
    ("district", "section", []),
    ("district", "division", ["rank"]),
    ("district", "bureau", ["rank"]),
    ("city", "staff", []),
    ("city", "village", []),
    ("city", "section", []),
    ("city", "division", []),
    ("city", "bureau", []),
    ("town", None, []),
]


@pytest.mark.parametrize("level,rank,expected", RANK_AT_LEVEL)
def test_rank_at_each_level(level, rank, expected):
    assert reasons(level, rank, 0, False, 0, False) == expected


def test_unknown_rank_is_refused():
    with pytest.raises(ValueError, match="general"):
        reasons("town", "general", 0, False, 0, False)


OTHER_REASONS = [
    ("repeat below", dict(repeat_count=2), []),
    ("repeat at threshold", dict(repeat_count=3), ["repeat"]),
    ("collusion", dict(collusion=True), ["collusion"]),
    ("conflict", dict(conflict=True), ["conflict"]),
    (
        "all, in stable order",
        dict(rank="section", amount=60_000, collusion=True, repeat_count=5, conflict=True),
        ["rank", "conflict", "amount", "repeat", "collusion"],
    ),
]


@pytest.mark.parametrize("label,kw,expected", OTHER_REASONS, ids=[o[0] for o in OTHER_REASONS])
def test_other_reasons(label, kw, expected):
    got = reasons(
        "town",
        kw.get("rank", "staff"),
        kw.get("amount", 0),
        kw.get("collusion", False),
        kw.get("repeat_count", 0),
        kw.get("conflict", False),
    )
    assert got == expected


def test_thresholds_are_configuration():
    rules = EscalationRules(district_amount_cny=1_000, city_amount_cny=2_000, repeat_count=2)
    assert reasons("town", "staff", 1_000, False, 2, False, rules) == ["amount", "repeat"]
    assert required_level("staff", 2_000, rules) == "city"


NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
REPEAT_WINDOW = [
    ("364 days ago", 364, 1),
    ("365 days ago", 365, 1),
    ("366 days ago", 366, 0),
    ("today", 0, 1),
]


@pytest.mark.parametrize(
    "label,days_ago,expected", REPEAT_WINDOW, ids=[r[0] for r in REPEAT_WINDOW]
)
def test_count_recent_window_edges(label, days_ago, expected):
    assert count_recent([NOW - timedelta(days=days_ago)], NOW, 365) == expected


def test_count_recent_counts_many():
    stamps = [NOW - timedelta(days=d) for d in (1, 100, 365, 366, 700)]
    assert count_recent(stamps, NOW, 365) == 3
    assert count_recent([NOW - timedelta(days=365, seconds=1)], NOW, 365) == 0


NAMES = [
    ("  许某 ", "许某"),
    ("Xu   Mou", "xu mou"),
    ("ＸＵ　Ｍｏｕ", "xu mou"),  # full-width letters and ideographic space
    ("STRASSE", "strasse"),
]


@pytest.mark.parametrize("raw,expected", NAMES)
def test_normalise_name(raw, expected):
    assert normalise_name(raw) == expected


CONFLICTS = [
    ("works in the handling unit", Subject("某人", SHIWAN, "staff"), SHIWAN, True),
    ("leader of the unit's jurisdiction", Subject("冯某华", "x", "section"), SHIWAN, True),
    ("leader name, odd spacing", Subject(" 冯某华  ", None, None), SHIWAN, True),
    ("leader of the district above", Subject("梁建明", None, None), SHIWAN, True),
    ("leader of another town", Subject("谢某明", None, None), SHIWAN, False),
    (
        "leader of the bureau an embedded group serves",
        Subject("崔某坤", None, None),
        NANHAI_UM,
        True,
    ),
    (
        "staff of the bureau an embedded group serves",
        Subject("许某", "foshan/nanhai/urban-management", "staff"),
        NANHAI_UM,
        False,
    ),
    (
        "ordinary subject",
        Subject("许某", "foshan/chancheng/urban-management", "staff"),
        SHIWAN,
        False,
    ),
]


@pytest.mark.parametrize("label,subject,unit,expected", CONFLICTS, ids=[c[0] for c in CONFLICTS])
def test_conflict_of_interest(foshan, label, subject, unit, expected):
    assert conflict_of_interest(subject, unit, foshan) is expected


TARGETS = [
    # unit, reasons, required level, expected
    ("nothing", SHIWAN, [], None, None),
    (
        "amount town -> district",
        SHIWAN,
        ["amount"],
        "district",
        Escalation(CHANCHENG, "direct_investigation", ("amount",)),
    ),
    (
        "staff with 600,000: town -> city",
        SHIWAN,
        ["amount"],
        "city",
        Escalation(CITY, "direct_investigation", ("amount",)),
    ),
    (
        "division rank: town -> city",
        SHIWAN,
        ["rank"],
        "city",
        Escalation(CITY, "direct_investigation", ("rank",)),
    ),
    (
        "rank without level: one up",
        SHIWAN,
        ["rank"],
        None,
        Escalation(CHANCHENG, "direct_investigation", ("rank",)),
    ),
    (
        "conflict one up",
        SHIWAN,
        ["conflict"],
        None,
        Escalation(CHANCHENG, "direct_investigation", ("conflict",)),
    ),
    (
        "collusion one up",
        SHIWAN,
        ["collusion"],
        "town",
        Escalation(CHANCHENG, "direct_investigation", ("collusion",)),
    ),
    (
        "repeat one up",
        SHIWAN,
        ["repeat"],
        None,
        Escalation(CHANCHENG, "direct_investigation", ("repeat",)),
    ),
    (
        "manual one up",
        SHIWAN,
        ["manual"],
        None,
        Escalation(CHANCHENG, "direct_investigation", ("manual",)),
    ),
    (
        "overdue one up",
        SHIWAN,
        ["overdue"],
        None,
        Escalation(CHANCHENG, "direct_investigation", ("overdue",)),
    ),
    (
        "district -> city",
        CHANCHENG,
        ["collusion"],
        None,
        Escalation(CITY, "direct_investigation", ("collusion",)),
    ),
    (
        "embedded group -> city",
        NANHAI_UM,
        ["repeat"],
        None,
        Escalation(CITY, "direct_investigation", ("repeat",)),
    ),
    (
        "reasons sorted, deduplicated",
        SHIWAN,
        ["manual", "amount", "manual"],
        "district",
        Escalation(CHANCHENG, "direct_investigation", ("amount", "manual")),
    ),
    (
        "city cannot go higher",
        CITY,
        ["conflict", "repeat"],
        None,
        Escalation(CITY, "supervised", ("conflict", "repeat")),
    ),
]


@pytest.mark.parametrize("label,unit,codes,level,expected", TARGETS, ids=[t[0] for t in TARGETS])
def test_target_unit(foshan, label, unit, codes, level, expected):
    assert target_unit(unit, codes, foshan, required_level=level) == expected


def test_unknown_reason_code_is_refused(foshan):
    with pytest.raises(ValueError, match="whim"):
        target_unit(SHIWAN, ["whim"], foshan)


SUPERVISION = [
    (SHIWAN, CHANCHENG),
    (NANHAI_UM, CITY),
    (CITY, CITY),
]


@pytest.mark.parametrize("unit,watcher", SUPERVISION)
def test_overdue_supervision_is_by_the_level_above(foshan, unit, watcher):
    assert supervision(unit, foshan) == Escalation(watcher, "supervised", ("overdue",))


DECISIONS = [
    (
        "stays: the seed's 许某",
        SHIWAN,
        Subject("许某", "foshan/chancheng/urban-management", "staff"),
        4645,
        False,
        1,
        (),
        None,
    ),
    (
        "staff, 600,000 CNY: straight to city",
        SHIWAN,
        Subject("许某", None, "staff"),
        600_000,
        False,
        1,
        (),
        Escalation(CITY, "direct_investigation", ("amount",)),
    ),
    (
        "section rank, 60,000: district",
        SHIWAN,
        Subject("某科长", None, "section"),
        60_000,
        False,
        1,
        (),
        Escalation(CHANCHENG, "direct_investigation", ("rank", "amount")),
    ),
    (
        "town leader: district",
        SHIWAN,
        Subject("冯某华", None, "staff"),
        0,
        False,
        1,
        (),
        Escalation(CHANCHENG, "direct_investigation", ("conflict",)),
    ),
    (
        "district leader reported in a town: past the district to city",
        SHIWAN,
        Subject("梁建明", None, "section"),
        0,
        False,
        1,
        (),
        Escalation(CITY, "direct_investigation", ("rank", "conflict")),
    ),
    (
        "third clue in a year",
        SHIWAN,
        Subject("许某", None, "staff"),
        0,
        False,
        3,
        (),
        Escalation(CHANCHENG, "direct_investigation", ("repeat",)),
    ),
    (
        "manual by a supervisor",
        SHIWAN,
        Subject("许某", None, "staff"),
        0,
        False,
        1,
        ("manual",),
        Escalation(CHANCHENG, "direct_investigation", ("manual",)),
    ),
    (
        "collusion at the city: supervised",
        CITY,
        Subject("许某", None, "division"),
        0,
        True,
        1,
        (),
        Escalation(CITY, "supervised", ("collusion",)),
    ),
]


@pytest.mark.parametrize(
    "label,unit,subject,amount,collusion,repeat_count,extra,expected",
    DECISIONS,
    ids=[d[0] for d in DECISIONS],
)
def test_decide(foshan, label, unit, subject, amount, collusion, repeat_count, extra, expected):
    assert (
        decide(unit, subject, amount, collusion, repeat_count, foshan, extra_reasons=extra)
        == expected
    )


def test_subject_from_clue_mapping():
    subject = Subject.from_mapping(
        {
            "name": "许某",
            "position": "城管执法队员",
            "employer": "foshan/chancheng/urban-management",
            "rank": "staff",
            "party_member": True,
        }
    )
    assert subject == Subject("许某", "foshan/chancheng/urban-management", "staff")
