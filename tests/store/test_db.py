"""The database handle opens and migrates SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from plait.errors import UsageError
from plait.store.db import Database, async_url


def test_urls_get_async_drivers(tmp_path: Path) -> None:
    assert async_url(tmp_path / "a.db").startswith("sqlite+aiosqlite:///")
    assert async_url("postgresql://u@h:5/db") == "postgresql+asyncpg://u@h:5/db"
    with pytest.raises(UsageError, match="unsupported database 'mysql'"):
        async_url("mysql://u@h/db")


async def test_sqlite_opens_in_wal_mode(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "sub" / "plait.db")
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
    await db.close()


async def test_postgres_opens_and_migrates(pg_url: str) -> None:
    db = await Database.open(pg_url)
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    await db.close()
