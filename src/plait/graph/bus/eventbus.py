"""The :class:`EventBus`: routing publications to subscribers (see :mod:`plait.graph.bus`)."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from plait.errors import UsageError
from plait.graph.bus.subscription import (
    Envelope,
    Overflow,
    SubscriberStats,
    Subscription,
    _Callback,
    _Queue,
    _Target,
)
from plait.graph.bus.topics import _CORRELATION, TopicPattern, check_topic, event_topic
from plait.graph.events import Event, EventSink

__all__ = ["BusStats", "EventBus"]

logger = logging.getLogger(__name__)

_ROUTE_CACHE_LIMIT = 4096
_new_envelope = tuple.__new__
"""Builds an :class:`Envelope` without the named tuple's Python-level ``__new__`` (half the
cost, on the hot path of every publication)."""


@dataclass(frozen=True, slots=True)
class BusStats:
    published: int
    """Publications that reached at least one subscriber."""
    unrouted: int
    """Publications no subscriber matched (no envelope was built)."""
    subscribers: tuple[SubscriberStats, ...]

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.subscribers)


class EventBus:
    """In-process publish/subscribe. ``maxsize``, ``overflow`` and ``timeout`` are the defaults
    for subscriptions that do not choose their own."""

    def __init__(self, *, maxsize: int = 1024, overflow: Overflow | str = Overflow.DROP_OLDEST,
                 timeout: float = 1.0) -> None:
        self._defaults = _options(maxsize, overflow, timeout)
        self._targets: list[_Target] = []
        self._routes: dict[str, tuple[_Target, ...]] = {}
        self._seq = itertools.count(1)
        self._published = 0
        self._unrouted = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- publishing ---------------------------------------------------------------------
    def publish(self, topic: str, payload: object = None, *,
                correlation_id: str | None = None) -> int:
        """Deliver to every matching subscriber without waiting; returns how many matched.
        ``correlation_id`` defaults to the one of the current :func:`correlation` context."""
        targets = self._routes.get(topic)
        if targets is None:
            targets = self._route(topic)
        if not targets:
            self._unrouted += 1
            return 0
        self._published += 1
        env = _new_envelope(Envelope, (
            topic, payload, _CORRELATION.get() if correlation_id is None else correlation_id,
            next(self._seq), time.time()))
        for target in targets:
            target.offer(env)
        return len(targets)

    async def send(self, topic: str, payload: object = None, *,
                   correlation_id: str | None = None) -> int:
        """Like :meth:`publish`, but first wait (up to each one's ``timeout``) for room in
        every matching ``block`` subscriber; a subscriber still full after its timeout drops
        the envelope (counted)."""
        targets = self._routes.get(topic)
        if targets is None:
            targets = self._route(topic)
        for target in targets:
            if (isinstance(target, _Queue) and target.policy is Overflow.BLOCK
                    and target.full()):
                await target.wait_room()
        return self.publish(topic, payload, correlation_id=correlation_id)

    def sink(self, topic: str | None = None, *,
             correlation_id: str | None = None) -> EventSink:
        """An engine event sink that publishes each event under :func:`event_topic`
        (``run.<run_id>.<event_type>``, or ``<topic>.<event_type>``), correlated by
        ``correlation_id``, else the current :func:`correlation`, else the event's run id::

            engine.subscribe(bus.sink())
        """
        if topic is not None:
            check_topic(topic)
        publish = self.publish

        def emit(event: Event) -> None:
            cid = correlation_id or _CORRELATION.get() or event.run_id
            try:
                publish(event_topic(event, topic), event, correlation_id=cid)
            except UsageError:  # a run id that is no topic segment; never fail the run
                logger.warning("event bus: cannot publish %s of run %r",
                               type(event).__name__, event.run_id)

        return emit

    def _route(self, topic: str) -> tuple[_Target, ...]:
        check_topic(topic)
        targets = tuple(t for t in self._targets if t.pattern.matches(topic))
        if len(self._routes) >= _ROUTE_CACHE_LIMIT:
            self._routes.clear()
        self._routes[topic] = targets
        return targets

    # -- subscribing --------------------------------------------------------------------
    def subscribe(self, pattern: str = "**", *, maxsize: int | None = None,
                  overflow: Overflow | str | None = None,
                  timeout: float | None = None) -> Subscription:
        """A new subscription to topics matching ``pattern``, with its own bounded queue."""
        size, policy, wait = _options(
            self._defaults[0] if maxsize is None else maxsize,
            self._defaults[1] if overflow is None else overflow,
            self._defaults[2] if timeout is None else timeout)
        queue = _Queue(TopicPattern(pattern), size, policy, wait)
        if self._closed:
            queue.closed = True
        else:
            self._add(queue)
        return Subscription(queue, self._remove)

    def on(self, pattern: str, callback: Callable[[Envelope], object] |
           Callable[[Envelope], Awaitable[object]], *, maxsize: int | None = None,
           overflow: Overflow | str | None = None,
           timeout: float | None = None) -> Callable[[], None]:
        """Call ``callback`` with each matching envelope; returns an unsubscribe function.

        A plain function is called inline by ``publish`` (keep it quick; an exception is
        logged and counted, never raised to the publisher). A coroutine function gets its own
        bounded queue and a task that awaits it for one envelope at a time (needs a running
        loop)."""
        if inspect.iscoroutinefunction(callback):
            return self._on_async(pattern, callback, maxsize, overflow, timeout)
        target = _Callback(TopicPattern(pattern), callback)
        self._add(target)
        return lambda: self._remove(target)

    def _on_async(self, pattern: str, callback: Callable[[Envelope], Awaitable[object]],
                  maxsize: int | None, overflow: Overflow | str | None,
                  timeout: float | None) -> Callable[[], None]:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UsageError("an async callback needs a running event loop") from None
        sub = self.subscribe(pattern, maxsize=maxsize, overflow=overflow, timeout=timeout)

        async def pump() -> None:
            async for env in sub:
                try:
                    await callback(env)
                except Exception:
                    logger.warning("event bus callback for %r raised on %r", pattern,
                                   env.topic, exc_info=True)

        task = loop.create_task(pump())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        def unsubscribe() -> None:
            sub.close()
            task.cancel()

        return unsubscribe

    def _add(self, target: _Target) -> None:
        self._targets.append(target)
        self._routes.clear()

    def _remove(self, target: _Target) -> None:
        if target in self._targets:
            self._targets.remove(target)
            self._routes.clear()

    # -- lifecycle and observation -------------------------------------------------------
    @property
    def subscribers(self) -> int:
        return len(self._targets)

    def stats(self) -> BusStats:
        return BusStats(self._published, self._unrouted,
                        tuple(t.stats() for t in self._targets))

    def close(self) -> None:
        """Stop: every subscription ends once it has yielded what it holds; later
        subscriptions start closed and later publications reach nobody."""
        self._closed = True
        targets, self._targets = self._targets, []
        self._routes.clear()
        for target in targets:
            if isinstance(target, _Queue):
                target.closed = True
                target.wake()

    async def aclose(self) -> None:
        """:meth:`close`, then wait for async callbacks to finish what their queues hold."""
        self.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _options(maxsize: int, overflow: Overflow | str,
             timeout: float) -> tuple[int, Overflow, float]:
    if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
        raise UsageError(f"maxsize must be a positive integer, got {maxsize!r}")
    try:
        policy = Overflow(overflow)
    except ValueError:
        choices = ", ".join(p.value for p in Overflow)
        raise UsageError(f"unknown overflow policy {overflow!r}: use {choices}") from None
    if timeout < 0:
        raise UsageError(f"timeout must be >= 0, got {timeout!r}")
    return maxsize, policy, float(timeout)
