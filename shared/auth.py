"""API keys: random 256-bit tokens, stored as SHA-256 digests, looked up by digest; with an
optional expiry, the time of last use, an audit trail of issues and revocations (with the acting
key), and a limit on failed authentications per client.

A fast hash is right here: the tokens are random, so there is nothing to brute-force that a
slow hash would protect, and a slow hash on every request would cap throughput.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

import mongoengine as me
from flask import g, request

from shared.clients import client_network
from shared.mongo import utcnow
from shared.problems import Problem
from shared.times import to_ms

ROLES = ("frontline", "cadre", "supervisor", "admin")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


LAST_USED_EVERY_S = 60.0  # last_used_ms is written at most once a minute per key and process
MIN_CUSTOM_TOKEN_CHARS = 32
MIN_CUSTOM_TOKEN_DISTINCT = 16


class ApiKey(me.Document):
    """An issued key: its digest is the id; scope is a unit code, cadre id or jurisdiction code."""

    id = me.StringField(primary_key=True)
    role = me.StringField(required=True, choices=ROLES)
    scope = me.StringField(default="")
    label = me.StringField(default="")
    revoked = me.BooleanField(default=False)
    created_at = me.DateTimeField(required=True)
    expires_ms = me.LongField(null=True)  # epoch milliseconds; None: no expiry
    last_used_ms = me.LongField(null=True)
    meta = {"collection": "api_keys", "strict": False}


class KeyAuditEntry(me.Document):
    """One issue, revocation or registry change, with who did it (never a token)."""

    id = me.StringField(primary_key=True)
    at = me.DateTimeField(required=True)
    action = me.StringField(required=True)  # key.issue, key.revoke, registry.put, ...
    actor = me.StringField(required=True)  # "admin:..." with the acting key's id, or "cli:<user>"
    actor_key_id = me.StringField(default="")
    key_id = me.StringField(default="")  # the key issued or revoked
    detail = me.DictField(default=dict)
    meta = {"collection": "key_audit", "indexes": ["at"]}


def cli_actor() -> str:
    """How the audit trail names an operator at the command line (there is no acting key)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def audit(action: str, actor: str, *, actor_key_id: str = "", key_id: str = "",
          detail: dict | None = None) -> None:
    """Add one entry to the key and registry audit trail."""
    KeyAuditEntry(id=secrets.token_hex(16), at=utcnow(), action=action, actor=actor,
                  actor_key_id=actor_key_id, key_id=key_id, detail=detail or {}).save(force_insert=True)


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


def check_token_strength(token: str) -> None:
    """ValueError unless a custom token could be a random one: at least 32 printable characters
    without spaces, at least 16 of them different (a `new_token` has 43, about 30 different)."""
    if len(token) < MIN_CUSTOM_TOKEN_CHARS:
        raise ValueError(f"a custom token needs at least {MIN_CUSTOM_TOKEN_CHARS} characters")
    if not token.isascii() or not token.isprintable() or any(ch.isspace() for ch in token):
        raise ValueError("a custom token must be printable ASCII without spaces")
    if len(set(token)) < MIN_CUSTOM_TOKEN_DISTINCT:
        raise ValueError(f"a custom token needs at least {MIN_CUSTOM_TOKEN_DISTINCT} different characters")


def issue_key(role: str, scope: str = "", label: str = "", token: str | None = None, *,
              expires_at: datetime | None = None, actor: str = "cli", actor_key_id: str = "") -> str:
    """Store a new key (or the given token, so one key can be issued to several services), and
    audit it with who issued it."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role != "admin" and not scope:
        raise ValueError(f"a {role} key needs a scope")
    if token is not None:
        check_token_strength(token)
    token = token or new_token()
    expires_ms = to_ms(expires_at)
    key_id = digest(token)
    ApiKey(id=key_id, role=role, scope=scope, label=label, created_at=utcnow(),
           expires_ms=expires_ms).save()
    audit("key.issue", actor, actor_key_id=actor_key_id, key_id=key_id,
          detail={"role": role, "scope": scope, "label": label, "expires_ms": expires_ms})
    return token


def revoke_key(token_or_digest: str, *, actor: str = "cli", actor_key_id: str = "") -> bool:
    key_id = token_or_digest if len(token_or_digest) == 64 else digest(token_or_digest)
    revoked = ApiKey.objects(id=key_id).update_one(set__revoked=True) == 1
    if revoked:
        audit("key.revoke", actor, actor_key_id=actor_key_id, key_id=key_id)
    return revoked


def list_keys() -> list[dict]:
    """Every key as the command line lists it: id (digest), role, scope, label, dates; no token."""
    rows = []
    for doc in ApiKey._get_collection().find({}, {"role": 1, "scope": 1, "label": 1, "revoked": 1,
                                                  "created_at": 1, "expires_ms": 1, "last_used_ms": 1}):
        rows.append({"id": doc["_id"], "role": doc.get("role"), "scope": doc.get("scope", ""),
                     "label": doc.get("label", ""), "revoked": bool(doc.get("revoked")),
                     "created_at": doc.get("created_at"), "expires_ms": doc.get("expires_ms"),
                     "last_used_ms": doc.get("last_used_ms")})
    return sorted(rows, key=lambda r: (r["role"] or "", r["scope"], r["id"]))


class KeyCache:
    """Valid keys for a few seconds, so a request does not always cost a database read.

    Only keys that exist, are not revoked and have not expired are cached, at most `size` of
    them, least recently used out first: a flood of random tokens costs database reads (and the
    failed-authentication limit stops it) but never pushes a valid key out. Each cached key notes
    when its use was last written, and writes `last_used_ms` at most once a minute.
    """

    def __init__(self, ttl_s: float = 5.0, size: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._items: OrderedDict[str, tuple[float, Principal, float | None]] = OrderedDict()
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def principal_for_token(self, token: str) -> Principal | None:
        token = token.strip()
        return self.get(digest(token)) if token else None

    def get(self, key_id: str) -> Principal | None:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key_id)
            if hit is not None:
                self._items.move_to_end(key_id)
        if hit and hit[0] > now and (hit[2] is None or hit[2] > time.time() * 1000):
            self._touch(key_id, now)
            return hit[1]
        doc = ApiKey._get_collection().find_one({"_id": key_id}, {"role": 1, "scope": 1, "revoked": 1,
                                                                   "expires_ms": 1})
        if doc is None or doc.get("revoked") or (doc.get("expires_ms") and
                                                 doc["expires_ms"] <= time.time() * 1000):
            with self._lock:
                self._items.pop(key_id, None)
            return None
        principal = Principal(doc["role"], doc.get("scope", ""), key_id)
        with self._lock:
            self._items[key_id] = (now + self.ttl_s, principal, doc.get("expires_ms"))
            self._items.move_to_end(key_id)
            while len(self._items) > self.size:
                old, _ = self._items.popitem(last=False)
                self._written.pop(old, None)
        self._touch(key_id, now)
        return principal

    def _touch(self, key_id: str, now: float) -> None:
        with self._lock:
            last = self._written.get(key_id)
            if last is not None and now - last < LAST_USED_EVERY_S:
                return
            self._written[key_id] = now
        used_ms = int(time.time() * 1000)
        ApiKey._get_collection().update_one({"_id": key_id}, {"$set": {"last_used_ms": used_ms}})


class FailedAuthentications:
    """Failed authentications per client network (IPv4 address, IPv6 /64) in fixed windows: past
    `limit` in a window, that client gets 429 until the window ends, before any key lookup."""

    def __init__(self, limit: int = 100, window_s: float = 60.0, size: int = 50_000) -> None:
        self.limit, self.window_s, self.size = limit, window_s, size
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _window(self, client: str, now: float) -> tuple[float, int]:
        started, count = self._counts.get(client, (now, 0))
        return (now, 0) if now - started >= self.window_s else (started, count)

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        now = time.monotonic()
        with self._lock:
            started, count = self._window(client, now)
        return max(1, int(started + self.window_s - now) + 1) if count >= self.limit else 0

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            started, count = self._window(client, now)
            if client not in self._counts and len(self._counts) >= self.size:
                self._counts.clear()  # memory stays bounded; the windows start again
            self._counts[client] = (started, count + 1)


_cache = KeyCache()
_failures = FailedAuthentications()


def _client() -> str:
    return client_network(request.remote_addr)


def failures_wait() -> int:
    """Seconds this request's client must wait after too many failed authentications; 0: none."""
    return _failures.retry_after(_client())


def failed_authentication() -> None:
    """Count a failed authentication of this request's client (a sign-in form's wrong key too)."""
    _failures.failed(_client())


def authenticate() -> Principal:
    """The request's principal, or a 401 Problem (a 429 once its client failed too often)."""
    client = _client()
    wait = _failures.retry_after(client)
    if wait:
        raise Problem(429, "Too Many Requests", "too many failed authentications; wait",
                      headers={"Retry-After": str(wait)})
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "send Authorization: Bearer <key>",
                      headers={"WWW-Authenticate": "Bearer"})
    principal = _cache.get(digest(token.strip()))
    if principal is None:
        _failures.failed(client)
        raise Problem(401, "Unauthorized", "the key is unknown, revoked or expired",
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
