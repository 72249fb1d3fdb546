"""Checks of the SQL checkpoint store and run log that hold on every database: the tables match
the migration, a batch is one statement, storage per step does not grow with run length,
compaction and retention leave nothing behind. Subclass with a ``db`` fixture (an open,
migrated, empty :class:`Database`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from plait.graph.durability import LoggedEvent, NodeCheckpoint
from plait.store.checkpoints import SqlCheckpointStore
from plait.store.db import Database
from plait.store.retention import usage
from plait.store.run_tables import metadata
from plait.store.runlog import SqlRunLog
from plait.types import RunStatus

from .conformance_checkpoints import checkpoint, record

KB = "x" * 1024


class SqlCheckpointChecks:
    async def test_the_tables_match_the_migration(self, db: Database) -> None:
        def columns(conn: Connection) -> dict[str, tuple[list[str], list[str], list[str]]]:
            inspector = sa.inspect(conn)
            return {
                table: ([c["name"] for c in inspector.get_columns(table)],
                        [c["name"] for c in inspector.get_columns(table) if not c["nullable"]],
                        inspector.get_pk_constraint(table)["constrained_columns"])
                for table in metadata.tables}

        async with db.engine.connect() as conn:
            migrated = await conn.run_sync(columns)
        declared = {
            name: ([c.name for c in table.columns],
                   [c.name for c in table.columns if not c.nullable and not c.primary_key],
                   [c.name for c in table.primary_key.columns])
            for name, table in metadata.tables.items()}
        for name, (cols, not_null, pk) in declared.items():
            assert migrated[name][0] == cols, name
            assert set(not_null) <= set(migrated[name][1]), name
            assert migrated[name][2] == pk, name

    async def test_a_batch_is_one_statement_in_one_transaction(self, db: Database) -> None:
        store = SqlCheckpointStore(db)
        await store.create_run(record("r1"))
        statements: list[str] = []

        def seen(statement: str) -> None:
            statements.append(statement.split()[0].upper())

        # The hot path talks to the driver of the pool's one connection: trace the driver.
        async with db.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            if db.backend == "sqlite":
                await driver.set_trace_callback(seen)
            else:
                driver.add_query_logger(lambda record: seen(record.query))
        await store.append([checkpoint("r1", seq) for seq in range(1, 11)])
        await SqlRunLog(db).append_events(
            [LoggedEvent("r1", seq, "E", {}, 0.0) for seq in range(1, 11)])
        writes = [s for s in statements if s != "ROLLBACK"]  # the pool's reset on return
        if db.backend == "sqlite":  # SQLite traces every row of an executemany
            assert writes == ["BEGIN", *["INSERT"] * 10, "COMMIT"] * 2
        else:  # asyncpg's executemany is one pipelined, atomic statement
            assert writes == ["INSERT", "INSERT"]

    async def test_storage_per_step_does_not_grow_with_run_length(self, db: Database) -> None:
        store = SqlCheckpointStore(db)
        per_step: dict[int, float] = {}
        for steps in (10, 100):
            run_id = f"run{steps}"
            await store.create_run(record(run_id))
            for seq in range(1, steps + 1):  # what the engine writes: each node's delta
                await store.append([checkpoint(run_id, seq, node=f"node{seq:03d}",
                                               output={"step": f"{seq:03d}", "text": KB})])
            used = await usage(db, run_id)
            assert used.checkpoints == steps
            per_step[steps] = used.checkpoint_bytes / steps
        assert per_step[100] == per_step[10]
        assert 1024 < per_step[100] < 1024 + 200  # the output, its hash, nothing more

    async def test_compaction_keeps_the_newest_checkpoint_per_node_of_finished_runs(
            self, db: Database) -> None:
        store = SqlCheckpointStore(db)
        for run_id, status in (("done", RunStatus.COMPLETED), ("live", RunStatus.RUNNING)):
            await store.create_run(record(run_id, status=status))
            await store.append([
                NodeCheckpoint(run_id, 1, "ask", "waiting", interrupts=[{"id": "i"}]),
                *(checkpoint(run_id, seq, node="loop", output=seq) for seq in range(2, 7)),
                checkpoint(run_id, 7, node="ask", output="answered"),
                checkpoint(run_id, 8, node="end", output="end")])
        assert await store.compact() == 5  # the waiting checkpoint and four loop iterations
        kept = await store.checkpoints("done")
        assert [(c.seq, c.node_id, c.output) for c in kept] == [
            (6, "loop", 6), (7, "ask", "answered"), (8, "end", "end")]
        assert len(await store.checkpoints("live")) == 8
        assert await store.compact() == 0
        assert await store.compact("live") == 0
