"""The assignment API's operations, declared as rows and added to the OpenAPI document.

Each route module lists its operations as `Op` rows; `add_paths` writes them in the spec's shape
(bearer security, a query schema as parameters, a component schema as the request body)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

OK = {"200": {"description": "OK"}}
SECURED = [{"bearer": []}]


@dataclass(frozen=True)
class Op:
    path: str
    method: str
    summary: str
    body: str | None = None  # a component schema's name
    query: type | None = None  # a marshmallow schema of the query string
    responses: dict[str, Any] | None = None  # 200 OK when None


def add_paths(spec, ops: Iterable[Op]) -> None:
    """Add `ops` to `spec`, the operations of one path together, in the order given."""
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        entry: dict[str, Any] = {"summary": op.summary, "security": SECURED}
        if op.query is not None:
            entry["parameters"] = [{"in": "query", "schema": op.query}]
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body}"}}},
            }
        entry["responses"] = op.responses or OK
        paths.setdefault(op.path, {})[op.method] = entry
    for path, operations in paths.items():
        spec.path(path, operations=operations)
