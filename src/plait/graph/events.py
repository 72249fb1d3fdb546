"""The one typed event stream of a run. Events are past tense; they are built only if someone
listens (the scheduler checks for a sink before constructing one)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from plait.types import RunStatus

__all__ = [
    "NO_SINKS",
    "RUN_EVENTS",
    "Event",
    "EventSink",
    "NodeCancelled",
    "NodeFailed",
    "NodeInterrupted",
    "NodeOutput",
    "NodeRetrying",
    "NodeSkipped",
    "NodeStarted",
    "RunFinished",
    "RunStarted",
    "Sinks",
    "TokenDelta",
    "ToolCalled",
    "event_to_dict",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    run_id: str
    ts: float
    path: tuple[str, ...] = ()
    """Node ids leading from the top-level run to this one (empty for the top level)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    workflow: str
    digest: str
    inputs: dict[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStarted(Event):
    node_id: str
    kind: str
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeOutput(Event):
    node_id: str
    kind: str
    value: object
    duration: float
    branch: str | None = None
    """The branch label the node chose, when it returned a :class:`~plait.Branch`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFailed(Event):
    node_id: str
    kind: str
    error: str
    code: str
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRetrying(Event):
    node_id: str
    attempt: int
    """The attempt about to start."""
    delay: float
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSkipped(Event):
    node_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeCancelled(Event):
    """A running node was cancelled (fail-fast, run timeout, or the run was cancelled)."""

    node_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeInterrupted(Event):
    """A node returned interrupts that are not answered yet: it waits for answers."""

    node_id: str
    kind: str
    interrupts: list[dict[str, object]]
    """The pending interrupts (``id``, ``key``, ``prompt``, ``schema``, ``timeout``, ...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenDelta(Event):
    node_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCalled(Event):
    node_id: str
    tool: str
    arguments: dict[str, object]
    result: object = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Event):
    status: RunStatus
    outputs: dict[str, object]
    error: str | None
    code: str | None
    duration: float


EventSink: TypeAlias = Callable[[Event], None]

RUN_EVENTS: frozenset[type[Event]] = frozenset({RunStarted, RunFinished})
"""Run-level events; every other event type is node-level."""


class Sinks(NamedTuple):
    """Where a run sends its run-level and its node-level events (None: nobody listens, so
    no event of that level is even built)."""

    run: EventSink | None
    node: EventSink | None


NO_SINKS = Sinks(None, None)

_TYPE_NAMES: dict[type[Event], str] = {}


def _type_name(cls: type[Event]) -> str:
    name = _TYPE_NAMES.get(cls)
    if name is None:
        name = "".join(f"_{c.lower()}" if c.isupper() else c for c in cls.__name__).lstrip("_")
        _TYPE_NAMES[cls] = name
    return name


def event_to_dict(event: Event) -> dict[str, object]:
    """A JSON-ready dict: ``{"type": "node_started", ...fields}`` (values are left as is)."""
    data: dict[str, object] = {"type": _type_name(type(event))}
    for f in dataclasses.fields(event):
        data[f.name] = getattr(event, f.name)
    return data
