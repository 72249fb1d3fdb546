"""State in a dict: for tests, examples and single-process use. Nothing survives the process
(use :meth:`~plait.store.state.base.BaseStateStore.backup` to keep it)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from plait.graph.bus import EventBus
from plait.store.state.base import BaseStateStore, ConflictPolicy, StoredRow
from plait.store.state.migrations import MigrationRegistry

__all__ = ["MemoryStateStore"]


class MemoryStateStore(BaseStateStore):
    """Scoped state in memory. Every operation completes without awaiting in between, so
    compare-and-set is atomic among the tasks of one event loop."""

    def __init__(self, *, migrations: MigrationRegistry | None = None,
                 bus: EventBus | None = None) -> None:
        super().__init__(migrations=migrations, bus=bus)
        self._rows: dict[tuple[str, str], StoredRow] = {}
        self._order: list[tuple[str, str]] | None = None

    async def _fetch(self, scope: str, key: str) -> StoredRow | None:
        return self._rows.get((scope, key))

    def _write(self, row: StoredRow) -> int:
        pair = (row.scope, row.key)
        if pair not in self._rows:
            self._order = None
        self._rows[pair] = row
        return row.version

    async def _put(self, scope: str, key: str, value: str, schema_version: int,
                   type_name: str | None, now: float) -> int:
        old = self._rows.get((scope, key))
        version = 1 if old is None else old.version + 1
        return self._write(StoredRow(scope, key, value, version, schema_version, type_name, now))

    async def _cas(self, scope: str, key: str, expected: int, value: str, schema_version: int,
                   type_name: str | None, now: float) -> int | None:
        old = self._rows.get((scope, key))
        if (0 if old is None else old.version) != expected:
            return None
        return self._write(StoredRow(scope, key, value, expected + 1, schema_version, type_name,
                                     now))

    async def _delete(self, scope: str, key: str, expected: int | None) -> bool:
        old = self._rows.get((scope, key))
        if old is None or (expected is not None and old.version != expected):
            return False
        del self._rows[(scope, key)]
        self._order = None
        return True

    async def _scan(self, scope: str | None, prefix: str, after: tuple[str, str] | None,
                    limit: int) -> list[StoredRow]:
        if self._order is None:
            self._order = sorted(self._rows)
        order = self._order
        if after is not None:
            start = bisect.bisect_right(order, after)
        elif scope is not None:
            start = bisect.bisect_left(order, (scope, prefix))
        else:
            start = 0
        out: list[StoredRow] = []
        for pair in order[start:]:
            if scope is not None and pair[0] != scope:
                if pair[0] > scope:
                    break
                continue
            if not pair[1].startswith(prefix):
                if scope is not None and pair[1] > prefix:
                    break
                continue
            out.append(self._rows[pair])
            if len(out) >= limit:
                break
        return out

    async def _existing(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return [pair for pair in pairs if pair in self._rows]

    async def _restore(self, rows: Sequence[StoredRow], policy: ConflictPolicy) -> int:
        written = 0
        for row in rows:
            old = self._rows.get((row.scope, row.key))
            if old is not None:
                if policy is ConflictPolicy.SKIP or (
                        policy is ConflictPolicy.NEWER and row.updated_at <= old.updated_at):
                    continue
                row = StoredRow(row.scope, row.key, row.value,
                                max(old.version + 1, row.version), row.schema_version,
                                row.type_name, row.updated_at)
            self._write(row)
            written += 1
        return written
