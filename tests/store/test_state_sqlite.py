"""The SQLite state store passes the conformance suite; no secret reaches the database file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from plait.store.db import Database
from plait.store.state import Scope, SqlStateStore, StateStore

from .conformance_state import Credentials, StateStoreConformance


class TestSqliteStateStore(StateStoreConformance):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqlStateStore]:
        async with await Database.open(tmp_path / "a" / "plait.db") as db:
            yield SqlStateStore(db)

    @pytest.fixture
    async def other_store(self, tmp_path: Path) -> AsyncIterator[SqlStateStore]:
        async with await Database.open(tmp_path / "b" / "plait.db") as db:
            yield SqlStateStore(db)


def database_bytes(path: Path) -> bytes:
    """The database file with its WAL and shared-memory files."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


async def test_raw_secrets_never_reach_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    secrets = ["sk-live-SECRET-1", "tok-SECRET-2", "hunter2-SECRET-3", "pw-SECRET-4"]
    db = await Database.open(path)
    store = SqlStateStore(db)
    assert isinstance(store, StateStore)
    await store.set(Scope.tenant("acme"), "creds", Credentials(
        user="ada", api_key=SecretStr(secrets[0]), token=secrets[1]))
    await store.set(Scope.GLOBAL, "db_password", secrets[2])
    await store.cas(Scope.GLOBAL, "cfg", 0, {"nested": [{"Authorization": secrets[3]}]})
    backup = tmp_path / "backup.jsonl"
    await store.backup(backup)
    restored = SqlStateStore(await Database.open(tmp_path / "copy.db"))
    await restored.restore(backup)
    await restored.db.close()
    assert await store.get(Scope.GLOBAL, "db_password") == "***"
    await db.close()
    for blob in (database_bytes(path), database_bytes(tmp_path / "copy.db"),
                 backup.read_bytes()):
        assert b"***" in blob
        for secret in secrets:
            assert secret.encode() not in blob
