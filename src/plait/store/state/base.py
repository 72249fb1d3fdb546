"""The state store contract (:class:`StateStore`) and the half every backend shares
(:class:`BaseStateStore`): typing, redaction, versions and compare-and-set, lazy schema
migrations, change events, backup and restore. A backend supplies a handful of raw row
operations (``_fetch``, ``_put``, ``_cas``, ``_delete``, ``_scan``, ``_existing``,
``_restore``) on :class:`StoredRow`.

Versions: every write of a key increments its ``version`` (the first write is 1; a missing key
is at 0, so ``cas(scope, key, 0, value)`` creates it only if absent). Deleting a key removes
its row, so a later create starts again at 1.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import dataclasses
import json
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Generic, Protocol, TypeVar, cast, overload, runtime_checkable

from pydantic import BaseModel, TypeAdapter

from plait.errors import StateConflict, UsageError
from plait.graph.bus import EventBus
from plait.store.secrets import redact
from plait.store.state.migrations import Migration, MigrationRegistry
from plait.store.state.scope import Scope
from plait.types import JsonValue

__all__ = [
    "BaseStateStore",
    "ConflictPolicy",
    "RestoreReport",
    "StateChanged",
    "StateEntry",
    "StateStore",
    "StoredRow",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_KEY_LENGTH = 512


class ConflictPolicy(StrEnum):
    """What :meth:`~BaseStateStore.restore` does with a key that is already stored."""

    SKIP = "skip"
    """Keep the stored value."""
    OVERWRITE = "overwrite"
    """Take the backup's value (the version still grows, so stale compare-and-sets fail)."""
    NEWER = "newer"
    """Take the backup's value only if it was updated later than the stored one."""
    ERROR = "error"
    """Refuse the whole restore with :class:`~plait.errors.StateConflict`; nothing is written."""


@dataclass(frozen=True, slots=True)
class StateEntry(Generic[T]):
    scope: Scope
    key: str
    value: T
    version: int
    schema_version: int
    updated_at: float
    type_name: str | None = None


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One row as a backend stores it: the value is JSON text, already redacted."""

    scope: str
    key: str
    value: str
    version: int
    schema_version: int
    type_name: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class RestoreReport:
    restored: int
    skipped: int


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The payload of the bus events a store publishes: topic ``state.<scope kind>.<op>``
    (``op`` is ``set`` or ``delete``). ``value`` is the stored, redacted value."""

    op: str
    scope: str
    key: str
    version: int
    value: JsonValue = None


TypeSpec = type[T] | TypeAdapter[T]


@lru_cache(maxsize=512)
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _typed(value: JsonValue, tp: TypeSpec[T]) -> T:
    if isinstance(tp, TypeAdapter):
        return tp.validate_python(value)
    return cast(T, _adapter(cast(Any, tp)).validate_python(value))


def _retyped(entry: StateEntry[JsonValue], tp: TypeSpec[T]) -> StateEntry[T]:
    return StateEntry(entry.scope, entry.key, _typed(entry.value, tp), entry.version,
                      entry.schema_version, entry.updated_at, entry.type_name)


def _type_name(value: object) -> str | None:
    if isinstance(value, BaseModel) or (
            dataclasses.is_dataclass(value) and not isinstance(value, type)):
        return type(value).__name__
    return None


def _check_key(scope: Scope, key: str) -> None:
    if not isinstance(scope, Scope):
        raise UsageError(f"scope must be a Scope, got {scope!r}")
    if not isinstance(key, str) or not key:
        raise UsageError(f"a state key is a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise UsageError(f"state key longer than {MAX_KEY_LENGTH} characters: {key[:40]!r}...")


def _dump(value: JsonValue, key: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"state {key!r} is not storable as JSON: {exc}") from exc


@runtime_checkable
class StateStore(Protocol):
    """Scoped, versioned key-value state. Every backend passes the same conformance suite."""

    migrations: MigrationRegistry

    @overload
    async def get(self, scope: Scope, key: str) -> JsonValue: ...
    @overload
    async def get(self, scope: Scope, key: str, *, type: TypeSpec[T]) -> T | None: ...

    @overload
    async def get_entry(self, scope: Scope, key: str) -> StateEntry[JsonValue] | None: ...
    @overload
    async def get_entry(self, scope: Scope, key: str, *,
                        type: TypeSpec[T]) -> StateEntry[T] | None: ...

    async def set(self, scope: Scope, key: str, value: object) -> int: ...

    async def cas(self, scope: Scope, key: str, expected_version: int, value: object) -> bool: ...

    async def delete(self, scope: Scope, key: str, *,
                     expected_version: int | None = None) -> bool: ...

    async def keys(self, scope: Scope, prefix: str = "") -> builtins.list[str]: ...

    @overload
    async def list(self, scope: Scope,
                   prefix: str = "") -> builtins.list[StateEntry[JsonValue]]: ...
    @overload
    async def list(self, scope: Scope, prefix: str = "", *,
                   type: TypeSpec[T]) -> builtins.list[StateEntry[T]]: ...

    @overload
    async def update(self, scope: Scope, key: str, fn: Callable[[JsonValue], object], *,
                     attempts: int = 100) -> StateEntry[JsonValue]: ...
    @overload
    async def update(self, scope: Scope, key: str, fn: Callable[[T | None], object], *,
                     type: TypeSpec[T], attempts: int = 100) -> StateEntry[JsonValue]: ...

    def register_migration(self, subject: str | type, from_version: int,
                           fn: Migration) -> None: ...

    async def migrate_all(self, scope: Scope | None = None) -> int: ...

    async def backup(self, path: str | os.PathLike[str], *, scope: Scope | None = None) -> int: ...

    async def restore(self, path: str | os.PathLike[str], *,
                      on_conflict: ConflictPolicy | str = ConflictPolicy.SKIP,
                      scope: Scope | None = None) -> RestoreReport: ...

    async def close(self) -> None: ...


class BaseStateStore(abc.ABC):
    """Everything but storage. ``migrations`` may be shared between stores; ``bus`` receives a
    :class:`StateChanged` event per write (values redacted)."""

    page_size = 1000
    """Rows per backend scan when listing, migrating or backing up."""

    def __init__(self, *, migrations: MigrationRegistry | None = None,
                 bus: EventBus | None = None) -> None:
        self.migrations = migrations if migrations is not None else MigrationRegistry()
        self.bus = bus

    # -- backend primitives ---------------------------------------------------------------
    @abc.abstractmethod
    async def _fetch(self, scope: str, key: str) -> StoredRow | None: ...

    @abc.abstractmethod
    async def _put(self, scope: str, key: str, value: str, schema_version: int,
                   type_name: str | None, now: float) -> int:
        """Insert or replace; returns the new version."""

    @abc.abstractmethod
    async def _cas(self, scope: str, key: str, expected: int, value: str, schema_version: int,
                   type_name: str | None, now: float) -> int | None:
        """Write only if the stored version is ``expected`` (0: absent); the new version, or
        None when another write got there first."""

    @abc.abstractmethod
    async def _delete(self, scope: str, key: str, expected: int | None) -> bool: ...

    @abc.abstractmethod
    async def _scan(self, scope: str | None, prefix: str, after: tuple[str, str] | None,
                    limit: int) -> builtins.list[StoredRow]:
        """Rows ordered by (scope, key), after ``after``, in ``scope`` (None: all), whose key
        starts with ``prefix``."""

    @abc.abstractmethod
    async def _existing(self, pairs: Sequence[tuple[str, str]]) -> builtins.list[tuple[str, str]]:
        """Which of the (scope, key) pairs are stored."""

    @abc.abstractmethod
    async def _restore(self, rows: Sequence[StoredRow], policy: ConflictPolicy) -> int:
        """Write backup rows under ``policy`` (never ``error``); returns how many were
        written. A new key keeps the backup's version; a replaced one gets
        ``max(stored + 1, backup)``."""

    async def close(self) -> None:  # noqa: B027 - optional for backends
        """Release what the store holds (a SQL store leaves its Database open)."""

    # -- reading --------------------------------------------------------------------------
    @overload
    async def get(self, scope: Scope, key: str) -> JsonValue: ...
    @overload
    async def get(self, scope: Scope, key: str, *, type: TypeSpec[T]) -> T | None: ...

    async def get(self, scope: Scope, key: str, *, type: TypeSpec[T] | None = None) -> object:
        """The value under ``key`` (None when missing), validated as ``type`` if given (a
        pydantic model, any type pydantic validates such as ``list[int]``, or a
        ``TypeAdapter``). Values with an old schema version are migrated first."""
        entry = await self._entry(scope, key)
        if entry is None:
            return None
        return entry.value if type is None else _typed(entry.value, type)

    @overload
    async def get_entry(self, scope: Scope, key: str) -> StateEntry[JsonValue] | None: ...
    @overload
    async def get_entry(self, scope: Scope, key: str, *,
                        type: TypeSpec[T]) -> StateEntry[T] | None: ...

    async def get_entry(self, scope: Scope, key: str, *,
                        type: TypeSpec[T] | None = None) -> StateEntry[Any] | None:
        """The value with its version (for :meth:`cas`), schema version and update time."""
        entry = await self._entry(scope, key)
        if entry is None or type is None:
            return entry
        return _retyped(entry, type)

    async def _entry(self, scope: Scope, key: str) -> StateEntry[JsonValue] | None:
        _check_key(scope, key)
        row = await self._fetch(scope.key, key)
        if row is None:
            return None
        return self._to_entry(await self._upgrade(row), scope)

    async def keys(self, scope: Scope, prefix: str = "") -> builtins.list[str]:
        """The keys in ``scope`` starting with ``prefix``, in byte order."""
        return [row.key for row in await self._collect(scope, prefix)]

    @overload
    async def list(self, scope: Scope,
                   prefix: str = "") -> builtins.list[StateEntry[JsonValue]]: ...
    @overload
    async def list(self, scope: Scope, prefix: str = "", *,
                   type: TypeSpec[T]) -> builtins.list[StateEntry[T]]: ...

    async def list(self, scope: Scope, prefix: str = "", *,
                   type: TypeSpec[T] | None = None) -> builtins.list[StateEntry[Any]]:
        """The entries in ``scope`` whose key starts with ``prefix``, in key order (migrated,
        and validated as ``type`` if given)."""
        out: builtins.list[StateEntry[Any]] = []
        for row in await self._collect(scope, prefix):
            entry = self._to_entry(await self._upgrade(row), scope)
            out.append(entry if type is None else _retyped(entry, type))
        return out

    async def _collect(self, scope: Scope, prefix: str) -> builtins.list[StoredRow]:
        if not isinstance(scope, Scope):
            raise UsageError(f"scope must be a Scope, got {scope!r}")
        rows: builtins.list[StoredRow] = []
        after: tuple[str, str] | None = None
        while True:
            page = await self._scan(scope.key, prefix, after, self.page_size)
            rows.extend(page)
            if len(page) < self.page_size:
                return rows
            after = (page[-1].scope, page[-1].key)

    def _to_entry(self, row: StoredRow, scope: Scope | None = None) -> StateEntry[JsonValue]:
        value: JsonValue = json.loads(row.value)
        return StateEntry(scope or Scope.parse(row.scope), row.key, value, row.version,
                          row.schema_version, row.updated_at, row.type_name)

    # -- writing --------------------------------------------------------------------------
    def _encode(self, key: str, value: object) -> tuple[str, int, str | None]:
        type_name = _type_name(value)
        text = _dump(redact(value, key=key), key)
        return text, self.migrations.current(key, type_name), type_name

    async def set(self, scope: Scope, key: str, value: object) -> int:
        """Store ``value`` (JSON-able data, a pydantic model or a dataclass; secrets
        redacted); returns the new version."""
        _check_key(scope, key)
        text, schema_version, type_name = self._encode(key, value)
        version = await self._put(scope.key, key, text, schema_version, type_name, time.time())
        self._changed("set", scope, key, version, text)
        return version

    async def cas(self, scope: Scope, key: str, expected_version: int, value: object) -> bool:
        """Store ``value`` only if the key is still at ``expected_version`` (0: absent).
        Of concurrent calls with the same expected version, exactly one succeeds."""
        return await self._cas_entry(scope, key, expected_version, value) is not None

    async def _cas_entry(self, scope: Scope, key: str, expected_version: int,
                         value: object) -> StateEntry[JsonValue] | None:
        _check_key(scope, key)
        if not isinstance(expected_version, int) or expected_version < 0:
            raise UsageError(f"expected_version is an integer >= 0, got {expected_version!r}")
        text, schema_version, type_name = self._encode(key, value)
        now = time.time()
        version = await self._cas(scope.key, key, expected_version, text, schema_version,
                                  type_name, now)
        if version is None:
            return None
        self._changed("set", scope, key, version, text)
        return StateEntry(scope, key, json.loads(text), version, schema_version, now, type_name)

    async def delete(self, scope: Scope, key: str, *,
                     expected_version: int | None = None) -> bool:
        """Remove ``key``; with ``expected_version``, only if it is still at that version.
        Returns whether a value was removed."""
        _check_key(scope, key)
        removed = await self._delete(scope.key, key, expected_version)
        if removed:
            self._changed("delete", scope, key, 0, None)
        return removed

    @overload
    async def update(self, scope: Scope, key: str,
                     fn: Callable[[JsonValue], object], *,
                     attempts: int = 100) -> StateEntry[JsonValue]: ...
    @overload
    async def update(self, scope: Scope, key: str, fn: Callable[[T | None], object], *,
                     type: TypeSpec[T], attempts: int = 100) -> StateEntry[JsonValue]: ...

    async def update(self, scope: Scope, key: str, fn: Callable[[T | None], object] |
                     Callable[[JsonValue], object], *, type: TypeSpec[T] | None = None,
                     attempts: int = 100) -> StateEntry[JsonValue]:
        """Read, apply ``fn`` to the value (None when missing), compare-and-set; repeat while
        other writers get in between. Raises :class:`~plait.errors.StateConflict` after
        ``attempts`` lost races."""
        apply = cast(Callable[[object], object], fn)
        for attempt in range(attempts):
            current = await self._entry(scope, key)
            value: object = None if current is None else current.value
            if type is not None and current is not None:
                value = _typed(current.value, type)
            entry = await self._cas_entry(scope, key, 0 if current is None else current.version,
                                          apply(value))
            if entry is not None:
                return entry
            await asyncio.sleep(0 if attempt < 3 else random.uniform(0, 0.001 * attempt))
        raise StateConflict(f"update of {scope}/{key} lost {attempts} compare-and-sets in a row",
                            keys=(f"{scope}/{key}",))

    def _changed(self, op: str, scope: Scope, key: str, version: int, text: str | None) -> None:
        logger.debug("state %s %s %r v%d", op, scope, key, version)
        bus = self.bus
        if bus is not None:
            value: JsonValue = None if text is None else json.loads(text)
            bus.publish(f"state.{scope.kind.value}.{op}",
                        StateChanged(op, scope.key, key, version, value))

    # -- migrations -----------------------------------------------------------------------
    def register_migration(self, subject: str | type, from_version: int,
                           fn: Migration) -> None:
        """Register ``fn`` to migrate values of ``subject`` (a key glob such as
        ``"profile:*"``, or a model class / type name) from schema ``from_version`` to the
        next. Values are migrated when read and written back."""
        self.migrations.register(subject, from_version, fn)

    async def _upgrade(self, row: StoredRow) -> StoredRow:
        if not self.migrations:
            return row
        for _ in range(100):
            value, schema_version = self.migrations.upgrade(
                row.key, row.type_name, json.loads(row.value), row.schema_version)
            if schema_version == row.schema_version:
                return row
            text = _dump(redact(value), row.key)
            now = time.time()
            version = await self._cas(row.scope, row.key, row.version, text, schema_version,
                                      row.type_name, now)
            if version is not None:
                return StoredRow(row.scope, row.key, text, version, schema_version,
                                 row.type_name, now)
            fresh = await self._fetch(row.scope, row.key)
            if fresh is None:  # deleted meanwhile: answer with what was read, migrated
                return dataclasses.replace(row, value=text, schema_version=schema_version)
            row = fresh
        return row  # pragma: no cover - a hundred concurrent rewrites of one key

    async def migrate_all(self, scope: Scope | None = None) -> int:
        """Migrate every stored value (or those of ``scope``) now instead of on read; returns
        how many were rewritten."""
        count = 0
        after: tuple[str, str] | None = None
        while True:
            page = await self._scan(None if scope is None else scope.key, "", after,
                                    self.page_size)
            for row in page:
                if (await self._upgrade(row)).schema_version != row.schema_version:
                    count += 1
            if len(page) < self.page_size:
                return count
            after = (page[-1].scope, page[-1].key)

    # -- backup and restore ---------------------------------------------------------------
    async def backup(self, path: str | os.PathLike[str], *, scope: Scope | None = None) -> int:
        """Write every entry (or those of ``scope``) to ``path`` as JSON lines; returns how
        many. See :mod:`plait.store.state.backup` for the format."""
        from plait.store.state.backup import write_backup

        return await write_backup(self, path, scope)

    async def restore(self, path: str | os.PathLike[str], *,
                      on_conflict: ConflictPolicy | str = ConflictPolicy.SKIP,
                      scope: Scope | None = None) -> RestoreReport:
        """Load a backup (all of it, or the entries of ``scope``) into this store; keys
        already stored are handled by ``on_conflict``. The file is read and checked entirely
        before anything is written; secrets in it are redacted on the way in."""
        from plait.store.state.backup import read_backup

        try:
            policy = ConflictPolicy(on_conflict)
        except ValueError:
            choices = ", ".join(p.value for p in ConflictPolicy)
            raise UsageError(f"unknown conflict policy {on_conflict!r}: use {choices}") from None
        rows = await read_backup(path, scope)
        if policy is ConflictPolicy.ERROR:
            clashes: builtins.list[tuple[str, str]] = []
            for start in range(0, len(rows), 500):
                clashes += await self._existing(
                    [(r.scope, r.key) for r in rows[start:start + 500]])
            if clashes:
                keys = tuple(f"{s}/{k}" for s, k in clashes)
                raise StateConflict(f"{len(keys)} key(s) of the backup are already stored: "
                                    f"{', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}",
                                    keys=keys)
            policy = ConflictPolicy.SKIP
        written = 0
        for start in range(0, len(rows), 500):
            written += await self._restore(rows[start:start + 500], policy)
        if self.bus is not None:
            self.bus.publish("state.restored", RestoreReport(written, len(rows) - written))
        return RestoreReport(written, len(rows) - written)
