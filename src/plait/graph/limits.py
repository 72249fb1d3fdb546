"""Concurrency limits shared by all runs of one engine: a global limit plus per-kind limits."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping

__all__ = ["Limiter"]


class _LoopLimits:
    """The semaphores of one event loop (an engine may serve several, e.g. ``run_sync``)."""

    __slots__ = ("by_kind", "global_sem", "kind_sems")

    def __init__(self, global_limit: int | None, kind_limits: Mapping[str, int]) -> None:
        self.global_sem = asyncio.Semaphore(global_limit) if global_limit is not None else None
        self.kind_sems = {kind: asyncio.Semaphore(n) for kind, n in kind_limits.items()}
        self.by_kind: dict[str, tuple[asyncio.Semaphore, ...]] = {}

    def for_kind(self, kind: str) -> tuple[asyncio.Semaphore, ...]:
        found = self.by_kind.get(kind)
        if found is None:
            found = tuple(s for s in (self.kind_sems.get(kind), self.global_sem) if s is not None)
            self.by_kind[kind] = found
        return found


class Limiter:
    def __init__(self, global_limit: int | None, kind_limits: Mapping[str, int]) -> None:
        self.global_limit = global_limit
        self.kind_limits = dict(kind_limits)
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopLimits] = (
            weakref.WeakKeyDictionary())

    def semaphores(self, kind: str) -> tuple[asyncio.Semaphore, ...]:
        """The semaphores a node of ``kind`` must hold, in order: its kind's, then the global
        one. Acquire them in this order and release them all."""
        loop = asyncio.get_running_loop()
        limits = self._per_loop.get(loop)
        if limits is None:
            limits = self._per_loop[loop] = _LoopLimits(self.global_limit, self.kind_limits)
        return limits.for_kind(kind)
