"""An in-process async event bus: dotted topics, glob filters, correlation ids, and bounded
per-subscriber queues with an explicit overflow policy.

Topics are dot-separated segments (``run.r1.node_output``). A subscription's pattern matches
segment by segment: ``*`` matches exactly one segment, ``**`` zero or more segments, and a
segment may hold shell wildcards (``node_*``). ``run.**`` matches everything under ``run``;
``run.*.run_finished`` every run's last event.

:meth:`EventBus.publish` is synchronous and cheap: it never awaits and never blocks, so the
engine can call it as an :data:`~plait.graph.events.EventSink` (:meth:`EventBus.sink`). When no
subscription matches a topic, no envelope is built. Each subscriber owns a bounded queue and
says what happens when it is full:

- ``drop_oldest`` (default): the oldest queued envelope makes room for the new one;
- ``drop_newest``: the new envelope is dropped;
- ``block``: publishers that ``await bus.send(...)`` wait for room, up to the subscriber's
  ``timeout``; after that the envelope is dropped. A synchronous ``publish`` cannot wait, so for
  it a full ``block`` queue drops the newest envelope too.

Every drop is counted (:attr:`Subscription.stats`, :meth:`EventBus.stats`). A slow subscriber
therefore never holds back the engine; only an ``await bus.send()`` caller that targets a
``block`` subscriber can be slowed, by its own choice.

The bus is not thread-safe: publish from the event loop's thread (from a worker thread, use
``loop.call_soon_threadsafe(bus.publish, ...)``).
"""

from plait.graph.bus.eventbus import BusStats, EventBus
from plait.graph.bus.subscription import Envelope, Overflow, SubscriberStats, Subscription
from plait.graph.bus.topics import TopicPattern, correlation, current_correlation, event_topic

__all__ = [
    "BusStats",
    "Envelope",
    "EventBus",
    "Overflow",
    "SubscriberStats",
    "Subscription",
    "TopicPattern",
    "correlation",
    "current_correlation",
    "event_topic",
]
