"""Concurrency limits shared by all runs of one engine: a global limit plus per-kind limits."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

__all__ = ["Limiter"]


class Limiter:
    """Semaphores per event loop (an engine may serve several loops, e.g. ``run_sync``)."""

    def __init__(self, global_limit: int | None, kind_limits: Mapping[str, int]) -> None:
        self.global_limit = global_limit
        self.kind_limits = dict(kind_limits)
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str | None, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    def _semaphores(self) -> dict[str | None, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        sems = self._per_loop.get(loop)
        if sems is None:
            sems = {kind: asyncio.Semaphore(n) for kind, n in self.kind_limits.items()}
            if self.global_limit is not None:
                sems[None] = asyncio.Semaphore(self.global_limit)
            self._per_loop[loop] = sems
        return sems

    @asynccontextmanager
    async def slot(self, kind: str) -> AsyncIterator[None]:
        sems = self._semaphores()
        kind_sem = sems.get(kind)
        global_sem = sems.get(None)
        if kind_sem is not None:
            await kind_sem.acquire()
        try:
            if global_sem is not None:
                await global_sem.acquire()
            try:
                yield
            finally:
                if global_sem is not None:
                    global_sem.release()
        finally:
            if kind_sem is not None:
                kind_sem.release()
