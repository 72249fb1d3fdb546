"""What a running node can reach: its run's id and inputs, events, and child runs."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING

from plait.graph.events import EventSink, TokenDelta, ToolCalled
from plait.graph.meter import Meter

if TYPE_CHECKING:
    from plait.graph.spec import RunSettings
    from plait.graph.state import RunResult

__all__ = ["RunContext"]


class RunContext(ABC):
    """One per run. Nodes get it with every call; it is cheap and shared."""

    __slots__ = ("emit", "inputs", "meter", "path", "run_id")

    def __init__(self, run_id: str, inputs: Mapping[str, object], path: tuple[str, ...],
                 emit: EventSink | None, meter: Meter | None = None) -> None:
        self.run_id = run_id
        self.meter = meter if meter is not None else Meter()
        """Usage and budgets of the whole run (shared with child runs)."""
        self.inputs = inputs
        self.path = path
        self.emit = emit
        """The event sink, or None when nobody listens (then build no event at all)."""

    @property
    @abstractmethod
    def settings(self) -> RunSettings:
        """The settings of the workflow this context runs (e.g. its default model)."""

    @abstractmethod
    async def run_child(self, graph: object, inputs: Mapping[str, object], *,
                        key: str) -> RunResult:
        """Run a nested compiled workflow (from :meth:`BindEnv.compile_child`) as part of this
        run; its events carry ``path + (key,)``. Returns its result (failed or not)."""

    @property
    def listening(self) -> bool:
        """Whether anyone receives node-level events (stream tokens only then)."""
        return self.emit is not None

    def token(self, node_id: str, text: str) -> None:
        if self.emit is not None:
            self.emit(TokenDelta(run_id=self.run_id, ts=time.time(), path=self.path,
                                 node_id=node_id, text=text))

    def tool_called(self, node_id: str, tool: str, arguments: dict[str, object],
                    result: object = None, error: str | None = None) -> None:
        if self.emit is not None:
            self.emit(ToolCalled(run_id=self.run_id, ts=time.time(), path=self.path,
                                 node_id=node_id, tool=tool, arguments=arguments,
                                 result=result, error=error))
