"""GET /v1/notifications (admin): what was sent to reporters, over which channel, with attempts."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from marshmallow import Schema, fields, validate

from services.notify.notification_store import notifications
from shared.auth import require
from shared.problems import Problem
from shared.web import ApiBlueprint

bp = ApiBlueprint("notifications", __name__)
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}\Z")


class ListQuery(Schema):
    clue_id = fields.String(validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(min=1, max=200))


class AttemptOut(Schema):
    number = fields.Integer()
    channel = fields.String()
    status = fields.String(metadata={"enum": ["sent", "retry", "failed"]})
    reason = fields.String(allow_none=True)
    at = fields.AwareDateTime()


class NotificationOut(Schema):
    id = fields.String()
    clue_id = fields.String()
    kind = fields.String()
    channel = fields.String(allow_none=True, metadata={"description": "null until the contact is known"})
    lang = fields.String()
    subject = fields.String()
    text = fields.String()
    status = fields.String(metadata={"enum": ["pending", "sending", "sent", "failed"]})
    attempt_count = fields.Integer()
    attempts = fields.List(fields.Nested(AttemptOut))
    last_reason = fields.String(allow_none=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)


class NotificationList(Schema):
    items = fields.List(fields.Nested(NotificationOut))
    next = fields.String(allow_none=True)


def _cursor_out(seq: str) -> str:
    return base64.urlsafe_b64encode(seq.encode()).decode().rstrip("=")


def _cursor_in(cursor: str) -> str:
    try:
        seq = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        seq = ""
    if not _ULID.match(seq):
        raise Problem(422, "Unprocessable Content", "some fields are invalid",
                      errors={"cursor": ["Not a cursor from this list."]})
    return seq


def _render(doc: dict[str, Any], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": doc["_id"], "clue_id": doc["clue_id"], "kind": doc["kind"],
        "channel": doc.get("channel") or None,
        "lang": doc["lang"], "subject": doc["subject"], "text": doc["text"], "status": doc["status"],
        "attempt_count": doc.get("attempts", 0),
        "attempts": [{"number": a["number"], "channel": a["channel"], "status": a["status"],
                      "reason": a.get("reason"), "at": a["at"]} for a in attempts],
        "last_reason": doc.get("last_reason"),
        "next_attempt_at": doc["due_at"] if doc["status"] in ("pending", "sending") else None,
        "created_at": doc["created_at"], "sent_at": doc["sent_at"],
    }


@bp.operation("GET", "/v1/notifications", require("admin"))  # the key checked before the arguments
@bp.doc(summary="Notifications sent (or being sent) to reporters")
@bp.arguments(ListQuery, location="query", as_kwargs=True)
@bp.response(200, NotificationList, description="a page of notifications")
@bp.alt_response(401, description="no or bad key")
@bp.alt_response(403, description="not an admin key")
def list_notifications(limit: int, clue_id: str | None = None, cursor: str | None = None):
    """Notifications newest first, with their delivery attempts; never contact details."""
    store = notifications()
    docs = store.page(limit + 1, clue_id, _cursor_in(cursor) if cursor is not None else None)
    more = len(docs) > limit
    docs = docs[:limit]
    attempts = store.attempts_of([d["_id"] for d in docs])
    items = [_render(d, attempts[d["_id"]]) for d in docs]
    return {"items": items, "next": _cursor_out(docs[-1]["seq"]) if more else None}
