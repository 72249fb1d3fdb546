"""The run log on SQLite and PostgreSQL: every event of a run, in order, immutable.

A batch of events is one multi-row ``INSERT`` in one transaction; ``(run_id, seq)`` is the key, so
reading a run's events after a ``seq`` is an index range scan.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from plait.errors import RecordExists
from plait.graph.durability import LoggedEvent
from plait.store.codec import dump_json, load_object
from plait.store.db import Database
from plait.store.run_tables import events as _events
from plait.store.transactions import insert_rows, read_connection

__all__ = ["SqlRunLog"]


class SqlRunLog:
    """:class:`~plait.graph.durability.RunLog` on a :class:`Database` (shared, not owned)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def append_events(self, events: Sequence[LoggedEvent]) -> None:
        """Append a batch in one transaction (all or none); a ``(run_id, seq)`` already stored,
        or twice in the batch, is a :class:`~plait.errors.RecordExists`."""
        if not events:
            return
        keys = [(e.run_id, e.seq) for e in events]
        if len(set(keys)) != len(keys):
            twice = sorted({key for key in keys if keys.count(key) > 1})
            raise RecordExists(f"events {twice[:5]} appear twice in one batch",
                               keys=tuple(f"{r}#{s}" for r, s in twice))
        rows = [{"run_id": e.run_id, "seq": e.seq, "type": e.type,
                 "data": dump_json(dict(e.data), what=f"the data of event {e.type} "
                                   f"(run {e.run_id!r}, seq {e.seq})"),
                 "ts": float(e.ts)} for e in events]
        try:
            await insert_rows(self.db, _events, rows)
        except IntegrityError as exc:
            raise await self._refusal(keys) from exc

    async def _refusal(self, keys: list[tuple[str, int]]) -> RecordExists:
        async with read_connection(self.db) as conn:
            stored = (await conn.execute(
                sa.select(_events.c.run_id, _events.c.seq)
                .where(sa.tuple_(_events.c.run_id, _events.c.seq).in_(keys)))).all()
        found = sorted((str(r), int(s)) for r, s in stored)
        return RecordExists(f"events {found[:5]} are already stored; the run log is append-only",
                            keys=tuple(f"{r}#{s}" for r, s in found))

    async def events(self, run_id: str, *, after: int = 0,
                     limit: int | None = None) -> list[LoggedEvent]:
        """A run's events with ``seq > after``, in ``seq`` order, at most ``limit`` of them."""
        query = (sa.select(_events).where(_events.c.run_id == run_id, _events.c.seq > after)
                 .order_by(_events.c.seq))
        if limit is not None:
            query = query.limit(max(limit, 0))
        async with read_connection(self.db) as conn:
            rows = (await conn.execute(query)).all()
        return [LoggedEvent(run_id=row.run_id, seq=row.seq, type=row.type,
                            data=load_object(row.data), ts=row.ts) for row in rows]

    async def close(self) -> None:
        """Nothing to release: the :class:`Database` is shared and closed by its owner."""
