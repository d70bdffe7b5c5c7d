"""The notification store's contract, on the real database and on the in-memory twin the unit tests
use: the same calls give the same answers on both, in datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notify.memory_store import MemoryNotificationStore
from services.notify.notification_store import Contact, NotificationStore
from services.notify.progress import CLOSED, Progress

pytestmark = pytest.mark.stack

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["database", "memory"])
def store(request, mongo_db):
    return NotificationStore() if request.param == "database" else MemoryNotificationStore()


def same_time(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.replace(tzinfo=a.tzinfo or UTC) == b.replace(tzinfo=b.tzinfo or UTC)


def contact(clue_id: str, *, anonymous: bool = False, closed: bool = False, at: datetime = T0,
            sealed: str | None = "sealed-contact") -> Contact:
    return Contact(clue_id, "ref-" + clue_id, "inbox" if anonymous else "", "",
                   None if anonymous else sealed, anonymous, closed, at, T0)


def notification(nid: str, clue_id: str = "c1", *, channel: str = "inbox", due: datetime = T0,
                 seq: str | None = None, status: str = "pending") -> dict:
    return dict(id=nid, key="k-" + nid, seq=seq or nid, clue_id=clue_id, event_id="e-" + nid,
                kind="received", channel=channel, lang="zh", subject="主题", text="正文",
                params={"at": T0.isoformat()}, status=status, attempts=0, due_at=due,
                last_reason=None, created_at=T0)


def test_a_contact_is_kept_once_and_read_back(store):
    assert store.add_contact(contact("c1")) is True
    assert store.add_contact(contact("c1", sealed="another")) is False
    found = store.contact("c1")
    assert (found.id, found.reporter_ref, found.contact_sealed, found.anonymous, found.closed) == (
        "c1", "ref-c1", "sealed-contact", False, False)
    assert same_time(found.last_update, T0) and same_time(found.created_at, T0)
    assert store.contact("nobody") is None
    store.note_channel("c1", "email")
    reach = store.reach("c1")
    assert (reach.channel, reach.anonymous) == ("email", False)
    assert (reach.contact_sealed, reach.reporter_ref) == (None, "")  # never the sealed details
    assert store.reach("nobody") is None
    store.add_contact(contact("c2", anonymous=True))
    assert set(store.contacts(["c1", "c2", "nobody"])) == {"c1", "c2"}
    assert store.contacts(["c2"])["c2"].channel == "inbox"


def test_a_contact_learns_its_channel_its_closing_and_its_last_update(store):
    store.add_contact(contact("c1"))
    store.note_channel("c1", "email")
    store.mark_closed("c1", True)
    assert (store.contact("c1").channel, store.contact("c1").closed) == ("email", True)
    store.touch("c1", T0 + timedelta(days=3), closed=False)
    found = store.contact("c1")
    assert found.closed is False and same_time(found.last_update, T0 + timedelta(days=3))


def test_quiet_contacts_are_claimed_once(store):
    store.add_contact(contact("quiet"))
    store.add_contact(contact("anonymous", anonymous=True))
    store.add_contact(contact("closed", closed=True))
    store.add_contact(contact("fresh", at=T0 + timedelta(days=20)))
    since, now = T0 + timedelta(days=1), T0 + timedelta(days=31)
    quiet = store.quiet_contacts(since, 10)
    assert [c.id for c in quiet] == ["quiet"] and same_time(quiet[0].last_update, T0)
    assert store.claim_quiet("quiet", since, now) is True
    assert store.claim_quiet("quiet", since, now) is False  # another scheduler was first
    assert store.claim_quiet("fresh", since, now) is False
    assert store.quiet_contacts(since, 10) == []
    assert same_time(store.contact("quiet").last_update, now)


def test_sealed_contacts_of_closed_quiet_clues_are_erased_unless_a_notice_waits(store):
    for clue_id in ("old", "old2", "waiting"):
        store.add_contact(contact(clue_id, closed=True))
    store.add_contact(contact("recent", closed=True, at=T0 + timedelta(days=100)))
    store.add_contact(contact("open"))
    store.add_notification(notification("n-waiting", "waiting", status="pending"))
    store.add_notification(notification("n-old", "old", status="sent"))
    cutoff, now = T0 + timedelta(days=1), T0 + timedelta(days=181)
    assert store.erase_contacts(cutoff, now, batch=1) == 2
    assert store.contact("old").contact_sealed is None and store.contact("old2").contact_sealed is None
    assert store.contact("old").channel == "" and store.contact("old").reporter_ref == "ref-old"
    for kept in ("waiting", "recent", "open"):
        assert store.contact(kept).contact_sealed == "sealed-contact", kept
    assert store.erase_contacts(cutoff, now, batch=10) == 0


def test_progress_moves_only_from_the_version_it_was_read_at(store):
    assert store.progress("c1") is None
    first = Progress(stage=1, generation=0)
    assert store.start_progress("c1", first, T0) is True
    assert store.start_progress("c1", first, T0) is False
    assert store.progress("c1") == (first, 0)
    closed = Progress(stage=CLOSED, generation=0, closed_at=T0 + timedelta(days=2))
    assert store.move_progress("c1", 0, closed, T0) is True
    assert store.move_progress("c1", 0, first, T0) is False  # read before the other change
    progress, version = store.progress("c1")
    assert version == 1 and progress.stage == CLOSED and same_time(progress.closed_at, closed.closed_at)


def test_notifications_are_stored_once_and_listed_newest_first(store):
    assert store.add_notification(notification("n1", seq="01A")) is True
    assert store.add_notification(notification("n1", seq="01Z")) is False
    store.add_notification(notification("n2", "c2", seq="01B"))
    store.add_notification(notification("n3", seq="01C"))
    assert [d["_id"] for d in store.page(10)] == ["n3", "n2", "n1"]
    assert [d["_id"] for d in store.page(10, clue_id="c1")] == ["n3", "n1"]
    assert [d["_id"] for d in store.page(1, before_seq="01C")] == ["n2"]
    [first] = store.page(1, clue_id="c1", before_seq="01B")
    assert (first["kind"], first["status"], first["text"], first.get("attempts", 0)) == (
        "received", "pending", "正文", 0)
    assert same_time(first["due_at"], T0) and same_time(first["created_at"], T0)
    assert first["sent_at"] is None and first["lease_until"] is None and first.get("last_reason") is None


def test_notifications_waiting_for_a_contact_are_released_into_its_lane(store):
    store.add_notification(notification("n1", channel=""))
    store.add_notification(notification("n2", "c2", channel=""))
    store.release_waiting("c1", "email", T0 + timedelta(minutes=5))
    by_id = {d["_id"]: d for d in store.page(10)}
    assert by_id["n1"]["channel"] == "email" and same_time(by_id["n1"]["due_at"], T0 + timedelta(minutes=5))
    assert by_id["n2"]["channel"] == ""


def test_a_claim_leases_due_notifications_lane_by_lane(store):
    for nid, channel, due in (("i1", "inbox", T0), ("i2", "inbox", T0 - timedelta(minutes=1)),
                              ("e1", "email", T0), ("e2", "email", T0), ("w1", "webhook", T0),
                              ("u1", "", T0), ("later", "inbox", T0 + timedelta(hours=1))):
        store.add_notification(notification(nid, channel=channel, due=due))
    lease = T0 + timedelta(minutes=2)
    claimed = store.claim([("inbox", 10), ("email", 1), (("inbox", "email"), 10)], T0, "token-a", lease)
    assert sorted(d["_id"] for d in claimed) == ["e1", "i1", "i2", "u1", "w1"] or \
        sorted(d["_id"] for d in claimed) == ["e2", "i1", "i2", "u1", "w1"]
    assert all(d["status"] == "sending" and d["lease_owner"] == "token-a" for d in claimed)
    assert all(same_time(d["lease_until"], lease) for d in claimed)
    assert store.claim([("inbox", 10), ("email", 10)], T0, "token-b", lease) != []  # the other e-mail
    assert store.claim([("inbox", 10), ("email", 10)], T0, "token-c", lease) == []
    expired = store.claim([("inbox", 10)], lease, "token-d", lease + timedelta(minutes=2))
    assert sorted(d["_id"] for d in expired) == ["i1", "i2"]  # their leases ran out
    assert store.claim([("inbox", 10)], lease + timedelta(minutes=3), "token-e", lease,
                       take_expired=False) == []


def test_a_lease_is_renewed_and_released_only_by_its_holder(store):
    store.add_notification(notification("n1"))
    [claimed] = store.claim([("inbox", 10)], T0, "mine", T0 + timedelta(minutes=1))
    assert store.renew("n1", "mine", T0 + timedelta(minutes=5)) is True
    assert store.renew("n1", "theirs", T0 + timedelta(minutes=9)) is False
    assert store.claim([("inbox", 10)], T0 + timedelta(minutes=2), "theirs", T0) == []  # renewed
    store.release([("n1", "theirs", {"status": "failed"})])  # not theirs: nothing changes
    store.release([("n1", "mine", {"status": "sent", "attempts": 1, "sent_at": T0 + timedelta(seconds=3),
                                   "outcome_pending": True, "last_reason": None})])
    [done] = store.page(1)
    assert (done["status"], done["attempts"], done["lease_owner"]) == ("sent", 1, "")
    assert same_time(done["sent_at"], T0 + timedelta(seconds=3)) and done["lease_until"] is None
    store.add_notification(notification("n2", due=T0))
    store.claim([("inbox", 10)], T0, "mine", T0 + timedelta(minutes=1))
    store.release([("n2", "mine", {"status": "pending", "due_at": T0 + timedelta(hours=1)})])
    assert store.claim([("inbox", 10)], T0 + timedelta(minutes=59), "t", T0) == []
    assert [d["_id"] for d in store.claim([("inbox", 10)], T0 + timedelta(hours=1), "t", T0)] == ["n2"]


def test_attempts_are_listed_per_notification_in_order(store):
    attempt = {"notification_id": "n1", "clue_id": "c1", "channel": "email", "status": "retry",
               "reason": "channel error", "at": T0, "duration_ms": 5}
    store.add_attempts([{**attempt, "_id": "a2", "number": 2}, {**attempt, "_id": "a1", "number": 1}])
    store.add_attempts([])
    found = store.attempts_of(["n1", "n2"])
    assert [a["number"] for a in found["n1"]] == [1, 2] and found["n2"] == []
    assert same_time(found["n1"][0]["at"], T0) and found["n1"][0]["reason"] == "channel error"


def test_final_outcomes_wait_until_told(store):
    for nid in ("n1", "n2"):
        store.add_notification(notification(nid))
        store.claim([("inbox", 10)], T0, "t-" + nid, T0 + timedelta(minutes=1))
    sent = T0 + timedelta(seconds=1)
    store.release([("n1", "t-n1", {"status": "sent", "sent_at": sent, "outcome_pending": True}),
                   ("n2", "t-n2", {"status": "failed", "last_reason": "channel not available",
                                   "outcome_pending": True})])
    pending = {d["_id"]: d for d in store.pending_outcomes(10)}
    assert set(pending) == {"n1", "n2"} and len(store.pending_outcomes(1)) == 1
    assert same_time(pending["n1"]["sent_at"], sent) and pending["n2"]["sent_at"] is None
    assert pending["n2"]["last_reason"] == "channel not available" and pending["n1"]["clue_id"] == "c1"
    store.outcome_told("n1", "sent")
    store.outcome_told("n2", "sent")  # its status is not that one: the flag stays
    assert [d["_id"] for d in store.pending_outcomes(10)] == ["n2"]
