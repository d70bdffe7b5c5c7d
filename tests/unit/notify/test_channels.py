"""Channel behaviour that needs no server; the network paths are in tests/integration."""

import json
from types import SimpleNamespace

import pytest

from services.notify.channels import (
    DeliveryResult,
    EmailChannel,
    InboxChannel,
    SmsGatewayChannel,
    WebhookChannel,
    channel_for,
    http_status_result,
    sign,
    smtp_code_result,
    verify,
    webhook_body,
)
from services.notify.templates import Message

MESSAGE = Message(subject="主题", text="正文", html="<p>正文</p>", sms="短信")
SECRET = b"s3cret"


def test_sign_is_hex_hmac_sha256():
    # RFC 4231 test case 2.
    assert sign(b"Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


@pytest.mark.parametrize(
    ("body", "header", "ok"),
    [
        (b"{}", sign(SECRET, b"{}"), True),
        (b"{}", " " + sign(SECRET, b"{}") + " ", True),
        (b"{} ", sign(SECRET, b"{}"), False),
        (b"{}", sign(b"other", b"{}"), False),
        (b"{}", sign(SECRET, b"{}").removeprefix("sha256="), False),
        (b"{}", "", False),
        (b"{}", None, False),
        (b"{}", "sha256=zz", False),
        (b"{}", "sha256=\u00e9", False),
    ],
)
def test_verify(body, header, ok):
    assert verify(SECRET, body, header) is ok


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "sent"),
        (201, "sent"),
        (204, "sent"),
        (301, "failed"),
        (302, "failed"),
        (400, "failed"),
        (401, "failed"),
        (403, "failed"),
        (404, "failed"),
        (408, "retry"),
        (410, "failed"),
        (422, "failed"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (599, "retry"),
    ],
)
def test_http_status_mapping(status, expected):
    assert http_status_result(status).status == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (421, "retry"),
        (450, "retry"),
        (451, "retry"),
        (452, "retry"),
        (500, "failed"),
        (535, "failed"),
        (550, "failed"),
        (554, "failed"),
    ],
)
def test_smtp_code_mapping(code, expected):
    result = smtp_code_result(code)
    assert result == DeliveryResult(expected, f"smtp {code}")


def test_inbox_always_sent():
    assert InboxChannel().send({}, MESSAGE) == DeliveryResult("sent", None)
    assert InboxChannel.name == "inbox"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.org/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "gopher://127.0.0.1:25/",
        "//hooks.example.org/x",
        "http://",
        "https://hooks.example.org/a b",
        "https://hooks.example.org/\r\nX-Injected: 1",
        "",
        None,
        42,
    ],
)
def test_webhook_refuses_urls_that_are_not_http(url):
    result = WebhookChannel(SECRET, 1.0, allow_private_hosts=True).send(
        {"webhook_url": url}, MESSAGE
    )
    assert result.status == "failed"
    assert "example" not in (result.reason or "") and "passwd" not in (result.reason or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
    ],
)
def test_webhook_refuses_non_public_hosts_by_default(url):
    result = WebhookChannel(SECRET, 1.0).send({"webhook_url": url}, MESSAGE)
    assert result == DeliveryResult("failed", "webhook host is not public")


def test_webhook_needs_a_secret():
    with pytest.raises(ValueError):
        WebhookChannel(b"", 1.0)


def test_webhook_body_is_compact_utf8_json():
    body = webhook_body("01HEVENT", MESSAGE)
    assert "主题".encode() in body
    assert json.loads(body) == {
        "id": "01HEVENT",
        "type": "campaign.notification.v1",
        "subject": "主题",
        "text": "正文",
        "html": "<p>正文</p>",
    }


@pytest.mark.parametrize(
    "contact",
    [
        {},
        {"email": ""},
        {"email": "not-an-address"},
        {"email": "a@b.org\r\nBcc: x@y.org"},
        {"email": "a@b.org, c@d.org"},
        {"email": ["a@b.org"]},
        {"phone": "+8613800000000"},
    ],
)
def test_email_refuses_missing_or_malformed_addresses_without_echoing_them(contact):
    # Port 9 on 127.0.0.1 is never contacted: the address check comes first.
    result = EmailChannel("127.0.0.1", 9, "notify@example.org", 1.0).send(contact, MESSAGE)
    assert result == DeliveryResult("failed", "no valid email address")


@pytest.mark.parametrize(
    "contact",
    [
        {},
        {"phone": ""},
        {"phone": "call me"},
        {"phone": "+86 138"},
        {"phone": 13800000000},
        {"email": "a@b.org"},
    ],
)
def test_sms_refuses_missing_or_malformed_numbers(contact):
    channel = SmsGatewayChannel("http://127.0.0.1:9/sms", "key", 1.0)
    assert channel.send(contact, MESSAGE) == DeliveryResult("failed", "no valid phone number")


def test_sms_gateway_url_must_be_http():
    with pytest.raises(ValueError):
        SmsGatewayChannel("ftp://gateway/", "key", 1.0)


@pytest.mark.parametrize("as_object", [False, True])
def test_channel_for_builds_each_channel(as_object):
    settings = {
        "smtp_host": "mail.local",
        "smtp_port": "2525",
        "smtp_sender": "notify@example.org",
        "smtp_timeout": 5,
        "webhook_secret": "abc",
        "sms_gateway_url": "https://sms.local/send",
        "sms_api_key": "k",
    }
    source = SimpleNamespace(**settings) if as_object else settings
    email = channel_for("email", source)
    assert isinstance(email, EmailChannel) and email.port == 2525 and email.timeout == 5.0
    webhook = channel_for("webhook", source)
    assert isinstance(webhook, WebhookChannel) and webhook.secret == b"abc"
    assert not webhook.allow_private_hosts
    assert isinstance(channel_for("sms", source), SmsGatewayChannel)
    assert isinstance(channel_for("inbox", source), InboxChannel)
    with pytest.raises(ValueError):
        channel_for("pigeon", source)
