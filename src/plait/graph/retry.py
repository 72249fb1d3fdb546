"""Retry policy: exponential backoff with jitter, and a classifier that never retries
programmer errors or cancellation."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from plait.errors import NodeError, PlaitError, UsageError
from plait.graph.spec import RetrySpec

__all__ = ["NEVER_RETRIED", "RetryPolicy", "is_retryable"]

NEVER_RETRIED: tuple[type[BaseException], ...] = (
    UsageError, TypeError, ValueError, LookupError, AttributeError, NameError, AssertionError,
    NotImplementedError, RecursionError, ImportError, SyntaxError, ZeroDivisionError,
    MemoryError,
)
"""Programmer errors: retrying the same code with the same inputs cannot help."""


MAX_RETRY_AFTER = 300.0
"""A service's ``Retry-After`` is honoured up to five minutes; longer waits fail instead."""


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
        return False
    if isinstance(error, NodeError) and error.cause is not None:
        return is_retryable(error.cause)  # a child workflow's transient failure is transient
    if isinstance(error, PlaitError):
        return error.retryable
    return not isinstance(error, NEVER_RETRIED)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 10.0
    jitter: float = 0.1

    @classmethod
    def from_spec(cls, spec: RetrySpec, *, max_delay_cap: float | None = None) -> RetryPolicy:
        max_delay = spec.max_delay if max_delay_cap is None else min(spec.max_delay,
                                                                      max_delay_cap)
        return cls(spec.max_attempts, spec.initial_delay, spec.multiplier, max_delay,
                   spec.jitter)

    def delay(self, attempt: int, rng: random.Random | None = None,
              error: BaseException | None = None) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (attempts count from 1).
        A ``Retry-After`` the failing service sent (``error.retry_after``) is honoured even
        above ``max_delay``."""
        base = min(self.initial_delay * self.multiplier ** (attempt - 1), self.max_delay)
        if self.jitter and base:
            base += (rng or random).random() * self.jitter * base
        base = min(base, self.max_delay) if self.max_delay else base
        asked = getattr(error, "retry_after", None)
        if isinstance(asked, int | float) and asked > base:
            return float(min(asked, MAX_RETRY_AFTER))
        return base

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        return attempt < self.max_attempts and is_retryable(error)
