"""The PostgreSQL state store passes the conformance suite; a backup taken from SQLite
restores into PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from plait.store.db import Database
from plait.store.state import Scope, SqlStateStore
from plait.testing.postgres import ThrowawayPostgres

from .conformance_state import Profile, StateStoreConformance


class TestPostgresStateStore(StateStoreConformance):
    @pytest.fixture
    async def store(self, pg_url: str) -> AsyncIterator[SqlStateStore]:
        async with await Database.open(pg_url) as db:
            yield SqlStateStore(db)

    @pytest.fixture
    async def other_store(self, pg_cluster: ThrowawayPostgres,
                          pg_url: str) -> AsyncIterator[SqlStateStore]:
        url = pg_cluster.create_database(pg_url.rsplit("/", 1)[1] + "_other")
        async with await Database.open(url) as db:
            yield SqlStateStore(db)


async def test_backup_from_sqlite_restores_into_postgres(tmp_path: Path, pg_url: str) -> None:
    scopes = [Scope.GLOBAL, Scope.tenant("acme"), Scope.session("s:1"),
              Scope.workflow("triage"), Scope.node("triage", "route"),
              Scope.custom("team", "blue")]
    async with await Database.open(tmp_path / "plait.db") as lite:
        source = SqlStateStore(lite)
        for i, scope in enumerate(scopes):
            await source.set(scope, "value", {"i": i, "text": "héllo ✓", "big": 2**60})
            await source.set(scope, "profile", Profile(name=f"n{i}"))
        await source.set(Scope.GLOBAL, "value", {"i": -1})
        source.register_migration(Profile, 1, lambda v: {**v, "tier": "migrated"}  # type: ignore
                                  )
        assert await source.backup(tmp_path / "backup.jsonl") == 12
        expected = {(s, k): await source.get_entry(s, k)
                    for s in scopes for k in ("value",)}
    async with await Database.open(pg_url) as pg:
        target = SqlStateStore(pg)
        report = await target.restore(tmp_path / "backup.jsonl")
        assert (report.restored, report.skipped) == (12, 0)
        for (scope, key), entry in expected.items():
            assert await target.get_entry(scope, key) == entry
        # backups carry raw rows: values migrate lazily in the target, like any read
        target.register_migration(Profile, 1, lambda v: {**v, "tier": "migrated"}  # type: ignore
                                  )
        assert await target.get(scopes[2], "profile", type=Profile) == Profile(
            name="n2", tier="migrated")
        assert await target.migrate_all() == 5
