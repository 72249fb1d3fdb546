"""One database handle: an async SQLAlchemy engine on SQLite (WAL) or PostgreSQL, migrated
with Alembic to the head revision on :meth:`Database.open`.

URLs: ``sqlite:///path/plait.db`` (or a bare path), ``postgresql://user@host:port/db``; the
async drivers (aiosqlite, asyncpg) are filled in.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from plait.errors import UsageError

__all__ = ["Database", "async_url"]

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str | Path) -> str:
    """``url`` with an async driver; a bare path means a SQLite file."""
    text = str(url)
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser()}"
    parsed = make_url(text)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise UsageError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """An async engine plus its session factory. Open it once per process and share it."""

    def __init__(self, url: str | Path) -> None:
        self.url = async_url(url)
        self.backend = make_url(self.url).get_backend_name()
        if self.backend == "sqlite":
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(self.url)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_async_engine(self.url, pool_size=10, max_overflow=20)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str | Path) -> Database:
        """Connect and migrate to the newest schema."""
        db = cls(url)
        await db.migrate()
        return db

    async def migrate(self, revision: str = "heads") -> None:
        """Run Alembic's upgrade to ``revision`` (every branch head by default)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))

        def upgrade(sync_conn: object) -> None:
            config.attributes["connection"] = sync_conn
            command.upgrade(config, revision)

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def run_sync_migration(url: str) -> None:  # pragma: no cover - convenience for scripts
    asyncio.run(Database.open(url))
