"""API key tokens: 256 random bits, URL-safe, never mistaken for a command-line option."""

from __future__ import annotations

import re
from unittest import mock

from shared import auth


def test_tokens_are_url_safe_and_distinct():
    tokens = {auth.new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", t) for t in tokens)


def test_a_token_that_would_start_with_a_dash_is_drawn_again():
    drawn = iter(["-first" + "a" * 37, "_second" + "b" * 36])
    with mock.patch.object(auth.secrets, "token_urlsafe", side_effect=lambda n: next(drawn)):
        assert auth.new_token().startswith("_second")
