"""The secrets intake's use cases hold, and the keyed digests they make with them.

Plain Python: receipt digests, the at-rest vault and notify's public key travel as one `Keys`;
request bodies and Idempotency-Keys are only ever kept as HMACs under a key derived from the
receipt key, never as plain hashes of reporter data.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from shared.sealing import ReporterVault


@dataclass(frozen=True)
class Keys:
    """The secrets handlers use: receipt digests, the at-rest vault, notify's public key."""

    receipt_key: bytes
    vault: ReporterVault
    notify_public_key: bytes

    def __repr__(self) -> str:
        return "Keys(<hidden>)"

    @functools.cached_property
    def request_key(self) -> bytes:
        """The key of request digests (Idempotency-Key and body), derived for that purpose alone
        from the receipt key: a database copy without it cannot test guesses of a body."""
        return purpose_key(self.receipt_key, b"idempotency-request-digest")


def purpose_key(key: bytes, purpose: bytes) -> bytes:
    """A key of its own for `purpose`, derived from a server secret (HMAC-SHA256 as a KDF)."""
    return hmac.new(key, b"campaign/" + purpose, hashlib.sha256).digest()


def body_hash(payload: Any, key: bytes) -> str:
    """A keyed digest (HMAC-SHA256 under `Keys.request_key`) of a JSON body that ignores key order
    and whitespace (same body, same digest); never a plain hash of reporter data."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def key_digest(idempotency_key: str, key: bytes) -> str:
    """How an Idempotency-Key is stored: its keyed digest."""
    digest = hmac.new(key, b"key\0" + idempotency_key.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "hkey:" + digest.hexdigest()
