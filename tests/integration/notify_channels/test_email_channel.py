from datetime import UTC, datetime

import pytest

from services.notify.channels import DeliveryResult, EmailChannel
from services.notify.templates import render

from .conftest import RefusingHandler

ADDRESS = "wang@example.org"
MESSAGE = render(
    "closed",
    "zh",
    clue_ref="7QXM2H8D",
    at=datetime(2024, 3, 1, 2, 5, tzinfo=UTC),
    reporter_summary="经核实，已责令退还 4,645 元。<b>完</b>",
    outcomes=("admonition_talk", "restitution"),
    disposition="preliminary_verification",
)


def _channel(port, timeout=5.0):
    return EmailChannel("127.0.0.1", port, "notify@campaign.example", timeout)


def test_sends_utf8_multipart_that_decodes_to_chinese(smtp_recorder):
    port, handler = smtp_recorder
    result = _channel(port).send({"email": ADDRESS}, MESSAGE, delivery_id="01HDELIVERY")
    assert result == DeliveryResult("sent", None)
    assert len(handler.messages) == 1
    received = handler.messages[0]
    assert received["rcpt_tos"] == [ADDRESS]
    assert received["mail_from"] == "notify@campaign.example"
    email = received["message"]
    assert email["Subject"] == "您反映的问题线索已办结（编号 7QXM2H8D）"
    assert email["To"] == ADDRESS
    assert email["Message-ID"] == "<01HDELIVERY@notify.campaign>"
    assert email.get_content_type() == "multipart/alternative"
    plain = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "处理结果：诫勉谈话；责令退还" in plain
    assert "经核实，已责令退还 4,645 元。<b>完</b>" in plain
    assert "&lt;b&gt;完&lt;/b&gt;" in html and "<b>完</b>" not in html


def test_each_send_gets_its_own_message_id_unless_given(smtp_recorder):
    port, handler = smtp_recorder
    channel = _channel(port)
    channel.send({"email": ADDRESS}, MESSAGE)
    channel.send({"email": ADDRESS}, MESSAGE)
    ids = {m["message"]["Message-ID"] for m in handler.messages}
    assert len(ids) == 2


@pytest.mark.parametrize(
    ("code", "stage", "expected"),
    [
        (451, "data", DeliveryResult("retry", "smtp 451")),
        (451, "rcpt", DeliveryResult("retry", "smtp 451")),
        (452, "rcpt", DeliveryResult("retry", "smtp 452")),
        (550, "rcpt", DeliveryResult("failed", "smtp 550")),
        (550, "data", DeliveryResult("failed", "smtp 550")),
        (554, "data", DeliveryResult("failed", "smtp 554")),
    ],
)
def test_refusals_map_to_retry_or_failed(start_smtp, code, stage, expected):
    port = start_smtp(RefusingHandler(code, stage))
    result = _channel(port).send({"email": ADDRESS}, MESSAGE)
    assert result == expected
    assert "wang" not in result.reason and "example" not in result.reason


def test_closed_port_is_retry(closed_port):
    result = _channel(closed_port).send({"email": ADDRESS}, MESSAGE)
    assert result == DeliveryResult("retry", "smtp connection refused")


def test_silent_server_is_retry(silent_port):
    result = _channel(silent_port, timeout=0.3).send({"email": ADDRESS}, MESSAGE)
    assert result.status == "retry"
    assert ADDRESS not in result.reason


def test_a_login_without_starttls_is_refused_before_connecting(smtp_recorder):
    port, handler = smtp_recorder
    channel = EmailChannel("127.0.0.1", port, "notify@campaign.example", 5.0, starttls=False,
                           username="notify", password="secret")
    result = channel.send({"email": ADDRESS}, MESSAGE)
    assert result == DeliveryResult("failed", "smtp login needs starttls")
    assert handler.messages == []


def test_the_settings_refuse_a_login_without_starttls():
    from services.notify.settings import NotifySettings
    from shared.settings import Env, SettingsError

    env = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "MONGODB_URI": "mongodb://127.0.0.1:27017",
           "NOTIFY_PRIVATE_KEY": "A" * 43 + "=", "NOTIFY_WEBHOOK_SECRET": "s", "SMTP_USERNAME": "notify"}
    with pytest.raises(SettingsError, match="^SMTP_USERNAME: an SMTP login needs SMTP_STARTTLS=true"):
        NotifySettings.from_env(Env(env))
    assert NotifySettings.from_env(Env({**env, "SMTP_STARTTLS": "true"})).smtp_username == "notify"
