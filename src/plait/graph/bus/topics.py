"""Topics and patterns of the event bus, and correlation contexts.

A topic is dotted segments (``run.r1.node_output``); a pattern matches segment by segment:
``*`` is one segment, ``**`` any number (zero included), other segments match with shell
wildcards (``node_*``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase

from plait.errors import UsageError
from plait.graph.events import Event

__all__ = ["TopicPattern", "check_topic", "correlation", "current_correlation", "event_topic"]

_CORRELATION: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "plait_correlation_id", default=None)


@contextmanager
def correlation(correlation_id: str) -> Iterator[str]:
    """Tag every envelope published in this context (and the tasks it starts) with
    ``correlation_id``, unless the publisher passes one explicitly."""
    token = _CORRELATION.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _CORRELATION.reset(token)


def current_correlation() -> str | None:
    return _CORRELATION.get()


def check_topic(topic: str) -> None:
    if not isinstance(topic, str) or not topic:
        raise UsageError(f"a topic is a non-empty string, got {topic!r}")
    for segment in topic.split("."):
        if not segment:
            raise UsageError(f"topic {topic!r} has an empty segment")
        if any(c in segment for c in "*?["):
            raise UsageError(f"topic {topic!r} has a wildcard: publish to concrete topics")


class TopicPattern:
    """A subscription filter: dotted segments where ``*`` is one segment, ``**`` any number
    (zero included), and other segments are matched with shell wildcards."""

    __slots__ = ("_exact", "_segments", "text")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise UsageError(f"a topic pattern is a non-empty string, got {text!r}")
        segments = tuple(text.split("."))
        for segment in segments:
            if not segment:
                raise UsageError(f"topic pattern {text!r} has an empty segment")
            if "**" in segment and segment != "**":
                raise UsageError(f"topic pattern {text!r}: '**' must be a whole segment")
        self.text = text
        self._segments = segments
        self._exact = not any(c in text for c in "*?[")

    def matches(self, topic: str) -> bool:
        if self._exact:
            return topic == self.text
        return _match(self._segments, tuple(topic.split(".")))

    def __repr__(self) -> str:
        return f"TopicPattern({self.text!r})"


def _match(pattern: tuple[str, ...], topic: tuple[str, ...]) -> bool:
    if not pattern:
        return not topic
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(rest, topic[i:]) for i in range(len(topic) + 1))
    if not topic:
        return False
    if head != "*" and not fnmatchcase(topic[0], head):
        return False
    return _match(rest, topic[1:])


_EVENT_NAMES: dict[type[Event], str] = {}


def event_topic(event: Event, prefix: str | None = None) -> str:
    """The topic an engine event is published under: ``run.<run_id>.<event_type>`` (such as
    ``run.r1.node_output``), or ``<prefix>.<event_type>`` with a ``prefix``."""
    cls = type(event)
    name = _EVENT_NAMES.get(cls)
    if name is None:
        name = "".join(f"_{c.lower()}" if c.isupper() else c for c in cls.__name__).lstrip("_")
        _EVENT_NAMES[cls] = name
    if prefix is None:
        return f"run.{event.run_id}.{name}"
    return f"{prefix}.{name}"
