"""Tools that agents call: typed functions or classes with a JSON schema, a registry with
security levels, a sandbox, and the built-in tools.

    >>> import asyncio
    >>> from plait.tools import tool, ToolRegistry
    >>> @tool
    ... def add(a: int, b: int) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> asyncio.run(ToolRegistry([add]).call("add", {"a": 2, "b": 3}))
    5

This package imports only the standard library, pydantic, plait.errors/types and its own
third-party libraries (httpx, jmespath, jsonschema, regex, jinja2); never the engine or the
other AI layers.
"""

from plait.tools.defaults import default_tools
from plait.tools.errors import (
    SandboxViolation,
    ToolArgumentError,
    ToolDefinitionError,
    ToolDenied,
    ToolError,
    ToolFailed,
    ToolLimitExceeded,
    ToolNotFound,
    ToolTimeout,
)
from plait.tools.network import NetworkPolicy
from plait.tools.registry import ToolRegistry
from plait.tools.sandbox import Sandbox, SandboxLimits
from plait.tools.security import SecurityLevel
from plait.tools.tool import FunctionTool, Tool, to_json, tool

__all__ = [
    "FunctionTool",
    "NetworkPolicy",
    "Sandbox",
    "SandboxLimits",
    "SandboxViolation",
    "SecurityLevel",
    "Tool",
    "ToolArgumentError",
    "ToolDefinitionError",
    "ToolDenied",
    "ToolError",
    "ToolFailed",
    "ToolLimitExceeded",
    "ToolNotFound",
    "ToolRegistry",
    "ToolTimeout",
    "default_tools",
    "to_json",
    "tool",
]
