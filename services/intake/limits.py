"""Intake's one rate limit: per client address, shared by every receipt route (API and pages).

Flask-Limiter hooks every request of the app: before the route, a check for default and
application-wide limits; after it, a step that adds the limit's headers, and a clean-up. Intake
has no default or application-wide limits, so on every other request those steps found nothing,
at a price the hot path of posting clues felt. `ReceiptLimit` takes the check out (a decorated
route checks its own limit when called) and has a receipt route ask for the two steps itself
(`after_this_request`), with its answer, a 429 included. A route limited later with
`limiter.limit` alone is still limited, without the limit's headers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, after_this_request
from flask_limiter import Limiter


def _take(hooks: list[Callable[..., Any]], is_it: Callable[[Callable[..., Any]], bool],
          what: str) -> Callable[..., Any]:
    """Remove from `hooks` the one Flask-Limiter registered, and return it (ValueError at start-up if
    a new Flask-Limiter registers it differently: then these lines need a look)."""
    for hook in hooks:
        if is_it(hook):
            hooks.remove(hook)
            return hook
    raise ValueError(f"Flask-Limiter's {what} hook was not found")


class ReceiptLimit:
    """The receipt routes' shared limit, for `app`, whose limiter steps in for decorated routes only."""

    def __init__(self, app: Flask, limiter: Limiter, rate: str) -> None:
        self.limiter = limiter
        self._shared = limiter.shared_limit(rate, scope="receipts")
        app.before_request_funcs[None].remove(limiter._check_request_limit)
        inject = Limiter._Limiter__inject_headers  # its private names: Flask-Limiter is pinned
        self._headers = _take(app.after_request_funcs[None], lambda h: getattr(h, "func", None) is inject,
                              "after-request")
        self._release = _take(app.teardown_request_funcs[None],
                              lambda h: h == limiter._Limiter__release_context, "teardown")

    def __call__(self, view: Callable[..., Any]) -> Callable[..., Any]:
        limited = self._shared(view)

        @functools.wraps(view)
        def receipt_route(*args: Any, **kwargs: Any) -> Any:
            after_this_request(self._after)
            return limited(*args, **kwargs)

        return receipt_route

    def _after(self, response: Response) -> Response:
        response = self._headers(response)
        self._release(None)
        return response
