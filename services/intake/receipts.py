"""Receipts (查询码): a code and a secret handed to the reporter once; only digests are stored.

The code is 80 random bits in Crockford base32, grouped as "4F7K-9QXM-2H8D-T6WB", forgiving
when typed back (case, spaces, dashes, O for 0, I/L for 1). The secret is 192 random bits of
URL-safe text. Both are stored as HMAC-SHA256 digests under a server key, so a leaked
database gives neither.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_BITS = 80
CODE_LENGTH = CODE_BITS // 5  # 16 symbols
GROUP = 4
SECRET_BYTES = 24  # 192 bits

_TYPED_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -\t\r\n")


@dataclass(frozen=True)
class Receipt:
    """A receipt as handed to the reporter; its repr hides the secret."""

    code: str
    secret: str = field(repr=False)


def _group(symbols: str) -> str:
    return "-".join(symbols[i : i + GROUP] for i in range(0, len(symbols), GROUP))


def new_receipt() -> Receipt:
    """A fresh receipt: an 80-bit grouped code and a 192-bit URL-safe secret."""
    number = secrets.randbits(CODE_BITS)
    symbols = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))
    return Receipt(code=_group(symbols), secret=secrets.token_urlsafe(SECRET_BYTES))


def normalise_code(text: str) -> str:
    """The canonical grouped form of a code as a person typed it.

    Upper-cases, drops spaces and dashes, reads O as 0 and I/L as 1. Raises ValueError
    (without echoing the text) when what remains is not 16 Crockford base32 symbols.
    """
    if not isinstance(text, str):
        raise ValueError("receipt code: must be text")
    symbols = text.upper().translate(_SEPARATORS).translate(_TYPED_ALIASES)
    if len(symbols) != CODE_LENGTH or any(symbol not in ALPHABET for symbol in symbols):
        raise ValueError("receipt code: not a valid code")
    return _group(symbols)


def _digest(key: bytes, purpose: bytes, value: str) -> str:
    if not isinstance(key, bytes) or not key:
        raise ValueError("receipt key: must be non-empty bytes")
    message = purpose + b"\0" + value.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def code_digest(key: bytes, code: str) -> str:
    """Hex HMAC-SHA256 of the normalised code, the value to store and to look clues up by.

    Never raises for a badly typed code: text that does not normalise gets a digest that no
    issued code can have, so a malformed code and a wrong one get the same "not found".
    """
    try:
        canonical = normalise_code(code)
    except ValueError:
        canonical = "invalid:" + (code if isinstance(code, str) else "")
    return _digest(key, b"receipt-code", canonical)


def secret_digest(key: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of the secret, the value to store."""
    return _digest(key, b"receipt-secret", secret)


def digests(key: bytes, receipt: Receipt) -> tuple[str, str]:
    """The code's and the secret's digests of a receipt from `new_receipt`, whose code is in its
    canonical form already (the same digests as `code_digest` and `secret_digest`)."""
    return _digest(key, b"receipt-code", receipt.code), secret_digest(key, receipt.secret)


def verify_secret(key: bytes, secret: str, digest: str) -> bool:
    """Whether `secret` matches the stored `digest`, compared in constant time."""
    if not isinstance(secret, str) or not isinstance(digest, str):
        return False
    expected = secret_digest(key, secret).encode("ascii")
    return hmac.compare_digest(expected, digest.lower().encode("utf-8", "surrogatepass"))
