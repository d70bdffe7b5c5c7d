"""Workspace sessions: a random server-side id per sign-in, stored only as a digest.

The browser holds the id inside Flask's `session` cookie, signed with WORKSPACE_SECRET_KEY from
the environment (never stored in the database). The database holds the id's SHA-256 digest, the
key's digest it signs in as, and when it ends; sign-out deletes it, and a TTL index removes the
ones nobody signed out of. So a database copy signs nobody in: it holds neither an id nor the
cookie key, and a stolen cookie stops working at sign-out, when the key is revoked, or after
`SESSION_MAX_AGE_S`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

from flask import Flask, session
from pymongo.collection import Collection

from shared.auth import KeyCache, Principal

SESSION_COOKIE = "workspace_session"
COOKIE_PATH = "/workspace"
SESSION_MAX_AGE_S = 8 * 3600


def configure(app: Flask, secret_key: bytes, secure: bool) -> None:
    """Flask's signed session cookie for the workspace: HttpOnly, SameSite=Strict, its path only,
    `Secure` when `secure` (production, or a request that came over HTTPS)."""
    app.secret_key = secret_key
    app.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_PATH=COOKIE_PATH,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_SECURE=secure,
                      PERMANENT_SESSION_LIFETIME=timedelta(seconds=SESSION_MAX_AGE_S))


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """Sign-in, the current principal and sign-out over the `workspace_sessions` collection."""

    def __init__(self, collection: Collection, keys: KeyCache) -> None:
        self.collection = collection
        self.keys = keys
        collection.create_index("expireAt", expireAfterSeconds=0)

    def principal_for_token(self, token: str) -> Principal | None:
        return self.keys.principal_for_token(token)

    def sign_in(self, principal: Principal) -> None:
        """Start a session for `principal`: a new random id in the signed cookie, its digest here."""
        self.sign_out()
        session_id = secrets.token_urlsafe(32)
        expires = time.time() + SESSION_MAX_AGE_S
        self.collection.insert_one({"_id": _digest(session_id), "key_id": principal.key_id,
                                    "expires_ms": int(expires * 1000),
                                    "expireAt": datetime.fromtimestamp(expires, UTC)})
        session.clear()
        session.permanent = True
        session["sid"] = session_id

    def current(self) -> Principal | None:
        """The signed-in principal: a live session whose key still works."""
        session_id = session.get("sid")
        if not isinstance(session_id, str) or not session_id:
            return None
        found = self.collection.find_one({"_id": _digest(session_id),
                                          "expires_ms": {"$gt": int(time.time() * 1000)}}, {"key_id": 1})
        return self.keys.get(found["key_id"]) if found else None

    def sign_out(self) -> None:
        """End the session: its record deleted (a copied cookie no longer works), the cookie cleared."""
        session_id = session.get("sid")
        if isinstance(session_id, str) and session_id:
            self.collection.delete_one({"_id": _digest(session_id)})
        session.clear()
