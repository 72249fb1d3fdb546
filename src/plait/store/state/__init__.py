"""Scoped state: typed get/set/delete/list, compare-and-set on versions, schema migrations on
read, backup and restore, secrets redacted. Backends: :class:`MemoryStateStore`,
:class:`SqlStateStore` (SQLite, PostgreSQL)."""

from plait.store.state.base import (
    BaseStateStore,
    ConflictPolicy,
    RestoreReport,
    StateChanged,
    StateEntry,
    StateStore,
)
from plait.store.state.memory import MemoryStateStore
from plait.store.state.migrations import Migration, MigrationRegistry
from plait.store.state.scope import Scope, ScopeKind
from plait.store.state.sql import SqlStateStore

__all__ = [
    "BaseStateStore",
    "ConflictPolicy",
    "MemoryStateStore",
    "Migration",
    "MigrationRegistry",
    "RestoreReport",
    "Scope",
    "ScopeKind",
    "SqlStateStore",
    "StateChanged",
    "StateEntry",
    "StateStore",
]
