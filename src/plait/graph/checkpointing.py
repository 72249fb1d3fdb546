"""Writing one run's checkpoints to a store, in one of three durability modes.

The scheduler tells the :class:`Journal` about every top-level node that settles; the journal
turns it into an immutable :class:`~plait.graph.durability.NodeCheckpoint` (``seq`` 1, 2, ...)
and writes it:

* ``sync``: the nodes a settled node unblocks are *held* until its checkpoint is appended, so a
  process killed at any moment has stored every completed node. Everything that settles in one
  scheduler turn goes into one ``append`` (a group commit), so a fan-out costs one round trip.
* ``async``: a background task appends batches as they accumulate; nothing waits for it but
  the end of the run.
* ``exit``: everything (the run record included) is written once, when the run ends or pauses.

Outputs are checked and copied as plain JSON when they settle (:func:`plain_json`), so a value
mutated later by another node is stored as it was, and a non-JSON value fails its node
instead of being lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from plait.errors import CheckpointFailed
from plait.graph.durability import (
    CheckpointStore,
    Durability,
    JSONValue,
    NodeCheckpoint,
    RunRecord,
)
from plait.types import RunStatus

__all__ = ["Journal", "plain_json"]


def plain_json(value: object) -> JSONValue:
    """A plain-JSON copy of ``value`` (tuples become lists); ``ValueError`` says what is not
    JSON and where."""
    return _copy(value, "")


def _copy(value: object, where: str) -> JSONValue:
    tv = type(value)
    if tv is str or tv is int or tv is bool or value is None:
        return value
    if tv is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise ValueError(f"{value!r}{_at(where)} is not a finite number")
        return value
    if isinstance(value, Mapping) and (tv is dict or not hasattr(value, "model_dump")):
        out: dict[str, JSONValue] = {}
        for k, v in value.items():
            if type(k) is not str:
                raise ValueError(f"key {k!r}{_at(where)} is not a string")
            out[k] = _copy(v, f"{where}.{k}" if where else k)
        return out
    if isinstance(value, list | tuple) and (tv is list or tv is tuple):
        return [_copy(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):  # str subclasses (StrEnum): their plain string
        return value[:]
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float):
        return _copy(float(value), where)
    hint = " (return model.model_dump(mode='json'))" if hasattr(value, "model_dump") else ""
    raise ValueError(f"a {type(value).__name__}{_at(where)} is not JSON{hint}")


def _at(where: str) -> str:
    return f" at {where}" if where else ""


class Journal:
    """The checkpoints of one top-level run and the task that writes them."""

    __slots__ = ("error", "held", "mode", "on_failed", "on_written", "pending", "record",
                 "resumed", "seq", "start_batch", "store", "task")

    def __init__(self, store: CheckpointStore, record: RunRecord, mode: Durability, *,
                 seq: int = 0, start: Sequence[NodeCheckpoint] = (), resumed: bool = False,
                 on_written: Callable[[list[int]], None],
                 on_failed: Callable[[BaseException], None]) -> None:
        self.store = store
        self.record = record
        self.mode = mode
        self.resumed = resumed
        """The run record exists already (a resumed run)."""
        self.seq = seq
        self.pending: list[NodeCheckpoint] = []
        self.held: list[int] = []
        self.task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.start_batch = list(start)
        """Checkpoints written with the run record (a fork's kept nodes)."""
        self.on_written = on_written
        """Called with the held nodes once the batch that held them is stored (sync mode)."""
        self.on_failed = on_failed

    @property
    def run_id(self) -> str:
        return self.record.run_id

    # -- recording (synchronous: called by the scheduler) -----------------------------------
    def add(self, node_id: str, status: str, *, output: JSONValue = None,
            branch: str | None = None, attempts: int = 0, error: str | None = None,
            code: str | None = None, reason: str | None = None,
            interrupts: Sequence[Mapping[str, JSONValue]] = (),
            lineage: Mapping[str, JSONValue] | None = None) -> None:
        self.seq += 1
        self.pending.append(NodeCheckpoint(
            run_id=self.record.run_id, seq=self.seq, node_id=node_id, status=status,
            output=output, branch=branch, attempts=attempts, error=error, code=code,
            reason=reason, interrupts=tuple(interrupts), lineage=dict(lineage or {}),
            ts=time.time()))

    def release(self, queue: deque[int], runnable: list[int]) -> None:
        """Nodes a settled node unblocked: start them now, or (sync) once it is stored."""
        if self.mode is Durability.SYNC:
            self.held.extend(runnable)
        else:
            queue.extend(runnable)

    def kick(self) -> None:
        """The end of a scheduler turn: write what accumulated (not in exit mode)."""
        if (self.pending and self.task is None and self.error is None
                and self.mode is not Durability.EXIT):
            self.task = asyncio.ensure_future(self._write())

    @property
    def writing(self) -> bool:
        return self.task is not None

    # -- writing ----------------------------------------------------------------------------
    async def begin(self) -> None:
        """Before the first node: store the run record (a resumed run: mark it running)."""
        if self.mode is Durability.EXIT:
            return
        if self.resumed:
            await self.store.update_run(self.run_id, status=RunStatus.RUNNING)
        else:
            await self.store.create_run(self.record)
        if self.start_batch:
            await self.store.append(self.start_batch)
            self.start_batch = []

    async def _write(self) -> None:
        try:
            while self.pending and self.error is None:
                batch, held = self.pending, self.held
                self.pending, self.held = [], []
                await self.store.append(batch)
                if held:
                    self.on_written(held)
        except Exception as exc:
            self.error = exc
            self.task = None
            self.on_failed(exc)
            return
        self.task = None
        self.on_written([])

    async def finish(self, status: RunStatus, *, outputs: Mapping[str, JSONValue],
                     error: str | None, code: str | None) -> None:
        """Flush every checkpoint and store the run's final status. Raises
        :class:`~plait.errors.CheckpointFailed` if the store failed, now or earlier."""
        if self.task is not None:
            await asyncio.shield(self.task)
        if self.error is not None:
            failure = CheckpointFailed(f"the checkpoint store failed: {self.error}",
                                       cause=self.error)
            if self.resumed or self.mode is not Durability.EXIT:
                with contextlib.suppress(Exception):  # best effort: the store may be back
                    await self.store.update_run(self.run_id, status=RunStatus.FAILED,
                                                error=str(failure), code=failure.code)
            raise failure
        try:
            if self.mode is Durability.EXIT and not self.resumed:
                now = time.time()
                await self.store.create_run(dataclasses.replace(
                    self.record, status=status, error=error, code=code, outputs=dict(outputs),
                    updated_at=now))
            batch = self.start_batch + self.pending
            self.start_batch, self.pending, self.held = [], [], []
            if batch:
                await self.store.append(batch)
            await self.store.update_run(self.run_id, status=status, error=error, code=code,
                                        outputs=dict(outputs))
        except Exception as exc:
            self.error = exc
            raise CheckpointFailed(f"the checkpoint store failed: {exc}", cause=exc) from exc
