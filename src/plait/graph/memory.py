"""In-memory checkpoint store and run log: the reference implementations of the protocols in
:mod:`plait.graph.durability`, for tests, notebooks and short-lived processes.

They behave like the SQL stores (``plait.store``): values go in and come out as copies through
JSON (so a stored value never aliases a live one, and non-JSON values are refused), checkpoints
and events are immutable, and a batch is appended all or none. Nothing survives the process.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence

from plait.errors import RecordExists, RunNotFound, UsageError
from plait.graph.durability import JSONValue, LoggedEvent, NodeCheckpoint, RunRecord
from plait.types import RunStatus

__all__ = ["MemoryCheckpointStore", "MemoryRunLog"]

_FINISHED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


def _copy(value: object, what: str) -> JSONValue:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{what} is not storable as JSON: {exc}") from exc
    return json.loads(text)


class MemoryCheckpointStore:
    """:class:`~plait.graph.durability.CheckpointStore` in a dict. ``writes`` counts
    ``append`` calls (tests use it to see batching)."""

    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._checkpoints: dict[str, list[NodeCheckpoint]] = {}
        self._answers: dict[str, dict[str, JSONValue]] = {}
        self._seqs: dict[str, set[int]] = {}
        self.writes = 0

    async def create_run(self, run: RunRecord) -> None:
        if run.run_id in self._runs:
            raise RecordExists(f"run {run.run_id!r} is already stored", keys=(run.run_id,))
        what = f"run {run.run_id!r}"
        self._runs[run.run_id] = dataclasses.replace(
            run, spec=_copy(dict(run.spec), f"the spec of {what}"),  # type: ignore[arg-type]
            inputs=_copy(dict(run.inputs), f"the inputs of {what}"),  # type: ignore[arg-type]
            outputs=_copy(dict(run.outputs), f"the outputs of {what}"),  # type: ignore[arg-type]
            labels=dict(run.labels))
        self._checkpoints[run.run_id] = []
        self._seqs[run.run_id] = set()
        self._answers[run.run_id] = {}

    async def get_run(self, run_id: str) -> RunRecord | None:
        run = self._runs.get(run_id)
        return None if run is None else dataclasses.replace(
            run, spec=_copy(run.spec, "spec"), inputs=_copy(run.inputs, "inputs"),  # type: ignore[arg-type]
            outputs=_copy(run.outputs, "outputs"))  # type: ignore[arg-type]

    async def update_run(self, run_id: str, *, status: RunStatus, error: str | None = None,
                         code: str | None = None,
                         outputs: Mapping[str, JSONValue] | None = None) -> None:
        run = self._runs.get(run_id)
        if run is None:
            raise RunNotFound(run_id)
        changes: dict[str, object] = {"status": RunStatus(status), "error": error, "code": code,
                                      "updated_at": time.time()}
        if outputs is not None:
            changes["outputs"] = _copy(dict(outputs), f"the outputs of run {run_id!r}")
        self._runs[run_id] = dataclasses.replace(run, **changes)  # type: ignore[arg-type]

    async def list_runs(self, *, status: RunStatus | None = None, workflow: str | None = None,
                        limit: int = 50) -> list[RunRecord]:
        runs = [r for r in self._runs.values()
                if (status is None or r.status == status)
                and (workflow is None or r.workflow == workflow)]
        runs.sort(key=lambda r: (r.updated_at, r.run_id), reverse=True)
        return runs[:max(limit, 0)]

    async def append(self, checkpoints: Sequence[NodeCheckpoint]) -> None:
        staged: list[NodeCheckpoint] = []
        seen: set[tuple[str, int]] = set()
        for cp in checkpoints:
            if cp.run_id not in self._runs:
                raise RunNotFound(cp.run_id)
            key = (cp.run_id, cp.seq)
            if key in seen or cp.seq in self._seqs[cp.run_id]:
                raise RecordExists(f"checkpoint ({cp.run_id!r}, {cp.seq}) is already stored; "
                                   "checkpoints are immutable", keys=(f"{cp.run_id}#{cp.seq}",))
            seen.add(key)
            where = f"node {cp.node_id!r} (run {cp.run_id!r}, seq {cp.seq})"
            staged.append(dataclasses.replace(
                cp, output=_copy(cp.output, f"the output of {where}"),
                interrupts=tuple(_copy([dict(i) for i in cp.interrupts],  # type: ignore[arg-type]
                                       f"the interrupts of {where}")),
                lineage=_copy(dict(cp.lineage), f"the lineage of {where}")))  # type: ignore[arg-type]
        self.writes += 1
        for cp in staged:
            self._seqs[cp.run_id].add(cp.seq)
            stored = self._checkpoints[cp.run_id]
            stored.append(cp)
            if len(stored) > 1 and stored[-2].seq > cp.seq:
                stored.sort(key=lambda c: c.seq)

    async def checkpoints(self, run_id: str) -> list[NodeCheckpoint]:
        return [dataclasses.replace(cp, output=_copy(cp.output, "output"))
                for cp in self._checkpoints.get(run_id, [])]

    async def answer(self, run_id: str, interrupt_id: str, value: JSONValue) -> None:
        if run_id not in self._runs:
            raise RunNotFound(run_id)
        self._answers[run_id][interrupt_id] = _copy(value, f"the answer to {interrupt_id!r}")

    async def answers(self, run_id: str) -> dict[str, JSONValue]:
        return {k: _copy(v, "answer") for k, v in self._answers.get(run_id, {}).items()}

    async def prune(self, *, keep_last: int | None = None,
                    older_than: float | None = None) -> int:
        finished = [r for r in self._runs.values() if r.status in _FINISHED]
        doomed: set[str] = set()
        if older_than is not None:
            doomed.update(r.run_id for r in finished if r.updated_at < older_than)
        if keep_last is not None:
            by_workflow: dict[str, list[RunRecord]] = {}
            for r in finished:
                by_workflow.setdefault(r.workflow, []).append(r)
            for runs in by_workflow.values():
                runs.sort(key=lambda r: (r.updated_at, r.run_id), reverse=True)
                doomed.update(r.run_id for r in runs[max(keep_last, 0):])
        for run_id in doomed:
            del self._runs[run_id]
            self._checkpoints.pop(run_id, None)
            self._seqs.pop(run_id, None)
            self._answers.pop(run_id, None)
        return len(doomed)

    async def close(self) -> None:
        """Nothing to release."""



class MemoryRunLog:
    """:class:`~plait.graph.durability.RunLog` in a dict."""

    def __init__(self) -> None:
        self._events: dict[str, list[LoggedEvent]] = {}
        self._seqs: dict[str, set[int]] = {}
        self.writes = 0

    async def append_events(self, events: Sequence[LoggedEvent]) -> None:
        staged: list[LoggedEvent] = []
        seen: set[tuple[str, int]] = set()
        for event in events:
            key = (event.run_id, event.seq)
            if key in seen or event.seq in self._seqs.get(event.run_id, ()):
                raise RecordExists(f"event ({event.run_id!r}, {event.seq}) is already stored; "
                                   "the run log is append-only",
                                   keys=(f"{event.run_id}#{event.seq}",))
            seen.add(key)
            staged.append(dataclasses.replace(
                event, data=_copy(dict(event.data), f"the data of event {event.type}")))  # type: ignore[arg-type]
        self.writes += 1
        for event in staged:
            self._seqs.setdefault(event.run_id, set()).add(event.seq)
            stored = self._events.setdefault(event.run_id, [])
            stored.append(event)
            if len(stored) > 1 and stored[-2].seq > event.seq:
                stored.sort(key=lambda e: e.seq)

    async def events(self, run_id: str, *, after: int = 0,
                     limit: int | None = None) -> list[LoggedEvent]:
        found = [e for e in self._events.get(run_id, []) if e.seq > after]
        return found if limit is None else found[:max(limit, 0)]

    async def close(self) -> None:
        """Nothing to release."""
