"""CSRF protection for server-rendered forms: a signed double-submit token.

The same value sits in a cookie and in the form; the server signed it, so a page on another
site can neither read the cookie nor forge a value that passes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import request

CSRF_FIELD = "csrf_token"


class CsrfGuard:
    """Tokens for one set of pages: `purpose` keeps their signatures apart from any other use of `key`."""

    def __init__(self, key: bytes, purpose: str, cookie: str) -> None:
        self.key = hmac.new(key, purpose.encode(), hashlib.sha256).digest()
        self.cookie = cookie

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.key, nonce.encode(), hashlib.sha256).hexdigest()

    def valid(self, token: str | None) -> bool:
        """True for a token this server made."""
        if not token or "." not in token or len(token) > 200:
            return False
        nonce, _, signature = token.partition(".")
        return hmac.compare_digest(self._sign(nonce), signature)

    def token(self) -> str:
        """The request's cookie token when valid, else a new one (set it as the cookie)."""
        current = request.cookies.get(self.cookie)
        if self.valid(current):
            return current  # type: ignore[return-value]
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{self._sign(nonce)}"

    def passes(self) -> bool:
        """True when the form's token equals the cookie's and is signed by this server."""
        cookie, field = request.cookies.get(self.cookie, ""), request.form.get(CSRF_FIELD, "")
        return self.valid(cookie) and hmac.compare_digest(cookie.encode(), field.encode())
