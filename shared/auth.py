"""API keys: random 256-bit tokens, stored as SHA-256 digests, looked up by digest.

A fast hash is right here: the tokens are random, so there is nothing to brute-force that a
slow hash would protect, and a slow hash on every request would cap throughput.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

import mongoengine as me
from flask import g, request

from shared.mongo import utcnow
from shared.problems import Problem

ROLES = ("frontline", "cadre", "supervisor", "admin")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKey(me.Document):
    """An issued key: its digest is the id; scope is a unit code, cadre id or jurisdiction code."""

    id = me.StringField(primary_key=True)
    role = me.StringField(required=True, choices=ROLES)
    scope = me.StringField(default="")
    label = me.StringField(default="")
    revoked = me.BooleanField(default=False)
    created_at = me.DateTimeField(required=True)
    meta = {"collection": "api_keys"}


@dataclass(frozen=True)
class Principal:
    role: str
    scope: str
    key_id: str

    @property
    def actor(self) -> str:
        """How audit trails name this principal: role and scope, never the key."""
        return f"{self.role}:{self.scope}" if self.scope else self.role


def new_token() -> str:
    """256 random bits as URL-safe text that never starts with "-", so it can be passed as a
    command-line argument (`keys revoke TOKEN`) without being read as an option."""
    while (token := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return token


def issue_key(role: str, scope: str = "", label: str = "", token: str | None = None) -> str:
    """Store a new key (or the given token, so one key can be issued to several services)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role != "admin" and not scope:
        raise ValueError(f"a {role} key needs a scope")
    token = token or new_token()
    ApiKey(id=digest(token), role=role, scope=scope, label=label, created_at=utcnow()).save()
    return token


def revoke_key(token_or_digest: str) -> bool:
    key_id = token_or_digest if len(token_or_digest) == 64 else digest(token_or_digest)
    return ApiKey.objects(id=key_id).update_one(set__revoked=True) == 1


class KeyCache:
    """Looked-up keys for a few seconds, so a request does not always cost a database read."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._items: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key_id)
        if hit and hit[0] > now:
            return hit[1]
        doc = ApiKey.objects(id=key_id).only("role", "scope", "revoked").first()
        principal = None if doc is None or doc.revoked else Principal(doc.role, doc.scope, key_id)
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key_id] = (now + self.ttl_s, principal)
        return principal


_cache = KeyCache()


def authenticate() -> Principal:
    """The request's principal, or a 401 Problem."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "send Authorization: Bearer <key>",
                      headers={"WWW-Authenticate": "Bearer"})
    principal = _cache.get(digest(token.strip()))
    if principal is None:
        raise Problem(401, "Unauthorized", "the key is unknown or revoked",
                      headers={"WWW-Authenticate": "Bearer"})
    return principal


def require(*roles: str) -> Callable:
    """Decorator: the route needs a key of one of `roles`; the principal is `flask.g.principal`."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            principal = authenticate()
            if principal.role not in roles:
                raise Problem(403, "Forbidden", f"this needs a {' or '.join(roles)} key")
            g.principal = principal
            return view(*args, **kwargs)

        return wrapped

    return decorate


def jurisdiction_within(code: str, ancestor: str) -> bool:
    """True when jurisdiction `code` is `ancestor` or below it (codes are slash paths)."""
    return code == ancestor or code.startswith(ancestor.rstrip("/") + "/")
