import json
from datetime import UTC, datetime

import pytest

from services.notify.channels import DeliveryResult, SmsGatewayChannel, WebhookChannel, verify
from services.notify.templates import SMS_MAX_CHARS, render

from .conftest import SMS_API_KEY, WEBHOOK_SECRET

MESSAGE = render(
    "closed",
    "zh",
    clue_ref="7QXM2H8D",
    at=datetime(2024, 3, 1, 2, 5, tzinfo=UTC),
    reporter_summary="经核实，问题属实。" * 100,
    outcomes=("reminder_talk",),
    disposition="talk_inquiry",
)
PHONE = "+8613800000000"


def _webhook(timeout=5.0):
    return WebhookChannel(WEBHOOK_SECRET, timeout, allow_private_hosts=True)


def test_webhook_delivers_a_signed_body(receiver):
    url = receiver.base_url + "/status/200"
    result = _webhook().send({"webhook_url": url}, MESSAGE, delivery_id="01HEVENT")
    assert result == DeliveryResult("sent", None)
    [request] = receiver.requests
    assert request["signature_ok"] is True
    assert request["headers"]["X-Event-Id"] == "01HEVENT"
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert request["json"]["id"] == "01HEVENT"
    assert request["json"]["subject"] == MESSAGE.subject
    assert request["json"]["text"] == MESSAGE.text
    assert not verify(b"wrong-secret", request["body"], request["headers"]["X-Signature"])
    assert not verify(WEBHOOK_SECRET, request["body"] + b" ", request["headers"]["X-Signature"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, DeliveryResult("sent", None)),
        (204, DeliveryResult("sent", None)),
        (500, DeliveryResult("retry", "http 500")),
        (503, DeliveryResult("retry", "http 503")),
        (429, DeliveryResult("retry", "http 429")),
        (408, DeliveryResult("retry", "http 408")),
        (404, DeliveryResult("failed", "http 404")),
        (410, DeliveryResult("failed", "http 410")),
        (302, DeliveryResult("failed", "http 302")),
    ],
)
def test_webhook_status_mapping(receiver, status, expected):
    url = f"{receiver.base_url}/status/{status}"
    assert _webhook().send({"webhook_url": url}, MESSAGE) == expected
    # Exactly one request: redirects are not followed and nothing is retried in place.
    assert len(receiver.requests) == 1
    assert receiver.requests[0]["signature_ok"] is True


def test_webhook_to_a_private_host_is_refused_by_default(receiver):
    url = receiver.base_url + "/status/200"
    result = WebhookChannel(WEBHOOK_SECRET, 5.0).send({"webhook_url": url}, MESSAGE)
    assert result == DeliveryResult("failed", "webhook host is not public")
    assert receiver.requests == []


def test_webhook_closed_port_is_retry(closed_port):
    url = f"http://127.0.0.1:{closed_port}/hook"
    result = _webhook().send({"webhook_url": url}, MESSAGE)
    assert result == DeliveryResult("retry", "http connection error")


def test_webhook_silent_server_is_retry(silent_port):
    url = f"http://127.0.0.1:{silent_port}/hook"
    result = _webhook(timeout=0.3).send({"webhook_url": url}, MESSAGE)
    assert result == DeliveryResult("retry", "http timeout")


def _sms(receiver, status):
    return SmsGatewayChannel(f"{receiver.base_url}/status/{status}", SMS_API_KEY, 5.0)


def test_sms_posts_short_text_with_bearer_key(receiver):
    result = _sms(receiver, 200).send({"phone": PHONE}, MESSAGE, delivery_id="01HSMS")
    assert result == DeliveryResult("sent", None)
    [request] = receiver.requests
    assert request["bearer_ok"] is True
    assert request["headers"]["X-Event-Id"] == "01HSMS"
    payload = json.loads(request["body"].decode("utf-8"))
    assert payload == {"to": PHONE, "text": MESSAGE.sms}
    assert len(payload["text"]) <= SMS_MAX_CHARS
    assert payload["text"].startswith("【纪委监委】")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "sent"),
        (202, "sent"),
        (500, "retry"),
        (429, "retry"),
        (404, "failed"),
        (401, "failed"),
    ],
)
def test_sms_status_mapping(receiver, status, expected):
    result = _sms(receiver, status).send({"phone": PHONE}, MESSAGE)
    assert result.status == expected
    assert PHONE not in (result.reason or "") and "138" not in (result.reason or "")
    assert len(receiver.requests) == 1


def test_sms_closed_port_is_retry(closed_port):
    channel = SmsGatewayChannel(f"http://127.0.0.1:{closed_port}/sms", SMS_API_KEY, 5.0)
    assert channel.send({"phone": PHONE}, MESSAGE) == DeliveryResult(
        "retry", "http connection error"
    )
