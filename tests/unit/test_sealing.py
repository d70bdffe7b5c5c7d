import base64
import json

import pytest

from shared.sealing import (
    ReporterVault,
    SealError,
    contact_for_notify,
    generate_keypair,
    generate_secret_key,
    load_key,
    open_sealed,
    seal_for_notify,
)

REPORTER = {
    "anonymous": False,
    "name": "王某",
    "phone": "+8613800000000",
    "email": "wang@example.org",
    "channel": "email",
}
CONTACT = {"name": "王某", "channel": "email", "email": "wang@example.org", "lang": "zh"}


def keypair():
    public_b64, private_b64 = generate_keypair()
    return load_key(public_b64, "public"), load_key(private_b64, "private")


def flip_byte(ciphertext, index):
    raw = bytearray(base64.b64decode(ciphertext))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def assert_reveals_nothing(error, *secrets):
    texts = [str(error), repr(error)]
    cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    assert cause is None
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_the_vault_round_trips():
    vault = ReporterVault(load_key(generate_secret_key(), "REPORTER_KEY"))
    sealed = vault.seal(REPORTER)
    assert isinstance(sealed, str)
    assert "王某" not in sealed and "wang" not in sealed
    assert vault.open(sealed) == REPORTER


def test_sealing_twice_gives_different_ciphertexts():
    vault = ReporterVault(b"\x01" * 32)
    assert vault.seal(REPORTER) != vault.seal(REPORTER)


def test_the_vault_hides_its_key():
    assert "\\x01" not in repr(ReporterVault(b"\x01" * 32))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: flip_byte(c, 0),  # nonce
        lambda c: flip_byte(c, 30),  # tag
        lambda c: flip_byte(c, -1),  # body
        lambda c: c[:20],
        lambda c: "",
        lambda c: "not base64 at all!",
        lambda c: "é",
        lambda c: None,
    ],
)
def test_the_vault_refuses_damaged_ciphertext(mangle):
    vault = ReporterVault(b"\x01" * 32)
    sealed = vault.seal(REPORTER)
    with pytest.raises(SealError) as caught:
        vault.open(mangle(sealed))
    assert_reveals_nothing(caught.value, "王某", "wang@example.org", sealed)


def test_the_vault_refuses_another_key():
    sealed = ReporterVault(b"\x01" * 32).seal(REPORTER)
    with pytest.raises(SealError) as caught:
        ReporterVault(b"\x02" * 32).open(sealed)
    assert_reveals_nothing(caught.value, "王某", "wang@example.org", sealed)


def test_a_non_dict_plaintext_is_refused():
    vault = ReporterVault(b"\x01" * 32)
    with pytest.raises(TypeError):
        vault.seal(["王某"])


@pytest.mark.parametrize("key", [b"short", b"x" * 33, "x" * 32, None])
def test_the_vault_needs_a_32_byte_key(key):
    with pytest.raises(ValueError):
        ReporterVault(key)


def test_sealed_for_notify_round_trips():
    public, private = keypair()
    sealed = seal_for_notify(CONTACT, public)
    assert "王某" not in sealed
    assert json.dumps(CONTACT) not in sealed
    assert open_sealed(sealed, private) == CONTACT


def test_only_notify_private_key_opens():
    public, _ = keypair()
    _, other_private = keypair()
    sealed = seal_for_notify(CONTACT, public)
    with pytest.raises(SealError) as caught:
        open_sealed(sealed, other_private)
    assert_reveals_nothing(caught.value, "王某", "wang@example.org", sealed)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: flip_byte(c, 0),  # ephemeral public key
        lambda c: flip_byte(c, 40),  # tag
        lambda c: flip_byte(c, -1),
        lambda c: c[:16],
        lambda c: "%%%",
        lambda c: base64.b64encode(b"\x00" * 200).decode(),
    ],
)
def test_tampered_sealed_contact_is_refused(mangle):
    public, private = keypair()
    sealed = seal_for_notify(CONTACT, public)
    with pytest.raises(SealError) as caught:
        open_sealed(mangle(sealed), private)
    assert_reveals_nothing(caught.value, "王某", "wang@example.org", sealed)


def test_a_bad_notify_key_is_a_configuration_error():
    with pytest.raises(ValueError):
        seal_for_notify(CONTACT, b"short")
    with pytest.raises(ValueError):
        open_sealed("AAAA", b"short")


CONTACTS = [
    ({"anonymous": True}, None),
    (REPORTER, {"name": "王某", "channel": "email", "phone": "+8613800000000", "email": "wang@example.org"}),
    ({"anonymous": False, "name": "李某", "channel": "inbox"}, {"name": "李某", "channel": "inbox"}),
    (
        {
            "anonymous": False,
            "name": "李某",
            "channel": "webhook",
            "lang": "en",
            "webhook_url": "https://h.example.org/x",
        },
        {"name": "李某", "channel": "webhook", "webhook_url": "https://h.example.org/x", "lang": "en"},
    ),
]


@pytest.mark.parametrize(("reporter", "contact"), CONTACTS)
def test_contact_for_notify(reporter, contact):
    assert contact_for_notify(reporter) == contact


def test_keys_load_from_their_base64():
    public_b64, private_b64 = generate_keypair()
    assert public_b64 != private_b64
    assert len(load_key(public_b64, "NOTIFY_PUBLIC_KEY")) == 32
    urlsafe = base64.urlsafe_b64encode(b"\xfb" * 32).decode()
    assert load_key(urlsafe, "K") == b"\xfb" * 32
    assert load_key(f"  {private_b64}\n", "K") == base64.b64decode(private_b64)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "AAAA",
        base64.b64encode(b"x" * 31).decode(),
        base64.b64encode(b"x" * 33).decode(),
        "not base64!!",
        "秘密钥匙",
        None,
    ],
)
def test_a_bad_key_names_the_setting_and_not_the_value(text):
    with pytest.raises(ValueError) as caught:
        load_key(text, "REPORTER_KEY")
    assert str(caught.value) == "REPORTER_KEY: must be 32 bytes of base64"
    assert caught.value.__cause__ is None
