"""Versioned state values: registered migration functions, applied lazily on read.

A *subject* names what a chain of migrations applies to: a glob over keys (``"profile:*"``)
or a type name (the pydantic model's class name, recorded when a model instance is stored).
Schema versions start at 1; a subject with migrations from versions 1..n is at version n+1,
and every value written for it is stamped with that version. A value read with an older
stamp is passed through each step in order (and written back by the store).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from plait.errors import RegistryError, StateMigrationError
from plait.types import JsonValue

__all__ = ["Migration", "MigrationRegistry"]

Migration = Callable[[JsonValue], JsonValue]
"""Turns a value of schema version ``v`` into one of version ``v + 1`` (plain JSON in, plain
JSON out; keep it pure: it may run more than once for the same value)."""


@dataclass(slots=True)
class _Chain:
    subject: str
    steps: dict[int, Migration]

    @property
    def current(self) -> int:
        return max(self.steps) + 1


class MigrationRegistry:
    """Migrations by subject. One per store (``store.migrations``)."""

    def __init__(self) -> None:
        self._chains: dict[str, _Chain] = {}

    def register(self, subject: str | type, from_version: int, fn: Migration) -> None:
        name = subject if isinstance(subject, str) else subject.__name__
        if not name:
            raise RegistryError("a migration subject is a key pattern or a type name")
        if not isinstance(from_version, int) or from_version < 1:
            raise RegistryError(f"from_version starts at 1, got {from_version!r}")
        if not callable(fn):
            raise RegistryError(f"migration for {name!r} is not callable")
        chain = self._chains.setdefault(name, _Chain(name, {}))
        if from_version in chain.steps:
            raise RegistryError(f"a migration for {name!r} from version {from_version} "
                                "is already registered")
        chain.steps[from_version] = fn

    def __bool__(self) -> bool:
        return bool(self._chains)

    def _chain(self, key: str, type_name: str | None) -> _Chain | None:
        if type_name is not None and type_name in self._chains:
            return self._chains[type_name]
        for chain in self._chains.values():
            if fnmatchcase(key, chain.subject):
                return chain
        return None

    def current(self, key: str, type_name: str | None) -> int:
        """The schema version a value written now for ``key`` is stamped with."""
        if not self._chains:
            return 1
        chain = self._chain(key, type_name)
        return 1 if chain is None else chain.current

    def upgrade(self, key: str, type_name: str | None, value: JsonValue,
                version: int) -> tuple[JsonValue, int]:
        """``value`` (stamped ``version``) migrated to the current version, and that version.
        A value stamped newer than the registry knows is returned unchanged."""
        chain = self._chain(key, type_name) if self._chains else None
        if chain is None or version >= chain.current:
            return value, version
        for step in range(version, chain.current):
            fn = chain.steps.get(step)
            if fn is None:
                raise StateMigrationError(key, step, f"no migration registered for "
                                          f"{chain.subject!r} from version {step}")
            try:
                value = fn(value)
            except Exception as exc:
                raise StateMigrationError(key, step, f"{type(exc).__name__}: {exc}") from exc
        return value, chain.current
