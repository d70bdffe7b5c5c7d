"""The refusals the domain and the use cases raise, in plain Python (no Flask, no HTTP).

Each says what kind of refusal it is (no such thing, not allowed, not now, bad input), a
message, and the input at fault if one is. Only the edge turns them into answers: problems.py
maps them to problem+json, the workspace to its pages.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command or a question the service refuses.

    `field` names the input at fault, if one is; `reason` is what to say about that input when it
    is not the message itself.
    """

    field: str | None = None

    def __init__(self, message: str = "", *, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field
        self.reason = reason


class NotFound(DomainError):
    """No such thing, or one the person may not know exists."""


class Forbidden(DomainError):
    """The person may not do this, or not there."""


class Conflict(DomainError):
    """The thing's state does not allow it now."""


class Invalid(DomainError):
    """An input the rules refuse; `field` names it."""


class UnknownJurisdiction(Invalid):
    """A jurisdiction the registry does not have."""

    field = "jurisdiction"
