"""The OpenAPI description of intake's supervision card and integrity observer routes."""

from __future__ import annotations

from typing import Any

from services.intake import practice_api


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _ok(description: str, code: str = "200") -> dict[str, Any]:
    return {
        code: {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}
    }


def register_practice_paths(spec, errors: dict[str, Any], bearer: list[dict[str, list]]) -> None:
    """Add the card and observer routes to intake's spec (`errors`: the problem+json answers)."""
    for name, schema in [
        ("CardBatchBody", practice_api.BatchBody),
        ("ObserverBody", practice_api.ObserverBody),
    ]:
        spec.components.schema(name, schema=schema)
    _batch_paths(spec, errors, bearer)
    _card_paths(spec, errors)
    _observer_paths(spec, errors, bearer)


def _batch_paths(spec, errors: dict[str, Any], bearer: list[dict[str, list]]) -> None:
    batch = [{"name": "batch_id", "in": "path", "required": True,
              "schema": {"type": "string", "minLength": 1, "maxLength": 64}}]
    spec.path(
        "/v1/card-batches",
        operations={
            "post": {
                "summary": "Issue a batch of numbered supervision cards (supervisor)",
                "security": bearer,
                "requestBody": {"required": True, "content": _json("CardBatchBody")},
                "responses": {**_ok("the batch with its funnel and sheet_url", "201"), **errors},
            },
            "get": {
                "summary": "Card batches in scope, each with its funnel (supervisor)",
                "security": bearer,
                "responses": {**_ok("items"), **errors},
            },
        },
    )
    spec.path(
        "/v1/card-batches/funnel",
        operations={
            "get": {
                "summary": "The card funnel per bureau: issued, opinions, led to a case, outcomes "
                "(supervisor)",
                "security": bearer,
                "responses": {**_ok("items"), **errors},
            }
        },
    )
    spec.path(
        "/v1/card-batches/{batch_id}",
        operations={
            "get": {
                "summary": "A batch, its funnel and its cards (supervisor)",
                "security": bearer,
                "parameters": batch,
                "responses": {**_ok("the batch"), **errors},
            }
        },
    )


def _card_paths(spec, errors: dict[str, Any]) -> None:
    code = [{"name": "code", "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 40}}]
    spec.path(
        "/v1/cards/{code}",
        operations={
            "get": {
                "summary": "A card's bureau, place kind and number (public, rate limited)",
                "security": [],
                "parameters": code,
                "responses": {**_ok("the card"), **errors},
            }
        },
    )
    spec.path(
        "/v1/cards/{code}/feedback",
        operations={
            "post": {
                "summary": "An opinion through a card: a clue with source supervision_card "
                "(public, rate limited)",
                "description": "The body is a Clue without source, jurisdiction and subject.employer "
                "(the card's); subject.name may be left out.",
                "security": [],
                "parameters": code,
                "requestBody": {"required": True, "content": _json("Clue")},
                "responses": {"202": {"description": "accepted", "content": _json("ClueAccepted")}, **errors},
            }
        },
    )


def _observer_paths(spec, errors: dict[str, Any], bearer: list[dict[str, list]]) -> None:
    spec.path(
        "/v1/observers",
        operations={
            "post": {
                "summary": "Register an integrity observer of a town; the observer key is shown once "
                "(supervisor)",
                "security": bearer,
                "requestBody": {"required": True, "content": _json("ObserverBody")},
                "responses": {**_ok("the observer and observer_key", "201"), **errors},
            },
            "get": {
                "summary": "The roster in scope, without identities (supervisor)",
                "security": bearer,
                "responses": {**_ok("items"), **errors},
            },
        },
    )
    spec.path(
        "/v1/observers/summary",
        operations={
            "get": {
                "summary": "Per town: observers by background, reports, led to a case, outcomes (supervisor)",
                "security": bearer,
                "responses": {**_ok("items"), **errors},
            }
        },
    )
    spec.path(
        "/v1/observer-reports",
        operations={
            "post": {
                "summary": "The liaison posts an observer's report with the observer key: "
                "a clue with source observer",
                "description": "The body is a Clue without source and reporter; jurisdiction defaults to the "
                "observer's town and must lie in it.",
                "security": bearer,
                "requestBody": {"required": True, "content": _json("Clue")},
                "responses": {"202": {"description": "accepted", "content": _json("ClueAccepted")}, **errors},
            }
        },
    )
