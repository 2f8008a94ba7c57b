"""Bounded retries with exponential backoff and jitter, for transient failures only."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from skclaw.errors import WranglerError

T = TypeVar("T")
log = logging.getLogger("skclaw.retry")

# Test knob: a number in [0, 1] that multiplies every backoff delay, so a test suite that runs
# skclaw as a real process does not sleep through seconds of backoff. It can only shorten the
# delays: the number of attempts and the total budget stay as they are, and any other value
# (not a number, negative, above 1) is ignored.
DELAY_SCALE_ENV = "SKCLAW_RETRY_DELAY_SCALE"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a transient failure is retried, and how long to wait in between."""

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 8.0
    budget: float = 30.0  # seconds from the first try; a retry that would wait past it is not made

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number ``attempt`` (1-based): full jitter over an exponential cap."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(cap / 2, cap)

    def with_delays_scaled(self, factor: float) -> RetryPolicy:
        """The same attempts and budget with delays multiplied by ``factor``, clamped to [0, 1]."""
        factor = min(1.0, max(0.0, factor))
        return replace(self, base_delay=self.base_delay * factor, max_delay=self.max_delay * factor)


DEFAULT_POLICY = RetryPolicy()
# The policy in force in this process. Tests replace it with one that waits milliseconds.
POLICY = DEFAULT_POLICY


def policy_for(environ: Mapping[str, str]) -> RetryPolicy:
    """:data:`POLICY`, with its delays scaled down by ``$SKCLAW_RETRY_DELAY_SCALE`` if set."""
    raw = environ.get(DELAY_SCALE_ENV)
    if not raw:
        return POLICY
    try:
        factor = float(raw)
    except ValueError:
        return POLICY
    if not 0.0 <= factor <= 1.0:  # also false for nan
        return POLICY
    return POLICY.with_delays_scaled(factor)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` under :data:`POLICY`."""
    return POLICY.delay(attempt, rng)


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[int, WranglerError, float], None] | None = None,
) -> T:
    """Call ``call`` until it succeeds, fails permanently, or attempts/budget run out."""
    policy = policy or POLICY
    deadline = clock() + policy.budget
    attempt = 1
    while True:
        try:
            return call()
        except WranglerError as exc:
            if not exc.transient or attempt >= policy.attempts:
                raise
            delay = policy.delay(attempt)
            if clock() + delay > deadline:
                raise
            log.info("%s failed transiently (%s); retry %d in %.1fs", what, exc.message, attempt, delay)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
            attempt += 1
