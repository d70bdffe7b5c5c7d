import re

import pytest

from services.intake.receipts import (
    ALPHABET,
    Receipt,
    code_digest,
    digests,
    new_receipt,
    normalise_code,
    secret_digest,
    verify_secret,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
CODE_FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def test_the_alphabet_is_crockford_base32():
    assert len(ALPHABET) == 32 == len(set(ALPHABET))
    assert not set("ILOU") & set(ALPHABET)


def test_a_receipt_has_a_grouped_code_and_a_long_secret():
    receipt = new_receipt()
    assert CODE_FORMAT.match(receipt.code)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", receipt.secret)  # >= 192 bits of urlsafe text


def test_receipts_are_unique_over_10k():
    receipts = [new_receipt() for _ in range(10_000)]
    assert len({r.code for r in receipts}) == 10_000
    assert len({r.secret for r in receipts}) == 10_000
    assert all(CODE_FORMAT.match(r.code) for r in receipts)


def test_codes_use_the_whole_alphabet_and_all_positions_vary():
    codes = [new_receipt().code.replace("-", "") for _ in range(2_000)]
    assert set("".join(codes)) == set(ALPHABET)
    for position in range(16):
        assert len({code[position] for code in codes}) > 16


def test_the_repr_hides_the_secret():
    receipt = Receipt(code="4F7K-9QXM-2H8D-T6WB", secret="very-secret-value")
    assert "very-secret-value" not in repr(receipt)
    assert "4F7K-9QXM-2H8D-T6WB" in repr(receipt)


NORMALISATIONS = [
    ("4F7K-9QXM-2H8D-T6WB", "4F7K-9QXM-2H8D-T6WB"),
    ("4f7k9qxm2h8dt6wb", "4F7K-9QXM-2H8D-T6WB"),
    (" 4f7k 9qxm-2h8d - t6wb \n", "4F7K-9QXM-2H8D-T6WB"),
    ("OOOO-IIII-LLLL-oili", "0000-1111-1111-0111"),
    ("4F7-K9QX-M2H8-DT6W-B", "4F7K-9QXM-2H8D-T6WB"),
]


@pytest.mark.parametrize(("typed", "canonical"), NORMALISATIONS)
def test_normalise_code(typed, canonical):
    assert normalise_code(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "4F7K-9QXM-2H8D",
        "4F7K-9QXM-2H8D-T6WBX",
        "UF7K-9QXM-2H8D-T6WB",
        "4F7K_9QXM_2H8D_T6WB",
        "４F7K-9QXM-2H8D-T6WB",
        None,
    ],
)
def test_normalise_code_rejects_what_is_not_a_code(typed):
    with pytest.raises(ValueError) as caught:
        normalise_code(typed)
    assert "T6WB" not in str(caught.value)


def test_code_digest_is_the_same_for_any_typing_of_the_code():
    code = new_receipt().code
    digests = {
        code_digest(KEY, variant)
        for variant in (code, code.lower(), code.replace("-", ""), " ".join(code.split("-")))
    }
    assert len(digests) == 1
    assert re.fullmatch(r"[0-9a-f]{64}", digests.pop())


def test_code_digest_depends_on_the_key_and_the_code():
    code = new_receipt().code
    assert code_digest(KEY, code) != code_digest(OTHER_KEY, code)
    assert code_digest(KEY, code) != code_digest(KEY, new_receipt().code)


def test_a_malformed_code_gets_a_digest_instead_of_an_error():
    assert re.fullmatch(r"[0-9a-f]{64}", code_digest(KEY, "not a code \ud800"))
    assert code_digest(KEY, "nope") != code_digest(KEY, "nope!")


def test_code_and_secret_digests_are_separated():
    assert code_digest(KEY, "0000-0000-0000-0000") != secret_digest(KEY, "0000-0000-0000-0000")


def test_the_right_secret_verifies():
    receipt = new_receipt()
    stored = secret_digest(KEY, receipt.secret)
    assert receipt.secret not in stored
    assert verify_secret(KEY, receipt.secret, stored)
    assert verify_secret(KEY, receipt.secret, stored.upper())


@pytest.mark.parametrize(
    ("key", "secret", "mangle"),
    [
        (KEY, "wrong-secret", lambda d: d),
        (OTHER_KEY, None, lambda d: d),
        (KEY, None, lambda d: d[:-1] + ("0" if d[-1] != "0" else "1")),
        (KEY, None, lambda d: ""),
        (KEY, None, lambda d: "ü" * 64),
        (KEY, None, lambda d: None),
        (KEY, "", lambda d: d),
    ],
)
def test_anything_else_fails(key, secret, mangle):
    receipt = new_receipt()
    stored = mangle(secret_digest(KEY, receipt.secret))
    assert verify_secret(key, receipt.secret if secret is None else secret, stored) is False


@pytest.mark.parametrize("key", [b"", "text-key", None])
def test_a_missing_key_is_an_error(key):
    with pytest.raises(ValueError):
        secret_digest(key, "s")


def test_a_new_receipts_digests_are_those_of_its_code_and_secret_as_typed_back():
    for _ in range(200):
        receipt = new_receipt()
        code, secret = digests(KEY, receipt)
        assert code == code_digest(KEY, receipt.code.lower().replace("-", " "))
        assert secret == secret_digest(KEY, receipt.secret)
