"""Steps on the workspace pages (Flask test client) and the cases behind them."""

from __future__ import annotations

from services.assignment import handlers
from shared import events
from shared.auth import issue_key
from tests.integration.assignment.workers import clue_event
from tests.integration.intake_pages.html import Page


def page(resp) -> Page:
    return Page(resp.get_data(as_text=True))


def receive(app, clue_id: str, **kw) -> dict:
    """Handle a clue-received event as the consumer would; the case it made or joined."""
    ctx = app.extensions["assignment.ctx"]
    handlers.clue_received(events.decode(events.encode(clue_event(clue_id, **kw))), ctx)
    return handlers.cases().find_one({"clue_id": clue_id})


def sign_in(http, role: str, scope: str = "") -> str:
    """Issue a key, sign in with it through the form; the key."""
    token = issue_key(role, scope)
    resp = post_form(http, "/workspace/sign-in", "/workspace/sign-in", {"key": token})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    return token


def post_form(http, form_path: str, action: str, data: dict, token: str | None = None):
    """Open `form_path`, then post `data` to `action` with the page's CSRF token."""
    if token is None:
        token = page(http.get(form_path)).csrf()
    return http.post(action, data={**data, "csrf_token": token})


def rows(resp) -> list[str]:
    """The case ids of a page's case table rows, in order."""
    return [e.attrs["data-case"] for e in page(resp).all("tr") if "data-case" in e.attrs]
