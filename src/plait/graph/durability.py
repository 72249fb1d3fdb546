"""What the engine needs from durable storage: a checkpoint store and a run log.

The engine declares these protocols; ``plait.store`` implements them on SQLite and PostgreSQL
(and :mod:`plait.graph.memory` in memory). Everything here is plain JSON-able data: specs,
inputs, outputs and events are stored as JSON, never pickled.

Model (decided):

- A **run record** is written when a durable run starts (in ``exit`` mode: when it ends): the
  canonical spec JSON, its digest, the inputs, the status, timestamps, the parent run (for
  forks). Its status is updated when the run ends (completed, failed, cancelled, waiting).
- A **checkpoint** is appended after each top-level node settles (completed, skipped, failed,
  or waiting on interrupts). It holds only that node's delta, so storage grows linearly with the
  work done. ``seq`` increases by one per run; (run_id, seq) is unique and immutable.
- **Answers** to interrupts are stored by interrupt id; resuming a waiting run feeds them to the
  nodes that asked.
- The **run log** holds every event of a run, in order (``seq`` per run).

Resume = the run record + its checkpoints + answers: each node's newest checkpoint counts.
Completed nodes (and nodes a hook skipped) are restored, never run again; skips that follow
from other nodes (an untaken branch, a skipped or failed upstream) are recomputed; every other
node is pending. Only top-level nodes are checkpointed: a child run (subworkflow, map, loop) is
part of its container node. The engine side lives in :mod:`plait.graph.checkpointing` (writing)
and :mod:`plait.graph.restore` (reading back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from plait.types import RunStatus

__all__ = [
    "CheckpointStore",
    "Durability",
    "JSONValue",
    "LoggedEvent",
    "NodeCheckpoint",
    "RunLog",
    "RunRecord",
]

JSONValue = object
"""A value that ``json.dumps`` accepts (dicts with str keys, lists, str, numbers, bools, None)."""


class Durability(StrEnum):
    """When checkpoints reach the store.

    ``sync``: before the node's successors start (a kill loses nothing that completed);
    ``async``: queued to a background writer, flushed before the run returns;
    ``exit``: written once, when the run finishes, pauses or fails (cheapest; a kill loses the run's
    progress)."""

    SYNC = "sync"
    ASYNC = "async"
    EXIT = "exit"


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    workflow: str
    spec: Mapping[str, JSONValue]
    """The canonical spec JSON the run executed (``WorkflowSpec.model_dump(mode="json")``)."""
    digest: str
    inputs: Mapping[str, JSONValue]
    status: RunStatus
    created_at: float
    updated_at: float
    parent_id: str | None = None
    """The run this one was forked from."""
    error: str | None = None
    code: str | None = None
    outputs: Mapping[str, JSONValue] = field(default_factory=dict)
    tenant: str | None = None
    session_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeCheckpoint:
    run_id: str
    seq: int
    node_id: str
    status: str
    """A ``NodeStatus`` value: completed, skipped, failed, or ``waiting`` (on interrupts)."""
    output: JSONValue = None
    branch: str | None = None
    """The label the node chose for conditional edges, if any."""
    attempts: int = 0
    error: str | None = None
    code: str | None = None
    reason: str | None = None
    interrupts: Sequence[Mapping[str, JSONValue]] = ()
    """For a waiting node: every interrupt it asked (answered or not), as
    :meth:`plait.graph.interrupts.PendingInterrupt.to_json` writes them: ``id``, ``node_id``,
    ``key``, ``prompt``, ``schema``, ``timeout``, ``created_at``, ``path`` and ``default``
    (absent when there is none)."""
    lineage: Mapping[str, JSONValue] = field(default_factory=dict)
    """What produced the output: model ids, prompt hashes (``ctx.lineage``), ``children`` (the
    lineage of nodes in the node's child runs), ``forked_from``/``edited`` (a fork's copies),
    and the output's blake3 hash (added by the SQL stores)."""
    ts: float = 0.0


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    run_id: str
    seq: int
    type: str
    """The event class name (``NodeOutput``)."""
    data: Mapping[str, JSONValue]
    """:func:`plait.graph.events.event_to_dict` made JSON (child runs' events carry their own
    ``run_id`` and ``path`` here; ``LoggedEvent.run_id`` is the top-level run's)."""
    ts: float


@runtime_checkable
class CheckpointStore(Protocol):
    async def create_run(self, run: RunRecord) -> None:
        """Store a new run record; an existing ``run_id`` is a ``UsageError``."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def update_run(self, run_id: str, *, status: RunStatus, error: str | None = None,
                         code: str | None = None,
                         outputs: Mapping[str, JSONValue] | None = None) -> None: ...

    async def list_runs(self, *, status: RunStatus | None = None, workflow: str | None = None,
                        limit: int = 50) -> list[RunRecord]:
        """Most recent first."""
        ...

    async def append(self, checkpoints: Sequence[NodeCheckpoint]) -> None:
        """Append checkpoints atomically (all or none). Rewriting an existing (run_id, seq)
        is refused: checkpoints are immutable."""
        ...

    async def checkpoints(self, run_id: str) -> list[NodeCheckpoint]:
        """All of a run's checkpoints in ``seq`` order."""
        ...

    async def answer(self, run_id: str, interrupt_id: str, value: JSONValue) -> None:
        """Record the answer to an interrupt (answering twice replaces the answer until the
        run resumes)."""
        ...

    async def answers(self, run_id: str) -> dict[str, JSONValue]: ...

    async def prune(self, *, keep_last: int | None = None,
                    older_than: float | None = None) -> int:
        """Retention: keep only the last ``keep_last`` finished runs per workflow and/or drop
        finished runs last updated before ``older_than`` (POSIX time); returns runs removed.
        Waiting and running runs are never pruned."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class RunLog(Protocol):
    async def append_events(self, events: Sequence[LoggedEvent]) -> None: ...

    async def events(self, run_id: str, *, after: int = 0,
                     limit: int | None = None) -> list[LoggedEvent]:
        """A run's events with ``seq > after``, in order."""
        ...
