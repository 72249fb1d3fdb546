"""A set of tools by name, with a ceiling on their security level.

The registry is also the executor: :meth:`ToolRegistry.call` looks a tool up, checks its
level against the ceiling and calls it. A tool above the ceiling can't be registered, and a
view made with :meth:`ToolRegistry.restrict` hides and refuses the tools above its own.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping

from plait.errors import RegistryError
from plait.tools.errors import ToolDenied, ToolNotFound
from plait.tools.security import SecurityLevel
from plait.tools.tool import FunctionTool, Tool
from plait.types import JsonValue

__all__ = ["ToolRegistry"]


class ToolRegistry:
    """Tools by name, none above ``max_level`` (default ``restricted``: a registry runs no
    processes unless it is told ``max_level=SecurityLevel.PRIVILEGED``)."""

    def __init__(self, tools: Iterable[Tool | Callable[..., object]] = (), *,
                 max_level: SecurityLevel | str = SecurityLevel.RESTRICTED) -> None:
        self.max_level = SecurityLevel(max_level)
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.register(item)

    def register(self, item: Tool | Callable[..., object], *, replace: bool = False) -> Tool:
        """Add a tool (a plain function is wrapped with :func:`~plait.tools.tool` defaults).

        Raises :class:`~plait.tools.ToolDenied` when its level is above ``max_level`` and
        :class:`~plait.errors.RegistryError` when the name is taken (unless ``replace``).
        """
        new = item if isinstance(item, Tool) else FunctionTool(item)
        self._check_level(new)
        if not replace and new.name in self._tools and self._tools[new.name] is not new:
            raise RegistryError(f"a tool named {new.name!r} is already registered")
        self._tools[new.name] = new
        return new

    def _check_level(self, item: Tool) -> None:
        if not self.max_level.allows(item.level):
            raise ToolDenied(
                f"its security level is {item.level.value!r}, above this registry's maximum "
                f"{self.max_level.value!r}", tool=item.name)

    def get(self, name: str) -> Tool:
        """The tool called ``name``; :class:`~plait.tools.ToolNotFound` lists the known ones."""
        found = self._tools.get(name)
        if found is None:
            raise ToolNotFound(name, self.names())
        return found

    def list(self, *, max_level: SecurityLevel | str | None = None) -> list[Tool]:
        """The tools sorted by name, only those at or below ``max_level`` if given."""
        ceiling = SecurityLevel(max_level) if max_level is not None else self.max_level
        return [self._tools[name] for name in sorted(self._tools)
                if ceiling.allows(self._tools[name].level)]

    def names(self) -> builtins.list[str]:
        return sorted(self._tools)

    def schemas(self, *, max_level: SecurityLevel | str | None = None
                ) -> builtins.list[dict[str, JsonValue]]:
        """OpenAI-style function schemas of :meth:`list`'s tools, to pass to a model."""
        return [item.schema() for item in self.list(max_level=max_level)]

    def restrict(self, max_level: SecurityLevel | str) -> ToolRegistry:
        """A new registry with only the tools at or below ``max_level`` (itself the ceiling)."""
        level = SecurityLevel(max_level)
        if not self.max_level.allows(level):
            level = self.max_level
        return ToolRegistry(self.list(max_level=level), max_level=level)

    async def call(self, name: str,
                   arguments: Mapping[str, object] | str | None = None) -> JsonValue:
        """Call tool ``name``: see :meth:`Tool.call`. Unknown names raise
        :class:`~plait.tools.ToolNotFound`, tools above the ceiling
        :class:`~plait.tools.ToolDenied`."""
        item = self.get(name)
        self._check_level(item)  # a tool's level may have been raised after registration
        return await item.call(arguments)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"<ToolRegistry {len(self)} tools max_level={self.max_level.value}>"
