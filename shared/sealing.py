"""Encryption of reporter data (PyNaCl): at rest in intake, and in transit to notify.

- ReporterVault: intake's secret-key box (XSalsa20-Poly1305) for the reporter dict it stores.
- seal_for_notify / open_sealed: a sealed box to notify's public key, so the broker and the
  assignment service carry only ciphertext that notify alone can open.

Ciphertexts are standard base64 text. No error raised here carries plaintext, ciphertext or
key material in its message or its chained cause.
"""

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from nacl.utils import random

KEY_SIZE = 32

# The keys of a reporter dict that notify needs to deliver (the rest stays in intake).
CONTACT_FIELDS = ("name", "channel", "email", "phone", "webhook_url", "webhook_secret", "lang")


class SealError(Exception):
    """Reporter data could not be opened: wrong key, tampered or malformed ciphertext."""


def _encode(payload: dict[str, Any]) -> bytes:
    if not isinstance(payload, dict):
        raise TypeError("reporter data: must be a dict")
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _decode(plaintext: bytes, what: str) -> dict[str, Any]:
    try:
        payload = json.loads(plaintext.decode("utf-8"))
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise SealError(f"{what}: opened, but not a reporter record")
    return payload


def _unbase64(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise SealError(f"{what}: ciphertext must be base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise SealError(f"{what}: ciphertext is not valid base64") from None


def _check_key(key: bytes, name: str) -> bytes:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"{name}: must be {KEY_SIZE} bytes")
    return key


class ReporterVault:
    """Intake's at-rest encryption of a reporter dict under a 32-byte secret key."""

    def __init__(self, key: bytes) -> None:
        self._box = SecretBox(_check_key(key, "reporter key"))

    def __repr__(self) -> str:
        return "ReporterVault(key=<hidden>)"

    def seal(self, reporter: dict[str, Any]) -> str:
        """Encrypt and authenticate `reporter` (JSON-serialisable) with a fresh nonce."""
        sealed = self._box.encrypt(_encode(reporter), random(SecretBox.NONCE_SIZE))
        return base64.b64encode(bytes(sealed)).decode("ascii")

    def open(self, ciphertext: str) -> dict[str, Any]:
        """The reporter dict sealed by `seal` under the same key; SealError otherwise."""
        raw = _unbase64(ciphertext, "reporter data")
        try:
            plaintext = self._box.decrypt(raw)
        except (CryptoError, ValueError, TypeError):
            raise SealError("reporter data: cannot be opened (wrong key or damaged)") from None
        return _decode(plaintext, "reporter data")


def contact_for_notify(reporter: dict[str, Any]) -> dict[str, Any] | None:
    """The contact notify needs from a loaded reporter dict, or None for an anonymous reporter.

    Keeps name, channel, and email / phone / webhook_url / lang as present.
    """
    if reporter.get("anonymous", True):
        return None
    return {key: reporter[key] for key in CONTACT_FIELDS if reporter.get(key) is not None}


def seal_for_notify(contact: dict[str, Any], notify_public_key: bytes) -> str:
    """`contact` sealed to notify's 32-byte public key (anonymous sender), as base64 text."""
    box = SealedBox(PublicKey(_check_key(notify_public_key, "notify public key")))
    return base64.b64encode(box.encrypt(_encode(contact))).decode("ascii")


def open_sealed(ciphertext: str, notify_private_key: bytes) -> dict[str, Any]:
    """The contact dict sealed by `seal_for_notify`; SealError on wrong key, tamper or garbage.

    Raises ValueError if the private key is not 32 bytes (a configuration error).
    """
    box = SealedBox(PrivateKey(_check_key(notify_private_key, "notify private key")))
    raw = _unbase64(ciphertext, "sealed contact")
    try:
        plaintext = box.decrypt(raw)
    except (CryptoError, ValueError, TypeError):
        raise SealError("sealed contact: cannot be opened (wrong key or damaged)") from None
    return _decode(plaintext, "sealed contact")


def generate_keypair() -> tuple[str, str]:
    """A fresh notify key pair as (public_b64, private_b64)."""
    private = PrivateKey.generate()
    return (
        base64.b64encode(bytes(private.public_key)).decode("ascii"),
        base64.b64encode(bytes(private)).decode("ascii"),
    )


def generate_secret_key() -> str:
    """A fresh 32-byte secret key (for ReporterVault or receipt digests) as base64 text."""
    return base64.b64encode(random(KEY_SIZE)).decode("ascii")


def load_key(b64text: str, name: str) -> bytes:
    """Decode a 32-byte key from base64 settings text; ValueError naming `name` otherwise.

    The error never contains the value.
    """
    message = f"{name}: must be {KEY_SIZE} bytes of base64"
    if not isinstance(b64text, str):
        raise ValueError(message)
    standard = b64text.strip().replace("-", "+").replace("_", "/")  # URL-safe base64 too
    try:
        key = base64.b64decode(standard.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(message) from None
    if len(key) != KEY_SIZE:
        raise ValueError(message)
    return key


def webhook_recipient_secret(master: bytes, url: str) -> bytes:
    """The signing secret of one webhook recipient (its URL), derived from NOTIFY_WEBHOOK_SECRET,
    so what one recipient verifies with signs nothing for another; `campaign keys webhook-secret
    URL` prints it for that recipient's operator. A reporter who gave their own `webhook_secret`
    is signed for with that instead."""
    return hmac.new(master, b"webhook-recipient\0" + url.encode("utf-8"), hashlib.sha256).hexdigest().encode()
