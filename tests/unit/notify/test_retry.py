import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.retry import MAX_ATTEMPTS, backoff, exhausted, next_attempt_at

ALMOST_ONE = 1.0 - 2**-53


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [
        (1, 2.0),
        (2, 4.0),
        (3, 8.0),
        (5, 32.0),
        (9, 512.0),
        (10, 600.0),
        (11, 600.0),
        (10_000, 600.0),
    ],
)
def test_ceiling_doubles_up_to_the_cap(attempt, ceiling):
    assert backoff(attempt, rng=lambda: ALMOST_ONE) == pytest.approx(ceiling)
    assert backoff(attempt, rng=lambda: 0.0) == 0.0
    assert backoff(attempt, rng=lambda: 0.5) == pytest.approx(ceiling / 2)


def test_full_jitter_follows_a_seeded_rng():
    expected_rng = random.Random(1937)
    expected = [min(600.0, 2.0 * 2 ** (n - 1)) * expected_rng.random() for n in range(1, 13)]
    rng = random.Random(1937).random
    assert [backoff(n, rng=rng) for n in range(1, 13)] == expected


def test_base_and_cap_are_parameters():
    assert backoff(3, base_s=1.0, cap_s=3.0, rng=lambda: 0.5) == 1.5
    assert backoff(1, base_s=10.0, cap_s=600.0, rng=lambda: 0.5) == 5.0


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_count_from_one(attempt):
    with pytest.raises(ValueError):
        backoff(attempt)


def test_next_attempt_at_adds_the_backoff():
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert next_attempt_at(now, 3, rng=lambda: 0.25) == now + timedelta(seconds=2.0)
    assert next_attempt_at(now, 1, base_s=4.0, cap_s=10.0, rng=lambda: 0.5) == now + timedelta(
        seconds=2.0
    )


@pytest.mark.parametrize(
    ("attempts", "max_attempts", "done"),
    [(0, 6, False), (1, 6, False), (5, 6, False), (6, 6, True), (7, 6, True), (1, 1, True)],
)
def test_exhausted(attempts, max_attempts, done):
    assert exhausted(attempts, max_attempts) is done


def test_default_max_attempts():
    assert MAX_ATTEMPTS == 6
    assert not exhausted(MAX_ATTEMPTS - 1)
    assert exhausted(MAX_ATTEMPTS)


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=0, max_value=2**32))
def test_backoff_stays_within_zero_and_cap(attempt, seed):
    delay = backoff(attempt, rng=random.Random(seed).random)
    assert 0.0 <= delay < 600.0
