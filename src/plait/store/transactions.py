"""Write transactions: one connection and one transaction per batch.

:func:`insert_rows` is the hot path (checkpoints, events): one multi-row ``INSERT`` in its own
transaction, sent straight to the driver of a pooled connection. On SQLite that is
``executemany`` then ``commit``: two trips to aiosqlite's thread instead of the five SQLAlchemy's
adapter makes (cursor, execute, close, commit), which are most of the cost of a small write. On
PostgreSQL it is one asyncpg ``executemany``, atomic by itself, instead of ``BEGIN``, the insert
and ``COMMIT`` (five to seven times faster for a 1 KB checkpoint). The values are the rows' own
(strings, numbers, ``None``): what SQLAlchemy would bind for these column types.

SQLite has one writer at a time. Writers of one process take turns on an ``asyncio.Lock`` per
database (and event loop) instead of meeting in SQLite's busy handler, which sleeps for
milliseconds between tries; writers in other processes still wait on ``busy_timeout``. Every
write transaction begins with its write, so a WAL reader never has to upgrade to a writer (the
case where SQLite fails at once instead of waiting). PostgreSQL writers run concurrently.
"""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from plait.store.db import Database

__all__ = ["insert_rows", "read_connection", "write_transaction"]

_locks: weakref.WeakKeyDictionary[Database, dict[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary())


def _lock(db: Database) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    per_loop = _locks.setdefault(db, {})
    lock = per_loop.get(loop)
    if lock is None:
        for stale in [other for other in per_loop if other.is_closed()]:
            del per_loop[stale]
        lock = per_loop[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def write_transaction(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction: committed when the block ends, rolled back if it raises."""
    if db.backend == "sqlite":
        async with _lock(db), db.engine.begin() as conn:
            yield conn
    else:
        async with db.engine.begin() as conn:
            yield conn


@asynccontextmanager
async def read_connection(db: Database) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for reads (WAL readers never wait for the writer)."""
    async with db.engine.connect() as conn:
        yield conn


async def insert_rows(db: Database, table: sa.Table, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert ``rows`` (each with every column of ``table``) in one transaction: all or none.
    A key or constraint violation is a :class:`sqlalchemy.exc.IntegrityError`."""
    if not rows:
        return
    names = [column.name for column in table.columns]
    params = [tuple(row[name] for name in names) for row in rows]
    if db.backend == "sqlite":
        sql = _insert_sql(table, "?")
        async with _lock(db), db.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            try:
                await driver.executemany(sql, params)
                await driver.commit()
            except sqlite3.IntegrityError as exc:
                await driver.rollback()
                raise IntegrityError(sql, None, exc) from exc
            except BaseException:
                await driver.rollback()
                raise
    elif db.backend == "postgresql":
        sql = _insert_sql(table, "$")
        violation = importlib.import_module("asyncpg.exceptions").IntegrityConstraintViolationError
        async with db.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            try:
                await driver.executemany(sql, params)
            except violation as exc:
                raise IntegrityError(sql, None, exc) from exc
    else:  # pragma: no cover - Database accepts only the two
        async with write_transaction(db) as conn:
            await conn.execute(sa.insert(table), list(rows))


_INSERT_SQL: dict[tuple[str, str], str] = {}


def _insert_sql(table: sa.Table, style: str) -> str:
    """``INSERT INTO t (a, b) VALUES (?, ?)`` (``style`` ``?``) or ``($1, $2)`` (``$``)."""
    sql = _INSERT_SQL.get((table.name, style))
    if sql is None:
        names = [column.name for column in table.columns]
        marks = ["?"] * len(names) if style == "?" else [f"${i}" for i in range(1, len(names) + 1)]
        sql = _INSERT_SQL[table.name, style] = (
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(marks)})")
    return sql
