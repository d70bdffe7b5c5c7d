"""shared/problems.flatten: marshmallow's nested error messages as field paths, one row a rule."""

from __future__ import annotations

import pytest

from shared.problems import flatten


@pytest.mark.parametrize(("messages", "flat"), [
    ({}, {}),
    ({"a": ["m"]}, {"a": ["m"]}),
    ({"a": {"b": {"c": ["m", "n"]}}}, {"a.b.c": ["m", "n"]}),                  # nested: dotted
    ({"items": {0: {"name": ["m"]}, 3: ["n"]}}, {"items.0.name": ["m"], "items.3": ["n"]}),  # list index
    ({"_schema": ["top"]}, {"_schema": ["top"]}),                               # top-level schema error
    ({"reporter": {"_schema": ["whole"], "email": ["e"]}},
     {"reporter": ["whole"], "reporter.email": ["e"]}),                         # nested: its parent's path
    (["only a message"], {"_body": ["only a message"]}),
    ("a string", {"_body": ["a string"]}),
])
def test_flatten(messages, flat):
    assert flatten(messages) == flat
