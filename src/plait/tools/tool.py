"""What a tool is: a name, a description, a JSON schema of its parameters, a security level,
and an async :meth:`Tool.call` that validates arguments, runs the code and returns JSON.

Two ways to make one:

* decorate a typed function (sync or async) with :func:`tool`;
* subclass :class:`Tool` and define ``run`` (sync or async) with typed parameters. Its
  ``__init__`` takes the configuration (a sandbox, an allowlist) and calls
  ``super().__init__()``, which reads ``run``'s signature once.

The description is the first paragraph of the docstring (the function's, or the class's
then ``run``'s); parameter descriptions come from Google, reST or NumPy ``Args`` sections.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, ParamSpec, TypeVar, cast, overload

from pydantic_core import PydanticSerializationError, to_jsonable_python

from plait.errors import PlaitError
from plait.tools.docstrings import parse_docstring
from plait.tools.errors import (
    ToolDefinitionError,
    ToolError,
    ToolFailed,
    ToolTimeout,
)
from plait.tools.schema import ArgumentSpec, build_argument_spec
from plait.tools.security import SecurityLevel
from plait.types import JsonValue

__all__ = ["FunctionTool", "Tool", "to_json", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def to_json(value: object) -> JsonValue:
    """A tool's return value as JSON, by one rule: pydantic models and dataclasses become
    objects; tuples and sets become arrays; datetimes, dates, UUIDs, decimals and paths
    become strings (ISO 8601 for times, durations too); enums become their values; bytes
    become URL-safe base64 text; NaN and infinities become ``null``. Anything else is an error.
    """
    try:
        return cast(JsonValue, to_jsonable_python(value, bytes_mode="base64",
                                                  inf_nan_mode="null"))
    except PydanticSerializationError as exc:
        raise ToolFailed(f"the result is not JSON-able: {exc}") from None


class Tool:
    """A tool an agent can call. Subclass it and define ``run``, or use :func:`tool`.

    Class attributes give the defaults of the keyword options of ``__init__``: ``name``
    (default: the class name in snake_case, without a ``Tool`` suffix), ``description``,
    ``level`` and ``timeout`` (seconds per call, ``None`` for none).
    """

    name: str = ""
    description: str = ""
    level: SecurityLevel = SecurityLevel.SAFE
    timeout: float | None = None

    def __init__(self, *, name: str | None = None, description: str | None = None,
                 level: SecurityLevel | str | None = None,
                 timeout: float | None = None) -> None:
        target = self._target()
        cls = type(self)
        self.name = name or self.name or _default_name(cls.__name__)
        if not _NAME.match(self.name):
            raise ToolDefinitionError(
                f"invalid tool name {self.name!r}: use 1-64 letters, digits, '_' or '-'")
        docs = [parse_docstring(doc) for doc in self._docstrings()]
        self.description = (description or self.description
                            or next((d.description for d in docs if d.description), ""))
        params: dict[str, str] = {}
        for doc in docs:
            for key, text in doc.params.items():
                params.setdefault(key, text)
        self.level = SecurityLevel(level or self.level)
        self.timeout = timeout if timeout is not None else self.timeout
        if self.timeout is not None and self.timeout <= 0:
            raise ToolDefinitionError("timeout must be positive", tool=self.name)
        self._spec: ArgumentSpec = build_argument_spec(target, tool_name=self.name,
                                                       descriptions=params)
        self._is_async = _is_async(target)

    def _target(self) -> Callable[..., object]:
        run = getattr(self, "run", None)
        if not callable(run):
            raise ToolDefinitionError(
                f"{type(self).__name__} defines no run() method; subclasses of Tool must")
        return cast("Callable[..., object]", run)

    def _docstrings(self) -> list[str | None]:
        """Where the description and parameter descriptions come from, first one first."""
        return [type(self).__doc__, inspect.getdoc(self._target())]

    @property
    def parameters(self) -> dict[str, JsonValue]:
        """The JSON schema of the arguments (an ``object`` schema)."""
        return self._spec.schema

    def schema(self) -> dict[str, JsonValue]:
        """The OpenAI-style function schema: ``{"type": "function", "function": {...}}``."""
        function: dict[str, JsonValue] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = self.parameters
        return {"type": "function", "function": function}

    async def call(self, arguments: Mapping[str, object] | str | None = None) -> JsonValue:
        """Validate ``arguments`` (a mapping, or the JSON text a model produced), run the
        tool and return its result as JSON.

        Raises :class:`~plait.tools.ToolArgumentError` listing every invalid argument,
        :class:`~plait.tools.ToolTimeout` past ``timeout``, the tool's own
        :class:`~plait.errors.PlaitError` as is, and :class:`~plait.tools.ToolFailed` (with
        ``cause``) for any other exception. A sync ``run`` executes in a worker thread; a
        timeout stops waiting for it but cannot stop the thread itself.
        """
        try:
            args, kwargs = self._spec.validate(arguments)
            timer = asyncio.timeout(self.timeout)
            try:
                async with timer:
                    result = await self._invoke(args, kwargs)
            except TimeoutError:
                if timer.expired():
                    raise ToolTimeout(f"timed out after {self.timeout:g}s",
                                      seconds=self.timeout or 0.0) from None
                raise
            return to_json(result)
        except ToolError as exc:
            if not exc.tool:
                exc.tool = self.name
            raise
        except PlaitError:
            raise
        except Exception as exc:
            raise ToolFailed(f"{type(exc).__name__}: {exc}", tool=self.name,
                             cause=exc) from exc

    async def _invoke(self, args: list[object], kwargs: dict[str, object]) -> object:
        target = self._target()
        if self._is_async:
            result = target(*args, **kwargs)
        else:
            result = await asyncio.to_thread(target, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await cast("Awaitable[object]", result)
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} level={self.level.value}>"


class FunctionTool(Tool, Generic[P, R]):
    """A tool made from a function. Calling it directly still calls the function."""

    def __init__(self, fn: Callable[P, R], *, name: str | None = None,
                 description: str | None = None,
                 level: SecurityLevel | str = SecurityLevel.SAFE,
                 timeout: float | None = None) -> None:
        if not callable(fn):
            raise ToolDefinitionError(f"{fn!r} is not callable")
        self.fn = fn
        super().__init__(name=name or getattr(fn, "__name__", None), description=description,
                         level=level, timeout=timeout)
        self.__doc__ = fn.__doc__

    def _target(self) -> Callable[..., object]:
        return self.fn

    def _docstrings(self) -> list[str | None]:
        return [inspect.getdoc(self.fn)]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)


@overload
def tool(fn: Callable[P, R], /) -> FunctionTool[P, R]: ...


@overload
def tool(*, name: str | None = None, description: str | None = None,
         level: SecurityLevel | str = SecurityLevel.SAFE,
         timeout: float | None = None) -> Callable[[Callable[P, R]], FunctionTool[P, R]]: ...


def tool(fn: Callable[P, R] | None = None, /, *, name: str | None = None,
         description: str | None = None, level: SecurityLevel | str = SecurityLevel.SAFE,
         timeout: float | None = None
         ) -> FunctionTool[P, R] | Callable[[Callable[P, R]], FunctionTool[P, R]]:
    """Make a function a :class:`FunctionTool`: ``@tool`` or ``@tool(name=..., level=...)``."""

    def wrap(f: Callable[P, R]) -> FunctionTool[P, R]:
        return FunctionTool(f, name=name, description=description, level=level,
                            timeout=timeout)

    return wrap if fn is None else wrap(fn)


def _default_name(class_name: str) -> str:
    base = class_name.removesuffix("Tool") or class_name
    return _CAMEL.sub("_", base).lower()


def _is_async(fn: Callable[..., object]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None))  # noqa: B004 - callable objects with async __call__
