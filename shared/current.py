"""The one instance of a thing in use (a service's store), swappable for a stand-in in tests."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Current(Generic[T]):
    """Holds the instance in use: `get()` returns it, `use(other)` puts `other` in its place."""

    def __init__(self, first: T) -> None:
        self._value = first

    def get(self) -> T:
        """The instance in use."""
        return self._value

    def use(self, other: T) -> T:
        """Make `other` the instance in use; returns the one it replaces."""
        previous, self._value = self._value, other
        return previous
