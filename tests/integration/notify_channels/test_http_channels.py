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


def test_each_recipient_has_its_own_signing_secret(receiver):
    from services.notify.channels import recipient_secret

    first, second = receiver.base_url + "/status/200", receiver.base_url + "/status/204"
    _webhook().send({"webhook_url": first}, MESSAGE)
    _webhook().send({"webhook_url": second}, MESSAGE)
    one, two = receiver.requests
    assert one["signature_ok"] and two["signature_ok"]
    assert not one["signed_with_master"] and not two["signed_with_master"]
    # What one recipient can verify with (its own secret) signs nothing for another.
    assert not verify(recipient_secret(WEBHOOK_SECRET, first), two["body"], two["headers"]["X-Signature"])


def test_a_reporter_given_secret_signs_their_webhook(receiver):
    own = "reporter-chosen-secret-0123456789-abcdef"
    _webhook().send({"webhook_url": receiver.base_url + "/status/200", "webhook_secret": own}, MESSAGE)
    [request] = receiver.requests
    assert verify(own.encode(), request["body"], request["headers"]["X-Signature"])


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(receiver):
    """DNS rebinding: the check sees a public address; a second lookup would answer 127.0.0.1."""
    port = int(receiver.base_url.rsplit(":", 1)[1])
    answers = [("93.184.216.34", port), ("127.0.0.1", port)]
    lookups, connections = [], []

    def resolver(host, port_, **kwargs):
        lookups.append(host)
        address = answers[min(len(lookups), len(answers)) - 1]
        return [(2, 1, 6, "", address)]

    def connect(address, timeout):
        connections.append(address)
        raise ConnectionRefusedError("not leaving this machine in a test")

    channel = WebhookChannel(WEBHOOK_SECRET, 5.0, resolver=resolver, connect=connect)
    result = channel.send({"webhook_url": f"http://hooks.example.net:{port}/status/200"}, MESSAGE)
    assert result == DeliveryResult("retry", "http connection error")
    assert lookups == ["hooks.example.net"] and connections == [("93.184.216.34", port)]
    assert receiver.requests == []  # the internal service was never reached


def test_a_host_with_any_private_address_is_refused():
    def resolver(host, port, **kwargs):
        return [(2, 1, 6, "", ("93.184.216.34", port)), (2, 1, 6, "", ("10.0.0.5", port))]

    channel = WebhookChannel(WEBHOOK_SECRET, 5.0, resolver=resolver,
                             connect=lambda *a: pytest.fail("must not connect"))
    assert channel.send({"webhook_url": "https://hooks.example.net/x"}, MESSAGE) == DeliveryResult(
        "failed", "webhook host is not public")


@pytest.fixture
def dripping_port():
    """A server that answers one byte every 0.1 s, forever (each read on its own is quick)."""
    import socket
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            try:
                conn.recv(65536)
                while not stop.is_set():
                    conn.sendall(b"H")
                    time.sleep(0.1)
            except OSError:
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_a_server_that_drips_its_answer_is_cut_at_the_total_time(dripping_port):
    import time

    started = time.monotonic()
    result = _webhook(timeout=0.5).send({"webhook_url": f"http://127.0.0.1:{dripping_port}/x"}, MESSAGE)
    assert result == DeliveryResult("retry", "http timeout")
    assert time.monotonic() - started < 3  # per-read timeouts alone would wait forever


@pytest.fixture
def flooding_port():
    """A server that answers an endless status line (no line end)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    sent = []

    def serve():
        conn, _ = server.accept()
        try:
            conn.recv(65536)
            for _ in range(1000):
                conn.sendall(b"X" * 1024)
                sent.append(1024)
        except OSError:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], sent
    thread.join(10)
    server.close()


def test_an_endless_answer_is_read_only_up_to_the_cap(flooding_port):
    port, sent = flooding_port
    result = _webhook().send({"webhook_url": f"http://127.0.0.1:{port}/x"}, MESSAGE)
    assert result == DeliveryResult("retry", "http answer not understood")
