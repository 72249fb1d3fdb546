"""Usage accounting for a run (tokens, cost, or anything a node charges) with budgets.

The engine knows nothing about models: nodes charge named amounts (``tokens``, ``cost``) and
the meter stops the run cleanly with :class:`~plait.errors.BudgetExceeded` when a budget is
exceeded. Child runs (sub-workflows, map items, loop iterations) share their parent's meter.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from plait.errors import BudgetExceeded, UsageError

__all__ = ["Meter"]


class Meter:
    """Thread-safe: nodes running in worker threads may charge it too."""

    __slots__ = ("_lock", "limits", "used")

    def __init__(self, limits: Mapping[str, float] | None = None) -> None:
        self.limits = {k: float(v) for k, v in (limits or {}).items()}
        for what, limit in self.limits.items():
            if limit < 0:
                raise UsageError(f"budget {what!r} must not be negative, got {limit:g}")
        self.used: dict[str, float] = {}
        self._lock = threading.Lock()

    def charge(self, what: str, amount: float) -> None:
        """Add ``amount`` of ``what``; raises BudgetExceeded once the total passes its limit."""
        with self._lock:
            used = self.used.get(what, 0.0) + amount
            self.used[what] = used
        limit = self.limits.get(what)
        if limit is not None and used > limit:
            raise BudgetExceeded(what, used, limit)

    def remaining(self, what: str) -> float | None:
        limit = self.limits.get(what)
        return None if limit is None else max(0.0, limit - self.used.get(what, 0.0))
