"""When to try a delivery again: exponential backoff with full jitter, and when to stop."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

MAX_ATTEMPTS = 6
BASE_S = 2.0
CAP_S = 600.0


def backoff(
    attempt: int,
    base_s: float = BASE_S,
    cap_s: float = CAP_S,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first attempt).

    Full jitter: uniform in [0, min(cap_s, base_s * 2 ** (attempt - 1))), drawn from `rng`
    (a function returning floats in [0, 1)). Raises ValueError for attempt < 1.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    # Beyond 2**62 the ceiling is the cap anyway; this keeps the float finite.
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt - 1, 62))
    return ceiling * rng()


def next_attempt_at(
    now: datetime,
    attempt: int,
    base_s: float = BASE_S,
    cap_s: float = CAP_S,
    rng: Callable[[], float] = random.random,
) -> datetime:
    """When to make the next attempt after failed attempt number `attempt`."""
    return now + timedelta(seconds=backoff(attempt, base_s, cap_s, rng))


def exhausted(attempts: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """True when `attempts` attempts have been made and no further one is allowed."""
    return attempts >= max_attempts
