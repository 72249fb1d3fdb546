"""One module per framework. Each builds a :class:`Target` for a (variant, shape, size):
the workflow is built/compiled here, outside any timed loop; the target only runs it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Target:
    """One workflow, ready to run: ``run`` (sync) or ``arun`` (a coroutine per run)."""

    check: Callable[[object], None]
    """Raises ``AssertionError`` when a run's result is wrong; called on warm-up runs."""
    run: Callable[[], object] | None = None
    arun: Callable[[], Awaitable[object]] | None = None
    aclose: Callable[[], Awaitable[None]] | None = None


class Unsupported(Exception):
    """The framework cannot run this scenario; the message says why (recorded, not fatal)."""


def expected(shape: str, n: int) -> int:
    """The numeric result of the plain shapes for input x=0 (every node adds one)."""
    return n  # a chain adds one n times; a fan-out sums n branches of 0 + 1


def check_equal(want: object) -> Callable[[object], None]:
    def check(got: object) -> None:
        assert got == want, f"expected {want!r}, got {got!r}"

    return check
