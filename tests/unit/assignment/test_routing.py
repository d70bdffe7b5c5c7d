from datetime import UTC, datetime

import pytest

from services.assignment.routing import (
    CadreLoad,
    Route,
    SeriousRules,
    cadre_preference,
    is_serious,
    plan_picks,
    route,
)

ROUTES = [
    # jurisdiction, employer, expected route
    (
        "embedded at town of the district",
        "foshan/nanhai/lishui",
        "foshan/nanhai/urban-management",
        Route("foshan/nanhai/urban-management#embedded", "embedded"),
    ),
    (
        "embedded at the district itself",
        "foshan/gaoming",
        "foshan/gaoming/market-supervision",
        Route("foshan/gaoming/market-supervision#embedded", "embedded"),
    ),
    (
        "group of another district is not used",
        "foshan/chancheng/shiwan",
        "foshan/nanhai/urban-management",
        Route("foshan/chancheng/shiwan#commission", "territorial"),
    ),
    (
        "known employer without group",
        "foshan/chancheng/shiwan",
        "foshan/chancheng/urban-management",
        Route("foshan/chancheng/shiwan#commission", "territorial"),
    ),
    (
        "unknown employer",
        "foshan/shunde/ronggui",
        "foshan/shunde/no-such-bureau",
        Route("foshan/shunde/ronggui#commission", "territorial"),
    ),
    ("no employer", "foshan/sanshui", None, Route("foshan/sanshui#commission", "territorial")),
    (
        "city jurisdiction",
        "foshan",
        "foshan/urban-management",
        Route("foshan#commission", "territorial"),
    ),
    (
        "unknown jurisdiction",
        "foshan/atlantis",
        "foshan/nanhai/urban-management",
        Route("foshan#commission", "triage", "unroutable"),
    ),
    ("empty jurisdiction", "", None, Route("foshan#commission", "triage", "unroutable")),
]


@pytest.mark.parametrize("label,jurisdiction,employer,expected", ROUTES, ids=[r[0] for r in ROUTES])
def test_route(foshan, label, jurisdiction, employer, expected):
    assert route(jurisdiction, employer, foshan) == expected


T1 = datetime(2024, 4, 1, 9, tzinfo=UTC)
T2 = datetime(2024, 4, 2, 9, tzinfo=UTC)

PREFERENCES = [
    (
        "lowest ratio first",
        [CadreLoad("a", 4, 8), CadreLoad("b", 1, 10), CadreLoad("c", 2, 5)],
        ["b", "c", "a"],
    ),
    ("ratio, not raw load", [CadreLoad("a", 3, 20), CadreLoad("b", 1, 5)], ["a", "b"]),
    (
        "equal ratio: never assigned first",
        [CadreLoad("a", 1, 5, last_assigned_at=T1), CadreLoad("b", 2, 10)],
        ["b", "a"],
    ),
    (
        "equal ratio: least recently assigned first",
        [CadreLoad("a", 1, 5, last_assigned_at=T2), CadreLoad("b", 2, 10, last_assigned_at=T1)],
        ["b", "a"],
    ),
    ("full tie: by id", [CadreLoad("b", 0, 5), CadreLoad("a", 0, 7)], ["a", "b"]),
    ("full cadre left out", [CadreLoad("a", 5, 5), CadreLoad("b", 4, 5)], ["b"]),
    ("over capacity left out", [CadreLoad("a", 6, 5)], []),
    ("inactive left out", [CadreLoad("a", 0, 5, active=False), CadreLoad("b", 3, 5)], ["b"]),
    ("everyone full", [CadreLoad("a", 5, 5), CadreLoad("b", 9, 9)], []),
    ("no cadres", [], []),
]


@pytest.mark.parametrize("label,cadres,expected", PREFERENCES, ids=[p[0] for p in PREFERENCES])
def test_cadre_preference(label, cadres, expected):
    assert cadre_preference(cadres) == expected


PICKS = [
    ("each pick counts before the next", [CadreLoad("a", 0, 1), CadreLoad("b", 0, 2)], 3, ["a", "b", "b"]),
    ("stops when everyone is full", [CadreLoad("a", 0, 1), CadreLoad("b", 1, 2)], 5, ["a", "b"]),
    ("a pick becomes the newest assignment",
     [CadreLoad("a", 0, 2, last_assigned_at=T1), CadreLoad("b", 0, 2)], 3, ["b", "a", "a"]),
    ("capacity-weighted", [CadreLoad("a", 0, 1), CadreLoad("b", 0, 3)], 4, ["a", "b", "b", "b"]),
    ("inactive never picked", [CadreLoad("a", 0, 9, active=False), CadreLoad("b", 0, 2)], 3, ["b", "b"]),
    ("nothing asked", [CadreLoad("a", 0, 1)], 0, []),
    ("no cadres", [], 2, []),
]


@pytest.mark.parametrize("label,cadres,count,expected", PICKS, ids=[p[0] for p in PICKS])
def test_plan_picks(label, cadres, count, expected):
    assert plan_picks(cadres, count, T2) == expected


def test_plan_picks_matches_one_claim_at_a_time():
    """Planning n picks on one read equals picking the head of cadre_preference n times."""
    cadres = {c.id: c for c in [CadreLoad("a", 2, 5, last_assigned_at=T1), CadreLoad("b", 0, 3),
                                CadreLoad("c", 4, 9, last_assigned_at=T2), CadreLoad("d", 1, 1)]}
    one_by_one = []
    for _ in range(20):
        order = cadre_preference(cadres.values())
        if not order:
            break
        best = cadres[order[0]]
        cadres[best.id] = CadreLoad(best.id, best.load + 1, best.capacity, True, T2)
        one_by_one.append(best.id)
    fresh = [CadreLoad("a", 2, 5, last_assigned_at=T1), CadreLoad("b", 0, 3),
             CadreLoad("c", 4, 9, last_assigned_at=T2), CadreLoad("d", 1, 1)]
    assert plan_picks(fresh, 20, T2) == one_by_one and len(one_by_one) == 11


SERIOUS = [
    # reasons, amount, category, collusion, expected
    ("nothing", [], 4645, "solicitation", False, False),
    ("escalation reason", ["repeat"], None, "solicitation", False, True),
    ("amount just below", [], 9_999, "obstruction", False, False),
    ("amount at threshold", [], 10_000, "obstruction", False, True),
    ("bribery", [], None, "bribery", False, True),
    ("extortion", [], None, "extortion", False, True),
    ("entrapment", [], None, "entrapment", False, True),
    ("collusion", [], None, "tip_off", True, True),
]


@pytest.mark.parametrize(
    "label,reasons,amount,category,collusion,expected", SERIOUS, ids=[s[0] for s in SERIOUS]
)
def test_is_serious(label, reasons, amount, category, collusion, expected):
    assert is_serious(reasons, amount, category, collusion) is expected


def test_serious_rules_are_configurable():
    rules = SeriousRules(amount_cny=1_000, categories=frozenset({"tip_off"}))
    assert is_serious([], 1_000, "other", False, rules)
    assert is_serious([], None, "tip_off", False, rules)
    assert not is_serious([], 999, "bribery", False, rules)
