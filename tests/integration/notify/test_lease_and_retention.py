"""The deliverer's lease checked before each send, and the retention of sealed contacts, on the
real local database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from services.notify import retention
from services.notify.channels import SENT
from services.notify.delivery import Deliverer
from services.notify.documents import ClueContact, Notification
from shared.mongo import new_id
from shared.sealing import seal_for_notify
from shared.times import to_ms
from tests.integration.notify.conftest import PUBLIC, make_settings

pytestmark = pytest.mark.stack

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


class Blocking:
    """A webhook channel that records its sends; the first send waits for `release`."""

    def __init__(self, block_first: bool) -> None:
        self.sent: list[str] = []
        self.release = threading.Event()
        self.started = threading.Event()
        self.block_first = block_first

    def send(self, contact, message, *, delivery_id):
        if self.block_first and not self.sent:
            self.started.set()
            self.release.wait(30)
        self.sent.append(delivery_id)
        return SENT


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _contact(clue_id: str, *, closed: bool = False, last_update: datetime = T0) -> None:
    sealed = seal_for_notify({"channel": "webhook", "webhook_url": "https://hooks.example/x"}, PUBLIC)
    ClueContact(id=clue_id, reporter_ref="r_x", channel="webhook", lang="zh", contact_sealed=sealed,
                anonymous=False, closed=closed, last_update_ms=to_ms(last_update), created_at=T0).save()


def _notification(clue_id: str, status: str = "pending", kind: str = "received") -> str:
    nid = new_id()
    Notification(id=nid, key=nid, seq=new_id(), clue_id=clue_id, kind=kind, channel="webhook",
                 lang="zh", subject="s", text="t", params={"at": T0.isoformat()}, status=status,
                 due_ms=to_ms(T0), created_at=T0).save(force_insert=True)
    return nid


def test_a_job_that_waited_past_its_lease_is_not_sent_twice(settings, mongo_db):
    """A's pool holds the second job behind a slow send past the lease; B claims and sends it;
    when A's worker gets to it, the lease check finds it is no longer A's and skips it."""
    config = make_settings(settings, mongo_db, channel_workers=1, lease_s=60.0)
    first_clue, second_clue = new_id(), new_id()
    _contact(first_clue), _contact(second_clue)
    first, second = _notification(first_clue), _notification(second_clue)
    slow, other = Blocking(block_first=True), Blocking(block_first=False)
    clock = Clock(T0)
    a = Deliverer(config, {"inbox": slow, "webhook": slow}, clock=clock)
    b = Deliverer(config, {"inbox": other, "webhook": other}, clock=clock)
    try:
        assert a.run_once() == 2
        assert slow.started.wait(10)
        # The second job waits in A's pool until its lease runs out (the first's was just renewed).
        expired = {"$set": {"lease_until_ms": to_ms(T0) - 1}}
        Notification._get_collection().update_one({"_id": second}, expired)
        assert b.run_once() == 1
        assert b.wait_idle(10) and other.sent == [second]
        slow.release.set()
        assert a.wait_idle(10)
        assert slow.sent == [first]  # the second went out once, from B
        assert Notification.objects.get(id=second).status == "sent"
    finally:
        slow.release.set()
        a.close(), b.close()


def test_retention_erases_closed_contacts_after_the_window_only(settings, mongo_db):
    old, recent, open_, waiting = new_id(), new_id(), new_id(), new_id()
    _contact(old, closed=True, last_update=T0)
    _contact(recent, closed=True, last_update=T0 + timedelta(days=100))
    _contact(open_, closed=False, last_update=T0)
    _contact(waiting, closed=True, last_update=T0)
    _notification(waiting, status="pending", kind="closed")  # its result notice has not gone out
    sent = _notification(old, status="sent", kind="closed")
    now = T0 + timedelta(days=181)
    assert retention.erase_expired(180, now, batch=2) == 1
    stored = {c["_id"]: c for c in ClueContact._get_collection().find()}
    assert stored[old]["contact_sealed"] is None and stored[old]["erased_ms"] == to_ms(now)
    assert stored[old]["channel"] == "webhook"  # statistics keep the channel
    for kept in (recent, open_, waiting):
        assert stored[kept]["contact_sealed"], kept
    assert Notification.objects.get(id=sent).text == "t"
    assert retention.erase_expired(180, now) == 0  # nothing twice
