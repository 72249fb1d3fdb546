"""Node kinds and the registries that resolve them by name.

A node kind is a small class with a written contract (see :class:`NodeKind`). Specs name
kinds and functions by string; they resolve only through these explicit registries, never by
importing a path taken from data.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeAlias, TypeVar

from pydantic import BaseModel

from plait.errors import Problem, RegistryError
from plait.types import PortType

if TYPE_CHECKING:
    from plait.graph.context import RunContext
    from plait.graph.spec import NodeSpec, WorkflowSpec

__all__ = [
    "BindEnv",
    "BoundNode",
    "FunctionRegistry",
    "KindRegistry",
    "NodeKind",
    "Port",
    "Ports",
    "RegisteredFunction",
]

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Port:
    type: PortType = PortType.ANY
    required: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class Ports:
    """The ports of one node, given its params.

    ``open_inputs`` lets any other port name in (typed ``any``, optional): templates and
    functions take whatever they are wired to.
    """

    inputs: Mapping[str, Port] = field(default_factory=dict)
    output: PortType = PortType.ANY
    open_inputs: bool = False


@dataclass(frozen=True, slots=True)
class RegisteredFunction:
    name: str
    fn: Callable[..., object]
    inline: bool = False
    """Run a sync function directly on the event loop (only for cheap, non-blocking code)."""
    is_async: bool = False
    takes_context: bool = False
    value_positional: bool = False
    """The function takes no ``value`` keyword (``str.upper``, ``len``): a lone ``value``
    input is passed positionally instead."""


class FunctionRegistry:
    """Named Python callables that specs may reference (``params: {function: NAME}``)."""

    def __init__(self, parent: FunctionRegistry | None = None) -> None:
        self._items: dict[str, RegisteredFunction] = {}
        self._parent = parent

    def register(self, name: str, fn: Callable[..., object], *, inline: bool = False,
                 replace: bool = False) -> RegisteredFunction:
        if not callable(fn):
            raise RegistryError(f"function {name!r} is not callable")
        if not replace and name in self._items and self._items[name].fn is not fn:
            raise RegistryError(f"function {name!r} is already registered")
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None))  # noqa: B004 - callable objects with async __call__
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = None
        takes_context = params is not None and "ctx" in params
        value_kw = params is not None and (
            ("value" in params and params["value"].kind is not inspect.Parameter.POSITIONAL_ONLY)
            or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()))
        item = RegisteredFunction(name, fn, inline=inline and not is_async, is_async=is_async,
                                  takes_context=takes_context, value_positional=not value_kw)
        self._items[name] = item
        return item

    def get(self, name: str) -> RegisteredFunction | None:
        item = self._items.get(name)
        if item is None and self._parent is not None:
            return self._parent.get(name)
        return item

    def names(self) -> list[str]:
        names = set(self._items)
        if self._parent is not None:
            names.update(self._parent.names())
        return sorted(names)

    def merged(self, other: FunctionRegistry) -> FunctionRegistry:
        """A registry that looks in ``other`` first, then in this one."""
        merged = FunctionRegistry(parent=self)
        for name in other.names():
            item = other.get(name)
            assert item is not None
            merged._items[name] = item
        return merged

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None


class BindEnv(ABC):
    """What a kind may use while binding a node: functions and nested workflow compilation."""

    functions: FunctionRegistry

    @abstractmethod
    def check_child(self, spec: WorkflowSpec, location: str) -> list[Problem]:
        """Validate a nested workflow spec; problems are prefixed with ``location``."""

    @abstractmethod
    def compile_child(self, spec: WorkflowSpec) -> object:
        """Compile a nested workflow once; the result is opaque to kinds (pass it back to
        :meth:`RunContext.run_child`)."""


class BoundNode(ABC):
    """A node ready to execute: its params validated and everything precomputed.

    If ``inline`` is true, :meth:`call` runs synchronously on the event loop and returns the
    node's value; it must be cheap and must not block. Otherwise :meth:`call` returns an
    awaitable, which the engine runs in its own task.
    """

    inline: bool = False
    output_name: str | None = None
    """Set by output nodes: the run result's ``outputs`` key for this node's value."""
    breaker_key: str | None = None
    """A circuit breaker key for nodes whose spec names none (model nodes use their
    provider, so one provider's outage opens one circuit for every node using it)."""
    container: bool = False
    """Set by nodes that run child workflows: they take no concurrency slot themselves (their
    children do), so nesting can never deadlock on the global limit."""

    @abstractmethod
    def call(self, inputs: dict[str, object], ctx: RunContext, node_id: str
             ) -> object | Awaitable[object]:
        ...


class NodeKind(ABC, Generic[P]):
    """The contract of a node kind.

    * ``name``: a stable snake_case string (renaming it is a spec migration);
    * ``Params``: a pydantic model; its JSON schema drives the spec reference and web forms;
    * :meth:`ports`: the typed inputs and the output for given params;
    * :meth:`check`: cross-checks the validator cannot know (function exists, child spec ok);
    * :meth:`bind`: returns a :class:`BoundNode`, called once per compiled workflow.
    """

    name: ClassVar[str]
    Params: type[P]
    description: ClassVar[str] = ""
    primary_input: ClassVar[str | None] = None
    """The port an edge lands on when it names no target port."""
    container: ClassVar[bool] = False
    """Its nodes run child workflows (and so hold no concurrency slot themselves)."""

    def ports(self, params: P) -> Ports:
        return Ports(open_inputs=True)

    def check(self, node: NodeSpec, params: P, env: BindEnv, location: str) -> list[Problem]:
        return []

    @abstractmethod
    def bind(self, node: NodeSpec, params: P, env: BindEnv) -> BoundNode:
        ...


AnyKind: TypeAlias = "NodeKind[Any]"


class KindRegistry:
    """Node kinds by name. ``plait.nodes.default_registry()`` holds the built-in ones."""

    def __init__(self, kinds: list[AnyKind] | None = None) -> None:
        self._kinds: dict[str, AnyKind] = {}
        for kind in kinds or []:
            self.register(kind)

    def register(self, kind: AnyKind, *, replace: bool = False) -> None:
        if not replace and kind.name in self._kinds:
            raise RegistryError(f"node kind {kind.name!r} is already registered")
        self._kinds[kind.name] = kind

    def get(self, name: str) -> AnyKind | None:
        return self._kinds.get(name)

    def __iter__(self) -> Iterator[AnyKind]:
        return iter(self._kinds[name] for name in sorted(self._kinds))

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def copy(self) -> KindRegistry:
        return KindRegistry(list(self._kinds.values()))
