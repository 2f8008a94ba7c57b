"""Bounded retries with exponential backoff and jitter, for transient failures only."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from skclaw.errors import WranglerError

T = TypeVar("T")
log = logging.getLogger("skclaw.retry")

MAX_ATTEMPTS = 3
BASE_DELAY = 1.0
MAX_DELAY = 8.0
TOTAL_BUDGET = 30.0


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based): full jitter over an exponential cap."""
    cap = min(MAX_DELAY, BASE_DELAY * (2 ** (attempt - 1)))
    return (rng or random).uniform(cap / 2, cap)


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    attempts: int = MAX_ATTEMPTS,
    budget: float = TOTAL_BUDGET,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[int, WranglerError, float], None] | None = None,
) -> T:
    """Call ``call`` until it succeeds, fails permanently, or attempts/budget run out."""
    deadline = clock() + budget
    attempt = 1
    while True:
        try:
            return call()
        except WranglerError as exc:
            if not exc.transient or attempt >= attempts:
                raise
            delay = backoff_delay(attempt)
            if clock() + delay > deadline:
                raise
            log.info("%s failed transiently (%s); retry %d in %.1fs", what, exc.message, attempt, delay)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
            attempt += 1
