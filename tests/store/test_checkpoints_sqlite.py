"""The SQL checkpoint store and run log on SQLite: the conformance suite, the SQL checks, and
what only a database file shows (JSON columns, writers in other processes)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from plait.store.checkpoints import SqlCheckpointStore
from plait.store.db import Database
from plait.store.runlog import SqlRunLog

from .conformance_checkpoints import CheckpointStoreConformance, checkpoint, record
from .sql_checkpoints import SqlCheckpointChecks


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "plait.db")
    yield database
    await database.close()


class TestSqliteCheckpoints(CheckpointStoreConformance, SqlCheckpointChecks):
    @pytest.fixture
    def store(self, db: Database) -> SqlCheckpointStore:
        return SqlCheckpointStore(db)

    @pytest.fixture
    def runlog(self, db: Database) -> SqlRunLog:
        return SqlRunLog(db)


async def test_payloads_are_json_text_sqlite_can_query(db: Database) -> None:
    store = SqlCheckpointStore(db)
    await store.create_run(record("r1"))
    await store.append([checkpoint("r1", 1, output={"b": 2, "a": "ü", "n": 2**70}),
                        checkpoint("r1", 2, output="2")])
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT typeof(output), json_extract(output, '$.a'), output FROM plait_checkpoints "
            "ORDER BY seq"))).all()
    assert rows[0] == ("text", "ü", '{"b":2,"a":"ü","n":1180591620717411303424}')
    assert rows[1] == ("text", None, '"2"')  # TEXT affinity: the string "2" stays a string


_WRITER = textwrap.dedent("""
    import asyncio, sys
    from plait.graph.durability import NodeCheckpoint, LoggedEvent
    from plait.store.stores import open_store

    async def main(path, worker):
        stores = await open_store(path)
        async def run(i):
            run_id = f"w{worker}-r{i}"
            for seq in range(1, 21):
                await stores.checkpoints.append(
                    [NodeCheckpoint(run_id, seq, f"n{seq}", "completed", output={"w": worker})])
                await stores.runlog.append_events([LoggedEvent(run_id, seq, "E", {}, 0.0)])
        await asyncio.gather(*(run(i) for i in range(8)))
        await stores.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


@pytest.mark.slow
async def test_writers_in_several_processes_never_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    db = await Database.open(path)
    store = SqlCheckpointStore(db)
    workers = 3
    for worker in range(workers):
        for i in range(8):
            await store.create_run(record(f"w{worker}-r{i}"))
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-c", _WRITER, str(path),
                                                  str(worker)) for worker in range(workers)]
    assert [await p.wait() for p in procs] == [0] * workers
    runlog = SqlRunLog(db)
    for worker in range(workers):
        for i in range(8):
            run_id = f"w{worker}-r{i}"
            assert [c.seq for c in await store.checkpoints(run_id)] == list(range(1, 21))
            assert len(await runlog.events(run_id)) == 20
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA integrity_check"))).scalar() == "ok"
    await db.close()
