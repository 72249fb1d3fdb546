"""Subscribers of the event bus: envelopes, bounded queues with their overflow policy, and
the :class:`Subscription` async iterator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import NamedTuple, Protocol

from plait.graph.bus.topics import TopicPattern

__all__ = ["Envelope", "Overflow", "SubscriberStats", "Subscription"]

logger = logging.getLogger(__name__)


class Overflow(StrEnum):
    """What a full subscriber queue does with a new envelope."""

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    BLOCK = "block"


class Envelope(NamedTuple):
    """One published message. (A named tuple rather than a dataclass: publishing builds one per
    message, and a tuple is several times cheaper to build.)"""

    topic: str
    payload: object
    correlation_id: str | None
    seq: int
    """Bus-wide publication order."""
    ts: float


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    pattern: str
    policy: Overflow
    maxsize: int
    received: int
    """Envelopes accepted into the queue (or passed to the callback)."""
    dropped: int
    queued: int
    errors: int = 0
    """Callback subscribers: calls that raised."""


class _Target(Protocol):
    pattern: TopicPattern

    def offer(self, env: Envelope) -> None: ...

    def stats(self) -> SubscriberStats: ...


class _Queue:
    """A subscriber's bounded queue. ``offer`` is synchronous and never waits."""

    __slots__ = ("closed", "dropped", "items", "maxsize", "pattern", "policy", "received",
                 "room", "timeout", "waiter")

    def __init__(self, pattern: TopicPattern, maxsize: int, policy: Overflow,
                 timeout: float) -> None:
        self.pattern = pattern
        self.maxsize = maxsize
        self.policy = policy
        self.timeout = timeout
        self.items: deque[Envelope] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.room: deque[asyncio.Future[None]] = deque()
        self.received = 0
        self.dropped = 0
        self.closed = False

    def offer(self, env: Envelope) -> None:
        items = self.items
        if len(items) >= self.maxsize:
            self.dropped += 1
            if self.policy is not Overflow.DROP_OLDEST:
                return
            items.popleft()
        items.append(env)
        self.received += 1
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def full(self) -> bool:
        return len(self.items) >= self.maxsize

    async def wait_room(self) -> bool:
        """Wait until the queue has room (True) or ``timeout`` passes (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while self.full() and not self.closed:
            left = deadline - loop.time()
            if left <= 0:
                return False
            future: asyncio.Future[None] = loop.create_future()
            self.room.append(future)
            handle = loop.call_later(left, _settle, future)
            try:
                await future
            finally:
                handle.cancel()
                if future in self.room:
                    self.room.remove(future)
        return True

    def took(self) -> None:
        """An item left the queue: wake one publisher waiting for room."""
        while self.room:
            future = self.room.popleft()
            if not future.done():
                future.set_result(None)
                return

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        while self.room:
            _settle(self.room.popleft())

    def stats(self) -> SubscriberStats:
        return SubscriberStats(self.pattern.text, self.policy, self.maxsize, self.received,
                               self.dropped, len(self.items))


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Callback:
    """A synchronous callback subscriber, called inline by ``publish``."""

    __slots__ = ("errors", "fn", "pattern", "received")

    def __init__(self, pattern: TopicPattern, fn: Callable[[Envelope], object]) -> None:
        self.pattern = pattern
        self.fn = fn
        self.received = 0
        self.errors = 0

    def offer(self, env: Envelope) -> None:
        self.received += 1
        try:
            self.fn(env)
        except Exception:
            self.errors += 1
            logger.warning("event bus callback for %r raised on %r", self.pattern.text,
                           env.topic, exc_info=True)

    def stats(self) -> SubscriberStats:
        return SubscriberStats(self.pattern.text, Overflow.DROP_NEWEST, 0, self.received, 0, 0,
                               self.errors)


class Subscription:
    """The envelopes matching a pattern, as an async iterator.

    ``async for env in bus.subscribe("run.**"): ...`` ends when the subscription or the bus is
    closed (after the queued envelopes). Leaving the loop early unsubscribes: ``close()``,
    ``async with``, or simply dropping the last reference (CPython frees the iterator as
    the loop exits)."""

    __slots__ = ("__weakref__", "_q", "_remove")

    def __init__(self, queue: _Queue, remove: Callable[[_Queue], None]) -> None:
        self._q = queue
        self._remove = remove

    @property
    def pattern(self) -> str:
        return self._q.pattern.text

    @property
    def stats(self) -> SubscriberStats:
        return self._q.stats()

    @property
    def closed(self) -> bool:
        return self._q.closed

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Envelope:
        q = self._q
        items = q.items
        while not items:
            if q.closed:
                raise StopAsyncIteration
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            q.waiter = waiter
            try:
                await waiter
            finally:
                if q.waiter is waiter:
                    q.waiter = None
        env = items.popleft()
        if q.room:
            q.took()
        return env

    async def get(self, timeout: float | None = None) -> Envelope:
        """The next envelope; ``TimeoutError`` after ``timeout`` seconds, ``StopAsyncIteration``
        when the subscription is closed and empty."""
        async with asyncio.timeout(timeout):
            return await self.__anext__()

    async def batch(self, max_items: int = 1024) -> list[Envelope]:
        """Wait for at least one envelope, then return up to ``max_items`` of them (an empty
        list once closed and empty). Cheaper per envelope than iterating one by one."""
        q = self._q
        if not q.items:
            try:
                return [await self.__anext__()]
            except StopAsyncIteration:
                return []
        return self.drain(max_items)

    def drain(self, max_items: int | None = None) -> list[Envelope]:
        """Everything queued now (up to ``max_items``), without waiting."""
        q = self._q
        items = q.items
        if max_items is None or max_items >= len(items):
            out = list(items)
            items.clear()
        else:
            out = [items.popleft() for _ in range(max_items)]
        if q.room:
            for _ in out:
                q.took()
        return out

    def close(self) -> None:
        """Unsubscribe: queued envelopes are discarded and iteration ends."""
        q = self._q
        if not q.closed:
            q.closed = True
            q.items.clear()
            self._remove(q)
            q.wake()

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()

    def __repr__(self) -> str:
        return f"<Subscription {self.pattern!r} queued={len(self._q.items)}>"
