"""State in SQLite or PostgreSQL (table ``plait_state``, revision ``0003``).

Compare-and-set is one conditional statement: ``UPDATE ... WHERE version = :expected`` (or, for
an absent key, ``INSERT ... ON CONFLICT DO NOTHING``); the database's row locking makes exactly
one of several concurrent writers with the same expected version win, across processes too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from plait.graph.bus import EventBus
from plait.store.db import Database
from plait.store.state.base import BaseStateStore, ConflictPolicy, StoredRow
from plait.store.state.migrations import MigrationRegistry
from plait.store.state.tables import state
from plait.store.transactions import read_connection, write_transaction

__all__ = ["SqlStateStore"]

_COLUMNS = (state.c.scope, state.c.key, state.c.value, state.c.version, state.c.schema_version,
            state.c.type_name, state.c.updated_at)


def _row(r: Sequence[Any]) -> StoredRow:
    return StoredRow(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]),
                     None if r[5] is None else str(r[5]), float(r[6]))


class SqlStateStore(BaseStateStore):
    """Scoped state in the database ``db`` (opened and migrated by the caller, who also
    closes it)."""

    def __init__(self, db: Database, *, migrations: MigrationRegistry | None = None,
                 bus: EventBus | None = None) -> None:
        super().__init__(migrations=migrations, bus=bus)
        self.db = db

    def _insert(self) -> Any:
        dialect = postgresql if self.db.backend == "postgresql" else sqlite
        return dialect.insert(state)

    async def _fetch(self, scope: str, key: str) -> StoredRow | None:
        query = sa.select(*_COLUMNS).where(state.c.scope == scope, state.c.key == key)
        async with read_connection(self.db) as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _row(row)

    async def _put(self, scope: str, key: str, value: str, schema_version: int,
                   type_name: str | None, now: float) -> int:
        insert = self._insert()
        statement = insert.values(
            scope=scope, key=key, value=value, version=1, schema_version=schema_version,
            type_name=type_name, updated_at=now,
        ).on_conflict_do_update(
            index_elements=[state.c.scope, state.c.key],
            set_={"value": insert.excluded.value, "version": state.c.version + 1,
                  "schema_version": insert.excluded.schema_version,
                  "type_name": insert.excluded.type_name,
                  "updated_at": insert.excluded.updated_at},
        ).returning(state.c.version)
        async with write_transaction(self.db) as conn:
            return int((await conn.execute(statement)).scalar_one())

    async def _cas(self, scope: str, key: str, expected: int, value: str, schema_version: int,
                   type_name: str | None, now: float) -> int | None:
        statement: Any
        if expected == 0:
            statement = self._insert().values(
                scope=scope, key=key, value=value, version=1, schema_version=schema_version,
                type_name=type_name, updated_at=now,
            ).on_conflict_do_nothing(
                index_elements=[state.c.scope, state.c.key]).returning(state.c.version)
        else:
            statement = sa.update(state).where(
                state.c.scope == scope, state.c.key == key, state.c.version == expected,
            ).values(value=value, version=expected + 1, schema_version=schema_version,
                     type_name=type_name, updated_at=now).returning(state.c.version)
        async with write_transaction(self.db) as conn:
            version = (await conn.execute(statement)).scalar_one_or_none()
        return None if version is None else int(version)

    async def _delete(self, scope: str, key: str, expected: int | None) -> bool:
        statement = sa.delete(state).where(state.c.scope == scope, state.c.key == key)
        if expected is not None:
            statement = statement.where(state.c.version == expected)
        async with write_transaction(self.db) as conn:
            return bool((await conn.execute(statement)).rowcount)

    async def _scan(self, scope: str | None, prefix: str, after: tuple[str, str] | None,
                    limit: int) -> list[StoredRow]:
        query = sa.select(*_COLUMNS)
        if scope is not None:
            query = query.where(state.c.scope == scope)
        if prefix:
            query = query.where(state.c.key >= prefix,
                                sa.func.substr(state.c.key, 1, len(prefix)) == prefix)
        if after is not None:
            query = query.where(sa.tuple_(state.c.scope, state.c.key) > sa.tuple_(*after))
        query = query.order_by(state.c.scope, state.c.key).limit(limit)
        async with read_connection(self.db) as conn:
            return [_row(r) for r in await conn.execute(query)]

    async def _existing(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        if not pairs:
            return []
        query = sa.select(state.c.scope, state.c.key).where(
            sa.tuple_(state.c.scope, state.c.key).in_(list(pairs)))
        async with read_connection(self.db) as conn:
            found = {(str(s), str(k)) for s, k in await conn.execute(query)}
        return [pair for pair in pairs if pair in found]

    async def _restore(self, rows: Sequence[StoredRow], policy: ConflictPolicy) -> int:
        written = 0
        async with write_transaction(self.db) as conn:
            for row in rows:
                insert = self._insert()
                statement = insert.values(
                    scope=row.scope, key=row.key, value=row.value, version=row.version,
                    schema_version=row.schema_version, type_name=row.type_name,
                    updated_at=row.updated_at)
                if policy is ConflictPolicy.SKIP:
                    statement = statement.on_conflict_do_nothing(
                        index_elements=[state.c.scope, state.c.key])
                else:
                    bumped = sa.case((state.c.version + 1 > insert.excluded.version,
                                      state.c.version + 1), else_=insert.excluded.version)
                    statement = statement.on_conflict_do_update(
                        index_elements=[state.c.scope, state.c.key],
                        set_={"value": insert.excluded.value, "version": bumped,
                              "schema_version": insert.excluded.schema_version,
                              "type_name": insert.excluded.type_name,
                              "updated_at": insert.excluded.updated_at},
                        where=(insert.excluded.updated_at > state.c.updated_at
                               if policy is ConflictPolicy.NEWER else None))
                result = await conn.execute(statement.returning(state.c.version))
                written += result.first() is not None
        return written
