"""Events in, messages out: the notify consumer and deliverer against real servers."""

from __future__ import annotations

import logging

import pytest

from services.notify.app import create_app
from services.notify.delivery import SEAL_FAILED
from services.notify.documents import DeliveryAttempt, Notification
from shared.auth import issue_key
from shared.logs import JsonFormatter
from shared.sealing import generate_keypair, load_key, seal_for_notify
from tests.integration.shared.helpers import wait_for
from tests.unit.notify.events_factory import case_assigned, case_closed, case_escalated, clue_received

from .conftest import PUBLIC, RecordingHandler

pytestmark = pytest.mark.stack

EMAIL = "wang@example.org"


def sealed(contact: dict, public: bytes = PUBLIC) -> str:
    return seal_for_notify(contact, public)


def clue(n: int) -> str:
    return f"01HCLUE{n:019d}"


def statuses(clue_id: str) -> dict[str, str]:
    return {n.kind: n.status for n in Notification.objects(clue_id=clue_id)}


def all_final(clue_id: str, count: int) -> bool:
    found = statuses(clue_id)
    return len(found) == count and all(s in ("sent", "failed") for s in found.values())


def admin_get(settings, path: str, monkeypatch) -> dict:
    # The test's database connection is already open; create_app would reopen (and close) it.
    monkeypatch.setattr("services.notify.app.mongo.connect", lambda *args, **kwargs: None)
    app = create_app(settings)
    token = issue_key("admin")
    response = app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


class FlakyHandler(RecordingHandler):
    """Answers 451 to the first `refusals` DATA commands, then accepts and records."""

    def __init__(self, refusals: int):
        super().__init__()
        self.refusals = refusals
        self.calls = 0

    async def handle_DATA(self, server, session, envelope):
        self.calls += 1
        if self.calls <= self.refusals:
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


class RefuseAll:
    async def handle_DATA(self, server, session, envelope):
        return "550 5.7.1 refused"


def test_events_in_email_out(pipeline, smtp_recorder):
    port, handler = smtp_recorder
    running = pipeline(smtp_port=port)
    c = clue(1)
    # Topics are not ordered among themselves; in real life these events are minutes to weeks apart.
    received = clue_received(c, sealed({"name": "王某", "channel": "email", "email": EMAIL}))
    for count, envelope in enumerate((received, case_assigned(c), case_escalated(c), case_closed(c)), 1):
        running.publish(envelope)
        wait_for(lambda n=count: Notification.objects(clue_id=c).count() == n, message=f"{count} queued")
    wait_for(lambda: len(handler.messages) == 4, message="four emails")
    subjects = sorted(m["message"]["Subject"] for m in handler.messages)
    assert all(m["rcpt_tos"] == [EMAIL] for m in handler.messages)
    assert any("已受理" in s for s in subjects) and any("已办结" in s for s in subjects)
    closed = next(m["message"] for m in handler.messages if "已办结" in m["message"]["Subject"])
    assert "处理结果：诫勉谈话；责令退还" in closed.get_body(("plain",)).get_content()
    wait_for(lambda: all_final(c, 4), message="all recorded as sent")
    assert set(statuses(c).values()) == {"sent"}


def test_webhook_and_sms_arrive_signed_and_authorised(pipeline, receiver):
    running = pipeline(sms_gateway_url=receiver.base_url + "/status/202")
    hook, sms = clue(2), clue(3)
    running.publish(
        clue_received(hook, sealed({"channel": "webhook", "webhook_url": receiver.base_url + "/status/200",
                                    "lang": "en"})),
        clue_received(sms, sealed({"channel": "sms", "phone": "+8613800000000"})))
    wait_for(lambda: len(receiver.requests) == 2, message="two requests")
    by_path = {r["path"]: r for r in receiver.requests}
    webhook = by_path["/status/200"]
    assert webhook["signature_ok"] is True
    assert webhook["json"]["subject"].startswith("Your report has been received")
    gateway = by_path["/status/202"]
    assert gateway["bearer_ok"] is True and gateway["json"]["to"] == "+8613800000000"
    assert gateway["json"]["text"].startswith("【纪委监委】")
    wait_for(lambda: all_final(hook, 1) and all_final(sms, 1), message="both sent")
    assert Notification.objects.get(clue_id=hook).lang == "en"


def test_duplicates_and_close_before_assign(pipeline, smtp_recorder):
    port, handler = smtp_recorder
    running = pipeline(smtp_port=port)
    c = clue(4)
    received = clue_received(c, sealed({"channel": "email", "email": EMAIL}))
    closed, assigned = case_closed(c), case_assigned(c)
    running.publish(received, received)
    wait_for(lambda: Notification.objects(clue_id=c).count() == 1, message="received queued")
    running.publish(closed, received)
    wait_for(lambda: Notification.objects(clue_id=c).count() == 2, message="closed queued")
    running.publish(assigned, closed, assigned, received)  # the assign happened before the close
    wait_for(lambda: all_final(c, 2), message="received and closed sent")
    assert statuses(c) == {"received": "sent", "closed": "sent"}
    wait_for(lambda: len(handler.messages) == 2, message="two emails")
    assert not any("已受理" in m["message"]["Subject"] for m in handler.messages)


def test_case_event_before_clue_received_is_held_then_sent(pipeline):
    running = pipeline()
    c = clue(5)
    running.publish(case_assigned(c))
    wait_for(lambda: Notification.objects(clue_id=c).first(), message="accepted queued")
    running.publish(clue_received(c, None))  # anonymous: the inbox
    wait_for(lambda: all_final(c, 1), message="accepted sent")
    note = Notification.objects.get(clue_id=c)
    assert (note.kind, note.channel, note.status) == ("accepted", "inbox", "sent")


def test_smtp_4xx_is_retried_then_sent_and_5xx_fails_visibly(pipeline, start_smtp, monkeypatch):
    flaky = FlakyHandler(refusals=2)
    flaky_port = start_smtp(flaky)
    running = pipeline(smtp_port=flaky_port)
    c = clue(6)
    running.publish(clue_received(c, sealed({"channel": "email", "email": EMAIL})))
    wait_for(lambda: all_final(c, 1), message="sent after retries")
    note = Notification.objects.get(clue_id=c)
    assert (note.status, note.attempts) == ("sent", 3)
    assert [a.status for a in DeliveryAttempt.objects(notification_id=note.id).order_by("number")] == [
        "retry", "retry", "sent"]
    assert len(flaky.messages) == 1
    running.close()

    refusing = pipeline(smtp_port=start_smtp(RefuseAll()))
    bad = clue(7)
    refusing.publish(clue_received(bad, sealed({"channel": "email", "email": EMAIL})))
    wait_for(lambda: all_final(bad, 1), message="failed")
    refusing.close()
    body = admin_get(refusing.settings, f"/v1/notifications?clue_id={bad}", monkeypatch)
    [item] = body["items"]
    assert (item["status"], item["channel"], item["attempt_count"]) == ("failed", "email", 1)
    assert item["attempts"][0]["reason"] == "smtp 550" and item["attempts"][0]["at"]
    assert item["text"] and EMAIL not in str(body)


def test_wrong_key_contact_fails_with_a_reason_and_leaks_nothing(pipeline, smtp_recorder, caplog):
    port, handler = smtp_recorder
    running = pipeline(smtp_port=port)
    other_public = load_key(generate_keypair()[0], "public")
    ciphertext = sealed({"name": "王某", "channel": "email", "email": EMAIL}, other_public)
    c = clue(8)
    # As configure_logging sets it: our code at DEBUG, the drivers at INFO (pymongo's DEBUG
    # command log prints whole documents, so it is never on in a deployment).
    caplog.set_level(logging.INFO)
    for ours in ("services", "shared"):
        caplog.set_level(logging.DEBUG, logger=ours)
    running.publish(clue_received(c, ciphertext))
    wait_for(lambda: all_final(c, 1), message="failed")
    note = Notification.objects.get(clue_id=c)
    assert (note.status, note.last_reason) == ("failed", SEAL_FAILED)
    assert handler.messages == []
    formatter = JsonFormatter("notify")
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    assert SEAL_FAILED in logged or note.id in logged
    for secret in (EMAIL, "王某", ciphertext, ciphertext[:40]):
        assert secret not in logged


def test_a_down_channel_does_not_delay_other_clues(pipeline, smtp_recorder, silent_port, closed_port):
    port, handler = smtp_recorder
    running = pipeline(smtp_port=port, webhook_timeout=10.0, channel_workers=1,
                       sms_gateway_url=f"http://127.0.0.1:{closed_port}/sms")
    stuck = [clue(20 + i) for i in range(4)]
    for c in stuck:
        running.publish(clue_received(c, sealed({"channel": "webhook",
                                                 "webhook_url": f"http://127.0.0.1:{silent_port}/hook"})))
    down_sms = clue(30)
    running.publish(clue_received(down_sms, sealed({"channel": "sms", "phone": "+8613800000000"})))
    wait_for(lambda: Notification.objects(clue_id__in=stuck, status="sending").count() >= 1,
             message="a webhook send in flight")
    inbox, email = clue(31), clue(32)
    running.publish(clue_received(inbox, None),
                    clue_received(email, sealed({"channel": "email", "email": EMAIL})))
    wait_for(lambda: all_final(inbox, 1) and all_final(email, 1), message="inbox and email sent")
    assert statuses(inbox) == {"received": "sent"} and statuses(email) == {"received": "sent"}
    # The silent webhook server still holds its sends: none of them finished meanwhile.
    assert Notification.objects(clue_id__in=stuck, status="sent").count() == 0
    assert DeliveryAttempt.objects(clue_id__in=stuck).count() == 0
    wait_for(lambda: DeliveryAttempt.objects(clue_id=down_sms, status="retry").count() >= 1,
             message="sms retried on the closed port")
