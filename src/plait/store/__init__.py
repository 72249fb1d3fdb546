"""Durable storage: SQLite (embedded default) and PostgreSQL through SQLAlchemy 2 (async),
with Alembic migrations. Implements the protocols the engine declares in
:mod:`plait.graph.durability` and plait's own: scoped state, sessions and artifacts."""

from plait.store.artifacts import ArtifactStore
from plait.store.checkpoints import SqlCheckpointStore
from plait.store.db import Database
from plait.store.runlog import SqlRunLog
from plait.store.sessions import SessionStore
from plait.store.state.sql import SqlStateStore
from plait.store.stores import Stores, open_store

__all__ = ["ArtifactStore", "Database", "SessionStore", "SqlCheckpointStore", "SqlRunLog",
           "SqlStateStore", "Stores", "open_store"]
