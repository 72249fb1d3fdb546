"""Retention and compaction of stored runs, and what a run's storage costs.

Checkpoints are per-node deltas, so a run's storage is linear in the nodes it settled. Retention
bounds the number of runs kept (newest ``keep_last`` finished runs per workflow, and/or finished
runs newer than a cut-off); compaction bounds a long finished run to one checkpoint per node.
Both only ever touch finished runs (completed, failed, cancelled), and delete in chunks so live
writers are never held back long on SQLite.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from plait.errors import UsageError
from plait.store.db import Database
from plait.store.run_tables import FINISHED, answers, checkpoints, events, runs
from plait.store.transactions import read_connection, write_transaction

__all__ = ["RunUsage", "compact", "now", "prune", "usage"]

_CHUNK = 200
"""Runs (or checkpoints) deleted per transaction."""


def now() -> float:
    return time.time()


async def prune(db: Database, *, keep_last: int | None = None,
                older_than: float | None = None) -> int:
    """Remove finished runs beyond the newest ``keep_last`` per workflow and/or last updated
    before ``older_than`` (POSIX time), with their checkpoints, answers and events; returns how
    many runs were removed."""
    if keep_last is not None and keep_last < 0:
        raise UsageError(f"keep_last must be 0 or more, not {keep_last}")
    if keep_last is None and older_than is None:
        return 0
    conditions: list[sa.ColumnElement[bool]] = []
    if keep_last is not None:
        rank = sa.func.row_number().over(
            partition_by=runs.c.workflow,
            order_by=(runs.c.updated_at.desc(), runs.c.run_id.desc())).label("rank")
        ranked = (sa.select(runs.c.run_id, rank).where(runs.c.status.in_(FINISHED))
                  .subquery())
        conditions.append(runs.c.run_id.in_(
            sa.select(ranked.c.run_id).where(ranked.c.rank > keep_last)))
    if older_than is not None:
        conditions.append(runs.c.updated_at < older_than)
    query = sa.select(runs.c.run_id).where(runs.c.status.in_(FINISHED), sa.or_(*conditions))
    async with read_connection(db) as conn:
        doomed = list((await conn.execute(query)).scalars())
    removed = 0
    for start in range(0, len(doomed), _CHUNK):
        removed += await _delete_runs(db, doomed[start:start + _CHUNK])
    return removed


async def _delete_runs(db: Database, run_ids: Sequence[str]) -> int:
    async with write_transaction(db) as conn:
        # The status test again, inside the write: a run resumed since it was chosen stays.
        gone = list((await conn.execute(
            sa.delete(runs).where(runs.c.run_id.in_(run_ids), runs.c.status.in_(FINISHED))
            .returning(runs.c.run_id))).scalars())
        if gone:
            # Foreign keys cascade to checkpoints and answers; deleting them here as well keeps
            # a database opened without SQLite's foreign_keys pragma clean. Events have no key.
            for table in (checkpoints, answers, events):
                await conn.execute(sa.delete(table).where(table.c.run_id.in_(gone)))
    return len(gone)


async def compact(db: Database, *, run_id: str | None = None) -> int:
    """Drop checkpoints of finished runs superseded by a later checkpoint of the same node;
    returns how many were dropped."""
    query = (sa.select(checkpoints.c.run_id, checkpoints.c.seq, checkpoints.c.node_id)
             .join(runs, runs.c.run_id == checkpoints.c.run_id)
             .where(runs.c.status.in_(FINISHED))
             .order_by(checkpoints.c.run_id, checkpoints.c.seq.desc()))
    if run_id is not None:
        query = query.where(checkpoints.c.run_id == run_id)
    superseded: list[tuple[str, int]] = []
    async with read_connection(db) as conn:
        seen: set[tuple[str, str]] = set()
        for rid, seq, node_id in (await conn.execute(query)).all():
            if (rid, node_id) in seen:
                superseded.append((rid, seq))
            else:
                seen.add((rid, node_id))
    for start in range(0, len(superseded), _CHUNK):
        chunk = superseded[start:start + _CHUNK]
        async with write_transaction(db) as conn:
            await conn.execute(sa.delete(checkpoints).where(
                sa.tuple_(checkpoints.c.run_id, checkpoints.c.seq).in_(chunk)))
    return len(superseded)


@dataclass(frozen=True, slots=True)
class RunUsage:
    """What one run occupies: row counts and the bytes of their JSON payloads."""

    checkpoints: int
    checkpoint_bytes: int
    events: int
    event_bytes: int


async def usage(db: Database, run_id: str) -> RunUsage:
    """Rows and payload bytes (UTF-8 JSON text of outputs, interrupts, lineage, event data) a
    run holds: the figure to watch for growth per step."""
    def size(column: sa.ColumnElement[str | None]) -> sa.ColumnElement[int]:
        if db.backend == "sqlite":
            length = sa.func.length(sa.cast(column, sa.LargeBinary))
        else:
            length = sa.func.octet_length(sa.cast(column, sa.Text))
        return sa.func.coalesce(sa.func.sum(length), 0)

    cp = checkpoints.c
    async with read_connection(db) as conn:
        cp_row = (await conn.execute(
            sa.select(sa.func.count(), size(cp.output) + size(cp.interrupts) + size(cp.lineage))
            .where(cp.run_id == run_id))).one()
        ev_row = (await conn.execute(
            sa.select(sa.func.count(), size(events.c.data))
            .where(events.c.run_id == run_id))).one()
    return RunUsage(checkpoints=int(cp_row[0]), checkpoint_bytes=int(cp_row[1]),
                    events=int(ev_row[0]), event_bytes=int(ev_row[1]))
