"""Intake's one rate limit: per client address, shared by every receipt route (API and pages).

Flask-Limiter checks every request of the app before its route runs, for default and
application-wide limits; a decorated route checks its own limit when it is called. Intake has
no default or application-wide limits, so that first check found nothing on every request, at a
price the hot path of posting clues felt. `ReceiptLimit` takes it out: only the decorated routes
pay for a limit, and a route decorated with `limiter.limit` later is still limited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_limiter import Limiter


class ReceiptLimit:
    """The receipt routes' shared limit, for `app`, whose limiter checks decorated routes only."""

    def __init__(self, app: Flask, limiter: Limiter, rate: str) -> None:
        self.limiter = limiter
        self._shared = limiter.shared_limit(rate, scope="receipts")
        # The limiter's check before every request (ValueError at start-up if a new Flask-Limiter
        # registers it differently: then the check costs again, it never stops limiting).
        app.before_request_funcs[None].remove(limiter._check_request_limit)

    def __call__(self, view: Callable[..., Any]) -> Callable[..., Any]:
        return self._shared(view)
