"""The OpenAPI description of intake's supervision card and integrity observer routes: one row a
route in `ROUTES`, its request body a marshmallow schema registered under `SCHEMAS`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.intake import practice_api

SCHEMAS = {"CardBatchBody": practice_api.BatchBody, "ObserverBody": practice_api.ObserverBody}
PATH_PARAMETERS = {"code": 40, "batch_id": 64}  # each one's maxLength


@dataclass(frozen=True)
class Route:
    """One operation: `answer` is (status, description) of an object answer, or "ClueAccepted"
    for the 202 of a route that posts a clue."""

    path: str
    method: str
    summary: str
    answer: tuple[str, str] | str
    public: bool = False
    parameter: str | None = None
    body: str | None = None
    description: str | None = None


ROUTES = (
    Route("/v1/card-batches", "post", "Issue a batch of numbered supervision cards (supervisor)",
          ("201", "the batch with its funnel and sheet_url"), body="CardBatchBody"),
    Route("/v1/card-batches", "get", "Card batches in scope, each with its funnel (supervisor)",
          ("200", "items")),
    Route("/v1/card-batches/funnel", "get",
          "The card funnel per bureau: issued, opinions, led to a case, outcomes (supervisor)",
          ("200", "items")),
    Route("/v1/card-batches/{batch_id}", "get", "A batch, its funnel and its cards (supervisor)",
          ("200", "the batch"), parameter="batch_id"),
    Route("/v1/cards/{code}", "get", "A card's bureau, place kind and number (public, rate limited)",
          ("200", "the card"), public=True, parameter="code"),
    Route("/v1/cards/{code}/feedback", "post",
          "An opinion through a card: a clue with source supervision_card (public, rate limited)",
          "ClueAccepted", public=True, parameter="code", body="Clue",
          description="The body is a Clue without source, jurisdiction and subject.employer "
                      "(the card's); subject.name may be left out."),
    Route("/v1/observers", "post",
          "Register an integrity observer of a town; the observer key is shown once (supervisor)",
          ("201", "the observer and observer_key"), body="ObserverBody"),
    Route("/v1/observers", "get", "The roster in scope, without identities (supervisor)",
          ("200", "items")),
    Route("/v1/observers/summary", "get",
          "Per town: observers by background, reports, led to a case, outcomes (supervisor)",
          ("200", "items")),
    Route("/v1/observer-reports", "post",
          "The liaison posts an observer's report with the observer key: a clue with source observer",
          "ClueAccepted", body="Clue",
          description="The body is a Clue without source and reporter; jurisdiction defaults to the "
                      "observer's town and must lie in it."),
)


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _path_parameter(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": PATH_PARAMETERS[name]}}


def operation(route: Route, errors: dict[str, Any], bearer: list[dict[str, list]]) -> dict[str, Any]:
    """The OpenAPI operation object of `route` (`errors`: the problem+json answers)."""
    op: dict[str, Any] = {"summary": route.summary}
    if route.description:
        op["description"] = route.description
    op["security"] = [] if route.public else bearer
    if route.parameter:
        op["parameters"] = [_path_parameter(route.parameter)]
    if route.body:
        op["requestBody"] = {"required": True, "content": _json(route.body)}
    if isinstance(route.answer, str):
        answer = {"202": {"description": "accepted", "content": _json(route.answer)}}
    else:
        status, description = route.answer
        answer = {status: {"description": description,
                           "content": {"application/json": {"schema": {"type": "object"}}}}}
    op["responses"] = {**answer, **errors}
    return op


def register_practice_paths(spec, errors: dict[str, Any], bearer: list[dict[str, list]]) -> None:
    """Add the card and observer routes to intake's spec (`errors`: the problem+json answers)."""
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = operation(route, errors, bearer)
    for path, operations in paths.items():
        spec.path(path, operations=operations)
