"""The checkpoint store on SQLite and PostgreSQL.

One row per run, one immutable row per node checkpoint (that node's delta only, so storage grows
linearly with the work done), one row per interrupt answer. Every write is one transaction on one
connection; a batch of checkpoints is one multi-row ``INSERT`` (all or none). The store computes
``lineage["output_hash"]``, the blake3 hash of the output's canonical JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from plait.errors import RecordExists, RunNotFound, UsageError
from plait.graph.durability import JSONValue, NodeCheckpoint, RunRecord
from plait.store import retention
from plait.store.codec import dump_json, encode_output, load_json, load_list, load_object
from plait.store.db import Database
from plait.store.run_tables import answers as _answers
from plait.store.run_tables import checkpoints as _checkpoints
from plait.store.run_tables import runs as _runs
from plait.store.transactions import insert_rows, read_connection, write_transaction
from plait.types import RunStatus

__all__ = ["SqlCheckpointStore"]

_SELECT_RUN = sa.select(_runs).where(_runs.c.run_id == sa.bindparam("run_id"))
_SELECT_CHECKPOINTS = (sa.select(_checkpoints)
                       .where(_checkpoints.c.run_id == sa.bindparam("run_id"))
                       .order_by(_checkpoints.c.seq))
_SELECT_ANSWERS = (sa.select(_answers.c.interrupt_id, _answers.c.value)
                   .where(_answers.c.run_id == sa.bindparam("run_id"))
                   .order_by(_answers.c.ts, _answers.c.interrupt_id))


class SqlCheckpointStore:
    """:class:`~plait.graph.durability.CheckpointStore` on a :class:`Database`.

    The store shares the database and does not own it: :meth:`close` leaves it open (close the
    :class:`Database`, or the :class:`~plait.store.stores.Stores` bundle, when done).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # runs

    async def create_run(self, run: RunRecord) -> None:
        row = {
            "run_id": run.run_id,
            "workflow": run.workflow,
            "spec": dump_json(dict(run.spec), what=f"the spec of run {run.run_id!r}"),
            "digest": run.digest,
            "inputs": dump_json(dict(run.inputs), what=f"the inputs of run {run.run_id!r}"),
            "status": _status(run.status),
            "error": run.error,
            "code": run.code,
            "outputs": dump_json(dict(run.outputs), what=f"the outputs of run {run.run_id!r}"),
            "parent_id": run.parent_id,
            "tenant": run.tenant,
            "session_id": run.session_id,
            "labels": dump_json(dict(run.labels), what=f"the labels of run {run.run_id!r}"),
            "created_at": float(run.created_at),
            "updated_at": float(run.updated_at),
        }
        try:
            await insert_rows(self.db, _runs, [row])
        except IntegrityError as exc:
            raise RecordExists(f"run {run.run_id!r} is already stored",
                               keys=(run.run_id,)) from exc

    async def get_run(self, run_id: str) -> RunRecord | None:
        async with read_connection(self.db) as conn:
            row = (await conn.execute(_SELECT_RUN, {"run_id": run_id})).first()
        return None if row is None else _run_record(row._mapping)

    async def update_run(self, run_id: str, *, status: RunStatus, error: str | None = None,
                         code: str | None = None,
                         outputs: Mapping[str, JSONValue] | None = None) -> None:
        """Set the status, error and code (``None`` clears them) and, when given, the outputs."""
        values: dict[str, object] = {"status": _status(status), "error": error, "code": code,
                                     "updated_at": retention.now()}
        if outputs is not None:
            values["outputs"] = dump_json(dict(outputs), what=f"the outputs of run {run_id!r}")
        async with write_transaction(self.db) as conn:
            result = await conn.execute(
                sa.update(_runs).where(_runs.c.run_id == run_id).values(values))
        if result.rowcount == 0:
            raise RunNotFound(run_id)

    async def list_runs(self, *, status: RunStatus | None = None, workflow: str | None = None,
                        limit: int = 50) -> list[RunRecord]:
        """Most recently updated first."""
        query = sa.select(_runs).order_by(_runs.c.updated_at.desc(), _runs.c.run_id.desc())
        if status is not None:
            query = query.where(_runs.c.status == _status(status))
        if workflow is not None:
            query = query.where(_runs.c.workflow == workflow)
        async with read_connection(self.db) as conn:
            rows = (await conn.execute(query.limit(max(limit, 0)))).all()
        return [_run_record(row._mapping) for row in rows]

    # checkpoints

    async def append(self, checkpoints: Sequence[NodeCheckpoint]) -> None:
        """Append a batch in one transaction (all or none). A ``(run_id, seq)`` already stored,
        or twice in the batch, is a :class:`~plait.errors.RecordExists`; a run never created is
        a :class:`~plait.errors.RunNotFound`."""
        if not checkpoints:
            return
        keys = [(cp.run_id, cp.seq) for cp in checkpoints]
        if len(set(keys)) != len(keys):
            twice = sorted({key for key in keys if keys.count(key) > 1})
            raise RecordExists(f"checkpoints {_keys(twice)} appear twice in one batch",
                               keys=tuple(f"{r}#{s}" for r, s in twice))
        rows = [_checkpoint_row(cp) for cp in checkpoints]
        try:
            await insert_rows(self.db, _checkpoints, rows)
        except IntegrityError as exc:
            raise await self._refusal(keys) from exc

    async def _refusal(self, keys: list[tuple[str, int]]) -> UsageError:
        run_ids = sorted({run_id for run_id, _ in keys})
        async with read_connection(self.db) as conn:
            known = set((await conn.execute(
                sa.select(_runs.c.run_id).where(_runs.c.run_id.in_(run_ids)))).scalars())
            missing = [run_id for run_id in run_ids if run_id not in known]
            if missing:
                return RunNotFound(missing[0])
            stored = (await conn.execute(
                sa.select(_checkpoints.c.run_id, _checkpoints.c.seq)
                .where(sa.tuple_(_checkpoints.c.run_id, _checkpoints.c.seq).in_(keys)))).all()
        found = sorted((str(r), int(s)) for r, s in stored)
        return RecordExists(
            f"checkpoints {_keys(found)} are already stored; checkpoints are immutable",
            keys=tuple(f"{r}#{s}" for r, s in found))

    async def checkpoints(self, run_id: str) -> list[NodeCheckpoint]:
        async with read_connection(self.db) as conn:
            rows = (await conn.execute(_SELECT_CHECKPOINTS, {"run_id": run_id})).all()
        return [_checkpoint(row._mapping) for row in rows]

    # answers

    async def answer(self, run_id: str, interrupt_id: str, value: JSONValue) -> None:
        """Record (or replace) the answer to an interrupt of a stored run."""
        text = dump_json(value, what=f"the answer to interrupt {interrupt_id!r}")
        insert = (sqlite.insert(_answers) if self.db.backend == "sqlite"
                  else postgresql.insert(_answers))
        values = {"run_id": run_id, "interrupt_id": interrupt_id, "value": text,
                  "ts": retention.now()}
        statement = insert.values(values).on_conflict_do_update(
            index_elements=[_answers.c.run_id, _answers.c.interrupt_id],
            set_={"value": insert.excluded.value, "ts": insert.excluded.ts})
        try:
            async with write_transaction(self.db) as conn:
                await conn.execute(statement)
        except IntegrityError as exc:  # the foreign key: no such run
            raise RunNotFound(run_id) from exc

    async def answers(self, run_id: str) -> dict[str, JSONValue]:
        async with read_connection(self.db) as conn:
            rows = (await conn.execute(_SELECT_ANSWERS, {"run_id": run_id})).all()
        return {str(row.interrupt_id): load_json(row.value) for row in rows}

    # retention

    async def prune(self, *, keep_last: int | None = None,
                    older_than: float | None = None) -> int:
        """Remove finished runs (completed, failed, cancelled) beyond the newest ``keep_last``
        per workflow, and/or last updated before ``older_than`` (POSIX time), with their
        checkpoints, answers and events; returns how many runs were removed. Pending, running
        and waiting runs are never removed."""
        return await retention.prune(self.db, keep_last=keep_last, older_than=older_than)

    async def compact(self, run_id: str | None = None) -> int:
        """Drop checkpoints superseded by a later checkpoint of the same node (loop iterations,
        a node's ``waiting`` checkpoint once it completed) in finished runs (one, or all);
        returns how many were dropped. Resume and ``runs show`` read the newest checkpoint per
        node, so they are unaffected; forking from a dropped iteration is no longer possible."""
        return await retention.compact(self.db, run_id=run_id)

    async def close(self) -> None:
        """Nothing to release: the :class:`Database` is shared and closed by its owner."""


def _status(status: str) -> str:
    try:
        return RunStatus(status).value
    except ValueError:
        raise UsageError(f"unknown run status {status!r}; expected one of "
                         f"{', '.join(s.value for s in RunStatus)}") from None


def _keys(keys: Sequence[tuple[str, int]]) -> str:
    shown = ", ".join(f"({r!r}, {s})" for r, s in keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _checkpoint_row(cp: NodeCheckpoint) -> dict[str, object]:
    where = f"node {cp.node_id!r} (run {cp.run_id!r}, seq {cp.seq})"
    output, digest = encode_output(cp.output, what=f"the output of {where}")
    return {
        "run_id": cp.run_id,
        "seq": cp.seq,
        "node_id": cp.node_id,
        "status": str(cp.status),
        "output": output,
        "branch": cp.branch,
        "attempts": cp.attempts,
        "error": cp.error,
        "code": cp.code,
        "reason": cp.reason,
        "interrupts": dump_json([dict(i) for i in cp.interrupts],
                                what=f"the interrupts of {where}"),
        "lineage": dump_json({**cp.lineage, "output_hash": digest},
                             what=f"the lineage of {where}"),
        "ts": float(cp.ts),
    }


def _checkpoint(row: sa.RowMapping) -> NodeCheckpoint:
    return NodeCheckpoint(
        run_id=row["run_id"], seq=row["seq"], node_id=row["node_id"], status=row["status"],
        output=load_json(row["output"]), branch=row["branch"], attempts=row["attempts"],
        error=row["error"], code=row["code"], reason=row["reason"],
        interrupts=load_list(row["interrupts"]), lineage=load_object(row["lineage"]),
        ts=row["ts"])


def _run_record(row: sa.RowMapping) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"], workflow=row["workflow"], spec=load_object(row["spec"]),
        digest=row["digest"], inputs=load_object(row["inputs"]), status=RunStatus(row["status"]),
        created_at=row["created_at"], updated_at=row["updated_at"], parent_id=row["parent_id"],
        error=row["error"], code=row["code"], outputs=load_object(row["outputs"]),
        tenant=row["tenant"], session_id=row["session_id"],
        labels={str(k): str(v) for k, v in load_object(row["labels"]).items()})
