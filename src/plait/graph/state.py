"""Run state: plain per-node records that a checkpoint can persist, and the run's result.

Everything needed to resume a run is derivable from the records of completed (and skipped)
nodes: the planner recomputes edge resolutions from them. Live scheduling state is kept in
integer-indexed lists for speed and turned into records on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from plait.errors import PlaitError, RunFailed
from plait.types import RunStatus

if TYPE_CHECKING:
    from plait.graph.compiler import CompiledGraph
    from plait.graph.interrupts import PendingInterrupt

__all__ = ["Branch", "NodeRecord", "NodeStatus", "RunResult", "RunState", "branch_label"]


class NodeStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WAITING = "waiting"
    """Returned interrupts that are not all answered yet (see :mod:`plait.graph.interrupts`)."""


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


SKIPPED: Final = _Marker("skipped")
UNRESOLVED: Final = _Marker("unresolved")
RELEASED: Final = _Marker("released")
"""An intermediate output dropped by the memory_optimized profile."""


@dataclass(frozen=True, slots=True)
class Branch:
    """Return this from a node to choose conditional edges by ``label`` and pass ``value`` on."""

    label: str
    value: object = None


def branch_label(value: object) -> str:
    """The label a value selects on conditional edges: ``true``/``false``/``none``/str."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "none"
    return str(value)


@dataclass(frozen=True, slots=True)
class NodeRecord:
    node_id: str
    kind: str
    status: NodeStatus
    output: object = None
    error: str | None = None
    code: str | None = None
    attempts: int = 0
    reason: str | None = None


class RunState:
    """Mutable state of one run over a compiled graph."""

    __slots__ = ("attempts", "delivered_in", "edge_values", "errors", "graph", "outputs",
                 "pending_in", "reasons", "run_id", "skipped_in", "status")

    def __init__(self, graph: CompiledGraph, run_id: str) -> None:
        n = len(graph.nodes)
        self.graph = graph
        self.run_id = run_id
        self.status: list[NodeStatus] = [NodeStatus.PENDING] * n
        self.outputs: list[object] = [None] * n
        self.attempts: list[int] = [0] * n
        self.errors: dict[int, BaseException] = {}
        self.reasons: dict[int, str] = {}
        self.pending_in: list[int] = [len(node.in_edges) for node in graph.nodes]
        self.delivered_in: list[int] = [0] * n
        self.skipped_in: list[int] = [0] * n
        self.edge_values: list[object] = [UNRESOLVED] * len(graph.edges)

    def record(self, i: int) -> NodeRecord:
        node = self.graph.nodes[i]
        status = self.status[i]
        error = self.errors.get(i)
        output = self.outputs[i] if status is NodeStatus.COMPLETED else None
        return NodeRecord(
            node_id=node.id, kind=node.kind, status=status,
            output=None if output is RELEASED else output,
            error=None if error is None else describe_error(error),
            code=None if error is None else error_code(error),
            attempts=self.attempts[i], reason=self.reasons.get(i))

    def records(self) -> dict[str, NodeRecord]:
        return {node.id: self.record(node.index) for node in self.graph.nodes}


def describe_error(error: BaseException) -> str:
    if isinstance(error, PlaitError):
        return str(error)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def error_code(error: BaseException) -> str:
    return error.code if isinstance(error, PlaitError) else "node_failed"


@dataclass(slots=True)
class RunResult:
    """What a run produced. ``outputs`` holds output nodes' values by name."""

    run_id: str
    workflow: str
    status: RunStatus
    outputs: dict[str, object]
    error: PlaitError | None = None
    duration: float = 0.0
    usage: dict[str, float] = field(default_factory=dict)
    """What the run's nodes charged to its meter, e.g. ``{"tokens": 812, "cost": 0.0}``."""
    _state: RunState | None = field(default=None, repr=False)
    interrupts: tuple[PendingInterrupt, ...] = ()
    """For a ``waiting`` run: the interrupts it waits on (answer them by ``id`` on resume)."""
    _records: Mapping[str, NodeRecord] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.COMPLETED

    @property
    def nodes(self) -> Mapping[str, NodeRecord]:
        """Per-node records (status, output, error, attempts, skip reason)."""
        if self._state is not None:
            return self._state.records()
        return self._records if self._records is not None else {}

    def raise_for_status(self) -> RunResult:
        if self.status is RunStatus.FAILED:
            message = f"run of {self.workflow!r} failed"
            if self.error is not None:
                message += f": {self.error}"
            raise RunFailed(self, message) from self.error
        return self
