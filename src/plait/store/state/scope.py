"""Where a state value lives: a typed, frozen scope that renders to a stable key prefix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar
from urllib.parse import unquote

from plait.errors import UsageError

__all__ = ["Scope", "ScopeKind"]

MAX_SCOPE_LENGTH = 512


class ScopeKind(StrEnum):
    GLOBAL = "global"
    TENANT = "tenant"
    SESSION = "session"
    WORKFLOW = "workflow"
    NODE = "node"
    CUSTOM = "custom"


_ARITY = {ScopeKind.GLOBAL: 0, ScopeKind.TENANT: 1, ScopeKind.SESSION: 1,
          ScopeKind.WORKFLOW: 1, ScopeKind.NODE: 2, ScopeKind.CUSTOM: 2}


def _quote(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A")


@dataclass(frozen=True, slots=True)
class Scope:
    """A state scope. Build one with :attr:`GLOBAL`, :meth:`tenant`, :meth:`session`,
    :meth:`workflow`, :meth:`node` or :meth:`custom`; ``str(scope)`` is its stable key
    (``global``, ``tenant:acme``, ``node:triage:route``, ``custom:team:blue``; ``%`` and ``:``
    inside ids are percent-escaped), and :meth:`parse` reads it back."""

    kind: ScopeKind
    parts: tuple[str, ...] = ()

    GLOBAL: ClassVar[Scope]

    def __post_init__(self) -> None:
        try:
            kind = ScopeKind(self.kind)
        except ValueError:
            raise UsageError(f"unknown scope kind {self.kind!r}") from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "parts", tuple(self.parts))
        if len(self.parts) != _ARITY[kind]:
            raise UsageError(f"a {kind.value} scope has {_ARITY[kind]} part(s), "
                             f"got {len(self.parts)}: {self.parts!r}")
        for part in self.parts:
            if not isinstance(part, str) or not part:
                raise UsageError(f"scope parts are non-empty strings, got {part!r}")
        if len(self.key) > MAX_SCOPE_LENGTH:
            raise UsageError(f"scope key longer than {MAX_SCOPE_LENGTH} characters")

    @classmethod
    def tenant(cls, tenant_id: str) -> Scope:
        return cls(ScopeKind.TENANT, (tenant_id,))

    @classmethod
    def session(cls, session_id: str) -> Scope:
        return cls(ScopeKind.SESSION, (session_id,))

    @classmethod
    def workflow(cls, name: str) -> Scope:
        return cls(ScopeKind.WORKFLOW, (name,))

    @classmethod
    def node(cls, workflow: str, node_id: str) -> Scope:
        return cls(ScopeKind.NODE, (workflow, node_id))

    @classmethod
    def custom(cls, name: str, scope_id: str) -> Scope:
        """Your own kind of scope, such as ``Scope.custom("team", "blue")``."""
        return cls(ScopeKind.CUSTOM, (name, scope_id))

    @property
    def key(self) -> str:
        return ":".join([self.kind.value, *map(_quote, self.parts)])

    @classmethod
    def parse(cls, text: str) -> Scope:
        """The scope whose key is ``text``."""
        kind_text, *parts = text.split(":")
        try:
            kind = ScopeKind(kind_text)
        except ValueError:
            raise UsageError(f"unknown scope kind in {text!r}") from None
        return cls(kind, tuple(unquote(p) for p in parts))

    def __str__(self) -> str:
        return self.key


Scope.GLOBAL = Scope(ScopeKind.GLOBAL)
