"""The error every layer shares: a dependency (broker or database) cannot be reached.

It lives below the Kafka and Mongo adapters so that the HTTP edge (`shared.problems`) can map it
to a 503 without importing a Kafka client.
"""

from __future__ import annotations


class DependencyDown(RuntimeError):
    """The broker or the database cannot be reached: retry later, never dead-letter."""
