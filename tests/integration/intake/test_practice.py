"""Supervision cards and integrity observers through intake's routes, on the real database."""

from __future__ import annotations

import json

import mongoengine as me
import pytest

from services.intake.documents import Clue
from services.intake.practice_store import Card, Observer

pytestmark = pytest.mark.stack
UM = "foshan/nanhai/urban-management"


def issue(client, headers, **body):
    return client.post("/v1/card-batches", headers=headers, json={"bureau": UM, "place_kind": "shop", **body})


def test_card_numbers_run_on_per_bureau_and_place_kind(client, keys):
    first = issue(client, keys["nanhai_supervisor"], count=3).get_json()
    second = issue(client, keys["nanhai_supervisor"], count=2).get_json()
    other = issue(client, keys["nanhai_supervisor"], count=1, place_kind="building_site").get_json()
    assert (first["first_number"], first["last_number"]) == ("NANHAI-UM-SP-0001", "NANHAI-UM-SP-0003")
    assert (second["first_number"], second["last_number"]) == ("NANHAI-UM-SP-0004", "NANHAI-UM-SP-0005")
    assert other["first_number"] == "NANHAI-UM-BS-0001"
    assert Card.objects.count() == 6 and len({c.id for c in Card.objects}) == 6


BAD_BATCHES = [
    ({"count": 0}, "count"),
    ({"count": 5001}, "count"),
    ({"count": "3"}, "count"),
    ({"count": 1, "place_kind": "bank"}, "place_kind"),
    ({"count": 1, "bureau": "foshan/nanhai/nothing"}, "bureau"),
    ({"count": 1, "jurisdiction": "foshan/nowhere"}, "jurisdiction"),
    ({"count": 1, "extra": 1}, "extra"),
]


@pytest.mark.parametrize("body, field", BAD_BATCHES)
def test_a_bad_batch_is_a_422_naming_the_field(client, keys, body, field):
    resp = issue(client, keys["nanhai_supervisor"], **body)
    assert resp.status_code == 422 and field in resp.get_json()["errors"]
    assert resp.content_type == "application/problem+json"


def test_only_a_supervisor_of_the_place_issues_cards(client, keys):
    assert issue(client, keys["chancheng_supervisor"], count=1).status_code == 403
    assert issue(client, keys["shiwan"], count=1).status_code == 403
    assert issue(client, {}, count=1).status_code == 401


def test_an_opinion_through_a_card_is_a_clue_of_the_card_s_bureau(client, keys):
    batch = issue(client, keys["nanhai_supervisor"], count=2).get_json()
    code = client.get(f"/v1/card-batches/{batch['batch_id']}", headers=keys["nanhai_supervisor"]).get_json()[
        "cards"
    ][1]["code"]
    resp = client.post(
        f"/v1/cards/{code.replace('-', ' ').lower()}/feedback",
        json={"summary": "执法拖延", "reporter": {"anonymous": True}},
    )
    assert resp.status_code == 202, resp.get_json()
    clue = Clue.objects(id=resp.get_json()["clue_id"]).first()
    assert (clue.source, clue.jurisdiction, clue.subject["employer"], clue.subject["name"]) == (
        "supervision_card",
        "foshan/nanhai",
        UM,
        "",
    )
    assert (clue.card_batch_id, clue.card_number) == (batch["batch_id"], 2)
    unknown = client.post(
        f"/v1/cards/{code}/feedback",
        json={"summary": "x", "source": "observer", "reporter": {"anonymous": True}},
    )
    assert unknown.status_code == 422 and unknown.get_json()["errors"] == {"source": ["Unknown field."]}
    invalid = client.post(f"/v1/cards/{code}/feedback", json={"reporter": {"anonymous": True}})
    assert invalid.status_code == 422 and "summary" in invalid.get_json()["errors"]


def test_an_observer_s_identity_is_sealed_and_their_key_posts_reports(client, keys, app):
    resp = client.post(
        "/v1/observers",
        headers=keys["chancheng_supervisor"],
        json={
            "town": "foshan/chancheng/shiwan",
            "background": "veteran_party_member",
            "liaison_cadre_id": "c-shiwan-1",
            "identity": {"name": "阿文", "phone": "+8613900000000"},
        },
    )
    assert resp.status_code == 201
    key = resp.get_json()["observer_key"]
    stored = me.get_db()["observers"].find_one({})
    assert "阿文" not in json.dumps(stored, ensure_ascii=False, default=str) and key not in str(stored)
    vault = app.extensions["intake"].keys.vault
    assert vault.open(Observer.objects.first().identity_sealed) == {"name": "阿文", "phone": "+8613900000000"}
    posted = client.post(
        "/v1/observer-reports",
        headers={"Authorization": f"Bearer {key}"},
        json={"category": "solicitation", "summary": "收红包", "subject": {"name": "许某", "rank": "staff"}},
    )
    assert posted.status_code == 202
    clue = me.get_db()["clues"].find_one({"_id": posted.get_json()["clue_id"]})
    assert clue["source"] == "observer" and clue["observer_id"] == stored["_id"]
    assert "阿文" not in json.dumps(clue, ensure_ascii=False, default=str)
    Observer.objects(id=stored["_id"]).update_one(set__active=False)
    again = client.post(
        "/v1/observer-reports",
        headers={"Authorization": f"Bearer {key}"},
        json={"category": "solicitation", "summary": "x", "subject": {"name": "许某", "rank": "staff"}},
    )
    assert again.status_code == 401
    assert (
        client.post(
            "/v1/observers",
            headers=keys["chancheng_supervisor"],
            json={
                "town": "foshan/chancheng",
                "background": "veteran",
                "liaison_cadre_id": "c",
                "identity": {"name": "x"},
            },
        ).status_code
        == 422
    )  # a district is not a town
    assert (
        client.post(
            "/v1/observers",
            headers=keys["nanhai_supervisor"],
            json={
                "town": "foshan/chancheng/shiwan",
                "background": "veteran",
                "liaison_cadre_id": "c",
                "identity": {"name": "x"},
            },
        ).status_code
        == 403
    )


LIAISONS = [
    ("c-shiwan-1", 201, None),
    ("c-chancheng-2", 201, None),
    ("c-zumiao-1", 422, "Not a cadre of the town or of a level above it."),
    ("nobody", 422, "Not a known cadre."),
]


@pytest.mark.parametrize("liaison, status, problem", LIAISONS)
def test_the_liaison_is_a_cadre_serving_the_town(client, keys, liaison, status, problem):
    resp = client.post(
        "/v1/observers",
        headers=keys["chancheng_supervisor"],
        json={
            "town": "foshan/chancheng/shiwan",
            "background": "village_representative",
            "liaison_cadre_id": liaison,
            "identity": {"name": "某"},
        },
    )
    assert resp.status_code == status
    if problem:
        assert resp.get_json()["errors"] == {"liaison_cadre_id": [problem]}


def test_the_public_card_routes_share_the_receipt_routes_limit(intake_settings):
    """A card's code is guessable like a receipt's: its public routes are counted with the receipt
    routes, per client, and the fourth request in the minute is a 429."""
    import dataclasses

    from services.intake.app import create_app

    app = create_app(dataclasses.replace(intake_settings, receipt_rate_limit="3/minute"), start_relay=False)
    client = app.test_client()
    first = client.get("/v1/cards/NOSUCHCODE")
    assert first.status_code == 404 and first.headers["X-RateLimit-Remaining"] == "2"
    second = client.post("/v1/cards/NOSUCHCODE/feedback", json={"category": "obstruction", "summary": "s"})
    assert second.headers["X-RateLimit-Remaining"] == "1"
    lookup = client.post("/v1/receipts/lookup", json={"code": "0000-0000-0000-0000", "secret": "x"})
    assert lookup.status_code == 404 and lookup.headers["X-RateLimit-Remaining"] == "0"
    refused = client.get("/card/NOSUCHCODE")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
