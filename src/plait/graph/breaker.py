"""Circuit breakers (closed -> open -> half-open -> closed), keyed and shared across runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from plait.errors import CircuitOpenError

__all__ = ["BreakerConfig", "BreakerRegistry", "BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = 5
    """Consecutive failures that open the circuit."""
    recovery_timeout: float = 30.0
    """Seconds the circuit stays open before one trial call is let through."""
    half_open_max_calls: int = 1
    success_threshold: int = 1
    """Successful trial calls that close the circuit again."""


class CircuitBreaker:
    def __init__(self, key: str, config: BreakerConfig,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.key = key
        self.config = config
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.successes = 0
        self.opened_at = 0.0
        self._trials = 0

    def before_call(self) -> None:
        """Raise :class:`CircuitOpenError` if the call must not go through."""
        if self.state is BreakerState.OPEN:
            waited = self._clock() - self.opened_at
            if waited < self.config.recovery_timeout:
                raise CircuitOpenError(self.key, self.config.recovery_timeout - waited)
            self.state = BreakerState.HALF_OPEN
            self._trials = 0
            self.successes = 0
        if self.state is BreakerState.HALF_OPEN:
            if self._trials >= self.config.half_open_max_calls:
                raise CircuitOpenError(self.key, 0.0)
            self._trials += 1

    def release_trial(self) -> None:
        """A call ended without telling anything about the service (cancelled, or refused
        for a reason of its own): give back its half-open trial slot."""
        if self.state is BreakerState.HALF_OPEN and self._trials > 0:
            self._trials -= 1

    def record_success(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self.successes += 1
            self._trials = max(0, self._trials - 1)
            if self.successes >= self.config.success_threshold:
                self.state = BreakerState.CLOSED
                self.failures = 0
        else:
            self.failures = 0

    def record_failure(self) -> None:
        if self.state is BreakerState.HALF_OPEN or (
                self.failures + 1 >= self.config.failure_threshold):
            self.state = BreakerState.OPEN
            self.opened_at = self._clock()
            self.failures = self.config.failure_threshold
            return
        self.failures += 1


class BreakerRegistry:
    def __init__(self, config: BreakerConfig | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, key: str) -> CircuitBreaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(key, self.config, self._clock)
        return breaker

    def states(self) -> dict[str, BreakerState]:
        return {key: b.state for key, b in self._breakers.items()}
