"""Persisting a run's events to a :class:`~plait.graph.durability.RunLog`.

:class:`EventLogWriter` is an event sink: the run loop only appends the event to a list. A
background task converts events to :class:`~plait.graph.durability.LoggedEvent` (the class
name and the JSON form of :func:`~plait.graph.events.event_to_dict`) and appends them in
batches; :meth:`EventLogWriter.close` flushes the rest when the run ends. A slow log never
blocks the run; a failing one loses its batch and says so in the log (the run goes on).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Mapping
from enum import Enum

from plait.graph.durability import JSONValue, LoggedEvent, RunLog
from plait.graph.events import Event, event_to_dict

__all__ = ["EventLogWriter", "jsonable"]

logger = logging.getLogger(__name__)


def jsonable(value: object, depth: int = 0) -> JSONValue:
    """A JSON form of any value, for logs: containers converted, pydantic models and
    dataclasses dumped, anything else as its ``repr``."""
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth > 50:
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, Enum):
        return jsonable(value.value, depth + 1)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return jsonable(dump(mode="json"), depth + 1)
        except Exception:  # a broken model: its repr will do
            return repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), depth + 1)
                for f in dataclasses.fields(value)}
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return repr(value)


class EventLogWriter:
    """The event sink that persists one top-level run's events (its child runs' included)."""

    __slots__ = ("buffer", "dropped", "log", "run_id", "seq", "task")

    def __init__(self, log: RunLog, run_id: str, *, seq: int = 0) -> None:
        self.log = log
        self.run_id = run_id
        self.seq = seq
        """The last ``seq`` used (a resumed run continues its log)."""
        self.buffer: list[Event] = []
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0

    def __call__(self, event: Event) -> None:
        self.buffer.append(event)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.buffer:
                events, self.buffer = self.buffer, []
                batch = []
                for event in events:
                    self.seq += 1
                    data = jsonable(event_to_dict(event))
                    assert isinstance(data, dict)
                    batch.append(LoggedEvent(run_id=self.run_id, seq=self.seq,
                                             type=type(event).__name__, data=data, ts=event.ts))
                try:
                    await self.log.append_events(batch)
                except Exception as exc:
                    self.dropped += len(batch)
                    logger.error("the run log refused %d event(s): %s", len(batch), exc,
                                 extra={"run_id": self.run_id})
        finally:
            self.task = None

    async def close(self) -> None:
        """Write every event received so far."""
        while self.task is not None or self.buffer:
            if self.task is None:
                self.task = asyncio.get_running_loop().create_task(self._drain())
            await asyncio.shield(self.task)
