"""Opening plait's storage in one call: the database, migrated, and the stores on it.

    stores = await open_store("~/.plait")           # ~/.plait/plait.db (SQLite)
    stores = await open_store("postgresql://u@h/db")
    ...
    await stores.close()

Where the data lives is the caller's choice (the CLI and server take it from ``Settings``):
this module reads no environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from plait.store.artifacts import ArtifactStore
from plait.store.checkpoints import SqlCheckpointStore
from plait.store.db import Database
from plait.store.runlog import SqlRunLog
from plait.store.sessions import SessionStore
from plait.store.state.sql import SqlStateStore

__all__ = ["DB_FILE", "Stores", "open_store", "store_url"]

DB_FILE = "plait.db"
"""The SQLite file's name inside a data directory."""

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def store_url(where: str | Path) -> str:
    """The database URL for ``where``: a URL (``sqlite:///...``, ``postgresql://...``) as is, a
    path ending in ``.db``/``.sqlite``/``.sqlite3`` as that SQLite file, any other path as a
    data directory holding ``plait.db``."""
    text = str(where)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    if path.suffix.lower() not in _SQLITE_SUFFIXES:
        path = path / DB_FILE
    return f"sqlite:///{path}"


@dataclass(slots=True)
class Stores:
    """The database and the stores that share it. Close it once, when done."""

    db: Database
    checkpoints: SqlCheckpointStore
    runlog: SqlRunLog
    state: SqlStateStore
    artifacts: ArtifactStore
    sessions: SessionStore

    @classmethod
    def on(cls, db: Database) -> Stores:
        """The stores on an open, migrated database."""
        artifacts = ArtifactStore(db)
        return cls(db=db, checkpoints=SqlCheckpointStore(db), runlog=SqlRunLog(db),
                   state=SqlStateStore(db), artifacts=artifacts,
                   sessions=SessionStore(db, artifacts=artifacts))

    async def close(self) -> None:
        await self.checkpoints.close()
        await self.runlog.close()
        await self.state.close()
        await self.db.close()

    async def __aenter__(self) -> Stores:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


async def open_store(where: str | Path) -> Stores:
    """Open (creating and migrating as needed) the database at ``where`` (see
    :func:`store_url`) and the stores on it."""
    return Stores.on(await Database.open(store_url(where)))
