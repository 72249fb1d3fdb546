"""What a running node can reach: its run's id and inputs, events, child runs, the answers
to its interrupts, and a place to record lineage."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from plait.errors import UsageError
from plait.graph.events import EventSink, TokenDelta, ToolCalled
from plait.graph.meter import Meter

if TYPE_CHECKING:
    from plait.graph.spec import RunSettings
    from plait.graph.state import RunResult

__all__ = ["CURRENT_NODE", "RunContext"]

CURRENT_NODE: Final[ContextVar[str | None]] = ContextVar("plait_current_node", default=None)
"""The id of the node whose code is running (set by the engine for nodes that run in their
own task, and by function nodes that take ``ctx``), so ``ctx.answers()`` and ``ctx.lineage()``
know which node asks. Kinds know their node id and pass it explicitly."""


def _node(node_id: str | None) -> str:
    if node_id is not None:
        return node_id
    current = CURRENT_NODE.get()
    if current is None:
        raise UsageError("cannot tell which node is asking; pass node_id")
    return current


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

    def answers(self, node_id: str | None = None) -> dict[str, object]:
        """The answers to the interrupts of node ``node_id`` (default: the calling node), by
        interrupt key (the ``key`` it was given, else its index as a string, ``"0"``...).
        Empty until the run is resumed with answers."""
        return {}

    def answer(self, key: str | int = 0, *, node_id: str | None = None) -> object:
        """The answer to the calling node's interrupt ``key``; ``KeyError`` if unanswered."""
        found = self.answers(_node(node_id))
        name = str(key)
        if name not in found:
            raise KeyError(f"interrupt {name!r} of node {_node(node_id)!r} has no answer")
        return found[name]

    def lineage(self, node_id: str | None = None, /, **fields: object) -> None:
        """Attach lineage (what produced the output: ``model=...``, ``prompt_hash=...``) to
        node ``node_id``'s checkpoint (default: the calling node). Later calls add fields;
        nested nodes' lineage lands on their top-level container. JSON values only; without
        a store it is dropped."""
        return None

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
