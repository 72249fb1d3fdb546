"""The errors tools raise, by fault, on plait's tree (:mod:`plait.errors`)::

    PlaitError
    ├── UsageError
    │   ├── RegistryError
    │   │   └── ToolNotFound              tool_not_found          no tool of that name
    │   ├── ToolDefinitionError           tool_definition         can't become a tool
    │   └── ToolDenied                    tool_denied             level above the maximum
    └── RunError
        └── ToolError                     tool_error              (plait.errors)
            ├── ToolArgumentError         tool_arguments_invalid  every argument problem
            ├── SandboxViolation          sandbox_violation       path, host, command...
            ├── ToolFailed                tool_failed             the tool raised; ``cause``
            ├── ToolTimeout (TimeoutError) tool_timeout           ran out of time
            └── ToolLimitExceeded         tool_limit              a size, count or ratio cap

Mistakes made while setting tools up are usage errors. Everything that goes wrong in a call
is a :class:`~plait.errors.ToolError`: the caller is usually a model, and an agent hands the
message back to it so it can try again. ``tool`` names the tool; :meth:`Tool.call` fills it
in when the code that raised did not know it.
"""

from __future__ import annotations

from collections.abc import Sequence

from plait.errors import Problem, RegistryError, ToolError, UsageError

__all__ = [
    "SandboxViolation",
    "ToolArgumentError",
    "ToolDefinitionError",
    "ToolDenied",
    "ToolError",
    "ToolFailed",
    "ToolLimitExceeded",
    "ToolNotFound",
    "ToolTimeout",
]


class _Named:
    """``str()`` is ``tool 'NAME': message``, with the name known now or filled in later."""

    message: str
    tool: str

    def __str__(self) -> str:
        return f"tool {self.tool!r}: {self.message}" if self.tool else self.message


class _CallError(_Named, ToolError):
    def __init__(self, message: str, *, tool: str = "") -> None:
        super().__init__(tool, message)
        self.message = message


class ToolNotFound(_Named, RegistryError):
    """No tool of that name is registered; ``known`` lists the names that are."""

    code = "tool_not_found"

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.tool = name
        self.known = list(known)
        self.message = f"no tool named {name!r} (known: {', '.join(self.known) or 'none'})"
        super().__init__(self.message)


class ToolDefinitionError(_Named, UsageError):
    """A function or class can't become a tool (``*args``, an unresolvable annotation...)."""

    code = "tool_definition"

    def __init__(self, message: str, *, tool: str = "") -> None:
        self.tool = tool
        self.message = message
        super().__init__(message)


class ToolDenied(ToolDefinitionError):
    """The tool's security level is above the maximum the registry allows."""

    code = "tool_denied"


class ToolArgumentError(_CallError):
    """The arguments of a call are invalid. ``problems`` lists every one, with its location."""

    code = "tool_arguments_invalid"

    def __init__(self, problems: Sequence[Problem], *, tool: str = "") -> None:
        self.problems = list(problems)
        n = len(self.problems)
        lines = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{n} invalid argument{'s' if n != 1 else ''}: {lines}", tool=tool)

    @classmethod
    def single(cls, location: str, message: str, *, code: str = "value_error",
               tool: str = "") -> ToolArgumentError:
        return cls([Problem(code, message, location)], tool=tool)


class SandboxViolation(_CallError):
    """A call tried to leave its sandbox. ``rule`` says which guard refused it
    (``path_traversal``, ``absolute_path``, ``symlink_escape``, ``symlink``, ``scheme``,
    ``host_not_allowed``, ``private_address``, ``command_not_allowed``, ``archive_link``...).
    """

    code = "sandbox_violation"

    def __init__(self, message: str, *, rule: str, tool: str = "") -> None:
        self.rule = rule
        super().__init__(message, tool=tool)


class ToolFailed(_CallError):
    """The tool ran and raised. ``cause`` is the original exception."""

    code = "tool_failed"

    def __init__(self, message: str, *, tool: str = "",
                 cause: BaseException | None = None) -> None:
        self.cause = cause
        super().__init__(message, tool=tool)


class ToolTimeout(_CallError, TimeoutError):
    """The call ran longer than its time limit. Retrying the same call rarely helps."""

    code = "tool_timeout"

    def __init__(self, message: str, *, seconds: float, tool: str = "") -> None:
        self.seconds = seconds
        super().__init__(message, tool=tool)


class ToolLimitExceeded(_CallError):
    """A size, count or ratio cap was reached (response size, file size, zip bomb...)."""

    code = "tool_limit"

    def __init__(self, message: str, *, limit: str, tool: str = "") -> None:
        self.limit = limit
        super().__init__(message, tool=tool)
