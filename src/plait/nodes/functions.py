"""Calling registered Python functions from nodes, and the built-in function library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping

from plait.errors import Problem
from plait.graph.context import RunContext
from plait.graph.registry import FunctionRegistry, RegisteredFunction

__all__ = ["builtin_functions", "call_function", "check_function"]


def check_function(name: str, functions: FunctionRegistry, location: str) -> list[Problem]:
    if name in functions:
        return []
    known = ", ".join(functions.names()) or "none"
    return [Problem("unknown_function", f"unknown function {name!r} (registered: {known})",
                    f"{location}.function")]


def call_function(item: RegisteredFunction, inputs: Mapping[str, object],
                  ctx: RunContext | None) -> object | Awaitable[object]:
    """Call with the input ports as keyword arguments (plus ``ctx`` if it asks for it).

    Inline functions return their value; async ones return their coroutine; other sync
    functions return an awaitable that runs them in a worker thread.
    """
    kwargs = dict(inputs)
    args: tuple[object, ...] = ()
    if item.value_positional and len(kwargs) == 1 and "value" in kwargs:
        args = (kwargs.pop("value"),)
    if item.takes_context and ctx is not None:
        kwargs["ctx"] = ctx
    if item.inline or item.is_async:
        return item.fn(*args, **kwargs)
    return asyncio.to_thread(item.fn, *args, **kwargs)


def _words(value: str) -> int:
    return len(value.split())


def _total(value: Iterable[float]) -> float:
    return sum(value)


def _json_dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _json_loads(value: str) -> object:
    return json.loads(value)


def _upper(value: str) -> str:
    return value.upper()


def _lower(value: str) -> str:
    return value.lower()


def _lines(value: str) -> list[str]:
    return [line for line in value.splitlines() if line.strip()]


def _length(value: object) -> int:
    return len(value)  # type: ignore[arg-type]


def _identity(value: object = None) -> object:
    return value


def _merge(**values: object) -> dict[str, object]:
    """Gather every input port into one mapping (a join)."""
    return dict(values)


async def _sleep(value: object = None, seconds: float = 0.0) -> object:
    await asyncio.sleep(seconds)
    return value


def builtin_functions() -> FunctionRegistry:
    """Functions every spec may use by name (all cheap and pure, so they run inline)."""
    registry = FunctionRegistry()
    library: dict[str, Callable[..., object]] = {
        "identity": _identity, "merge": _merge, "length": _length, "sum": _total,
        "word_count": _words, "upper": _upper, "lower": _lower, "lines": _lines,
        "json_dumps": _json_dumps, "json_loads": _json_loads,
    }
    for name, fn in library.items():
        registry.register(name, fn, inline=True)
    registry.register("sleep", _sleep)
    return registry
