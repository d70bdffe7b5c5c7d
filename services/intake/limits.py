"""Intake's rate limits on the receipt routes, counted in MongoDB through the `limits` package.

Two limits, both fixed windows of `limits`' FixedWindowRateLimiter on `MongoCounters`
(limit_store.py), a `limits` storage on a plain MongoDB collection (shared by every worker and
every web process):

- per client: `INTAKE_RECEIPT_RATE_LIMIT` (20/minute) for every receipt route, API and pages.
  The client is the address the trusted proxies saw (`TRUSTED_PROXY_HOPS`, applied by
  `shared.web`); an IPv6 client is keyed by its /64, which one household or phone holds.
  A page post is counted only after its CSRF check passed, so junk posts cannot drain it.
- per receipt code: `INTAKE_RECEIPT_CODE_FAILURES` (10) wrong secrets for one code within an
  hour and that code answers 429 for an hour, whatever address asks, and the same for a code
  no clue has (a guesser learns nothing from it).

Keys are HMACs of the address or the code under a key of this purpose: the collection holds no
address and no code (an anonymous reporter's address beside a time would unmask them).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask, Response, after_this_request, current_app, request
from limits import RateLimitItem, RateLimitItemPerHour, parse
from limits.strategies import FixedWindowRateLimiter
from pymongo.collection import Collection

from services.intake.limit_store import MongoCounters
from shared.clients import client_network

View = Callable[..., Any]


class TooManyAttempts(Exception):
    """The client or the receipt code is over its limit; `retry_after` is in whole seconds."""

    def __init__(self, retry_after: int, limit: int) -> None:
        super().__init__("too many attempts")
        self.retry_after = retry_after
        self.limit = limit


class ReceiptLimit:
    """The receipt routes' limits (see the module's docstring)."""

    def __init__(self, collection: Collection, key: bytes, rate: str, code_failures: int = 10,
                 code_block: timedelta = timedelta(hours=1)) -> None:
        self.storage = MongoCounters(collection)
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.rate: RateLimitItem = parse(rate)
        self.code_failures = code_failures
        self.code_window = RateLimitItemPerHour(code_failures)
        self.block_s = int(code_block.total_seconds())
        self._key = hmac.new(key, b"campaign/rate-limit-keys", hashlib.sha256).digest()

    def _digest(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}\0{value}".encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()

    def client_key(self) -> str:
        return self._digest("client", client_network(request.remote_addr))

    def hit(self) -> None:
        """Count this request against its client's limit; TooManyAttempts when over it."""
        key = self.client_key()
        allowed = self.strategy.hit(self.rate, "receipts", key)
        reset_at, remaining = self.strategy.get_window_stats(self.rate, "receipts", key)
        limit = self.rate.amount

        def headers(resp: Response) -> Response:
            resp.headers["X-RateLimit-Limit"] = str(limit)
            resp.headers["X-RateLimit-Remaining"] = str(remaining)
            resp.headers["X-RateLimit-Reset"] = str(int(reset_at))
            return resp

        after_this_request(headers)
        if not allowed:
            raise TooManyAttempts(max(1, math.ceil(reset_at - time.time())), limit)

    @contextmanager
    def code_attempt(self, code_digest: str, not_found: type[Exception]) -> Iterator[None]:
        """Around one use of a receipt: 429 while its code is blocked; a `not_found` inside counts
        as a wrong secret for that code, and the last one allowed blocks it for `code_block`."""
        failures = self._digest("code", code_digest)
        blocked = "block:" + failures
        if self.storage.get(blocked):
            raise TooManyAttempts(self._wait(blocked), self.code_failures)
        try:
            yield
        except not_found:
            if not self.strategy.hit(self.code_window, "code", failures) or \
                    self.strategy.get_window_stats(self.code_window, "code", failures)[1] == 0:
                self.storage.incr(blocked, self.block_s)
            raise

    def _wait(self, key: str) -> int:
        return max(1, math.ceil(self.storage.get_expiry(key) - time.time()))


def init_app(app: Flask, collection: Collection, key: bytes, rate: str, code_failures: int) -> ReceiptLimit:
    """The app's receipt limit, which `limited` and `limited_after` count against."""
    app.extensions["receipt_limit"] = found = ReceiptLimit(collection, key, rate, code_failures)
    return found


def receipt_limit() -> ReceiptLimit:
    return current_app.extensions["receipt_limit"]


def limited(view: View) -> View:
    """Decorator of an API route: counted against the receipt limit before the route runs."""

    @functools.wraps(view)
    def counted(*args: Any, **kwargs: Any) -> Any:
        receipt_limit().hit()
        return view(*args, **kwargs)

    return counted


def limited_after(check: Callable[[], Response | None]) -> Callable[[View], View]:
    """Decorator of a page route: `check` (the CSRF check) first, whose refusal is answered
    without counting; then the receipt limit, then the route."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def counted(*args: Any, **kwargs: Any) -> Any:
            refused = check()
            if refused is not None:
                return refused
            receipt_limit().hit()
            return view(*args, **kwargs)

        return counted

    return decorate
