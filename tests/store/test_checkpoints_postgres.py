"""The SQL checkpoint store and run log on PostgreSQL: the conformance suite, plus the column
types (JSON text kept exactly, labels as jsonb) and writers on many pooled connections."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from plait.store.checkpoints import SqlCheckpointStore
from plait.store.db import Database
from plait.store.runlog import SqlRunLog
from plait.testing.postgres import ThrowawayPostgres

from .conformance_checkpoints import CheckpointStoreConformance, checkpoint, record
from .sql_checkpoints import SqlCheckpointChecks


@pytest.fixture(scope="module")
def module_pg_url(pg_cluster: ThrowawayPostgres) -> str:
    """One database for this module: creating one per test costs more than the tests."""
    return pg_cluster.create_database(f"checkpoints_{os.getpid()}")


@pytest.fixture
async def db(module_pg_url: str) -> AsyncIterator[Database]:
    database = await Database.open(module_pg_url)
    async with database.engine.begin() as conn:
        await conn.execute(text(
            "TRUNCATE plait_runs, plait_checkpoints, plait_answers, plait_events"))
    yield database
    await database.close()


class TestPostgresCheckpoints(CheckpointStoreConformance):
    @pytest.fixture
    def store(self, db: Database) -> SqlCheckpointStore:
        return SqlCheckpointStore(db)

    @pytest.fixture
    def runlog(self, db: Database) -> SqlRunLog:
        return SqlRunLog(db)


class TestPostgresSql(SqlCheckpointChecks):
    pass


async def test_payloads_are_json_and_labels_jsonb(db: Database) -> None:
    store = SqlCheckpointStore(db)
    await store.create_run(record("r1", labels={"env": "prod", "team": "ü"}))
    await store.create_run(record("r2", labels={"env": "dev"}))
    await store.append([checkpoint("r1", 1, output={"b": 2, "a": "ü"}),
                        checkpoint("r1", 2, output={"nul": "\x00"})])
    async with db.engine.connect() as conn:
        kind, value = (await conn.execute(text(
            "SELECT pg_typeof(output)::text, output->>'a' FROM plait_checkpoints "
            "WHERE seq = 1"))).one()
        # json keeps the text as written (key order, and U+0000, which jsonb refuses)
        raw = (await conn.execute(text(
            "SELECT string_agg(output::text, ' ' ORDER BY seq) FROM plait_checkpoints"))).scalar()
        labelled = (await conn.execute(text(
            "SELECT run_id FROM plait_runs WHERE labels @> '{\"env\": \"prod\"}'"))).scalars()
        assert list(labelled) == ["r1"]
    assert (kind, value) == ("json", "ü")
    assert raw == '{"b":2,"a":"ü"} {"nul":"\\u0000"}'


async def test_large_payloads_are_compressed_with_lz4(db: Database) -> None:
    async with db.engine.connect() as conn:
        methods = dict((await conn.execute(text(
            "SELECT attrelid::regclass::text || '.' || attname, attcompression::text "
            "FROM pg_attribute "
            "WHERE attrelid IN ('plait_checkpoints'::regclass, 'plait_events'::regclass) "
            "AND attname IN ('output', 'data')"))).all())
    assert methods == {"plait_checkpoints.output": "l", "plait_events.data": "l"}
