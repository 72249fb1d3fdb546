"""plait's error tree. Every error has a stable ``code`` shared by the CLI, the server and docs.

::

    PlaitError
    ├── UsageError (also ValueError)         the caller's mistake; never retried
    │   ├── SpecError                        an invalid workflow spec (all problems at once)
    │   ├── InputError                       missing or invalid run inputs
    │   ├── RegistryError                    unknown or duplicate registration
    │   └── SyncInAsyncError                 run_sync() called inside a running event loop
    └── RunError                             something failed while a run executed
        ├── NodeError                        a node raised; ``cause`` holds the original error
        ├── NodeTimeout (also TimeoutError)  a node exceeded its timeout
        ├── RunTimeout (also TimeoutError)   the whole run exceeded its timeout
        ├── CircuitOpenError                 a circuit breaker refused the call
        ├── LoopLimitExceeded                a loop reached max_iterations
        ├── TransientError                   raise it from a node to ask for a retry
        ├── ModelError                       a model provider failed
        │   ├── RateLimited                  429; retryable, honours ``retry_after``
        │   ├── ProviderUnavailable          5xx, timeout, connection, cut-off stream; retryable
        │   ├── ProviderRejected             4xx: auth, bad request, unknown model; not retryable
        │   └── OutputInvalid                output broke the format/schema even after repair
        ├── ToolError                        a tool failed (agents feed it back to the model);
        │                                    the tool errors are in ``plait.tools.errors``
        ├── BudgetExceeded                   the run's token or cost budget ran out
        └── RunFailed                        a finished run's failure; ``result`` has partial work

Exceptions are inert data: constructors never log or do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from plait.types import RunResultLike

__all__ = [
    "BudgetExceeded",
    "CircuitOpenError",
    "InputError",
    "LoopLimitExceeded",
    "ModelError",
    "NodeError",
    "NodeTimeout",
    "OutputInvalid",
    "PlaitError",
    "Problem",
    "ProviderRejected",
    "ProviderUnavailable",
    "RateLimited",
    "RegistryError",
    "RunError",
    "RunFailed",
    "RunTimeout",
    "SpecError",
    "SyncInAsyncError",
    "ToolError",
    "TransientError",
    "UsageError",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a spec or an input, and where it is."""

    code: str
    message: str
    location: str = ""

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class PlaitError(Exception):
    """Base of every error plait raises on purpose."""

    code: ClassVar[str] = "plait_error"
    retryable: ClassVar[bool] = False


class UsageError(PlaitError, ValueError):
    """The caller used plait wrongly. Fix the call, the spec or the input; retrying won't help."""

    code = "usage_error"


class SpecError(UsageError):
    """A workflow spec is invalid. ``problems`` lists every problem found, with locations."""

    code = "spec_invalid"

    def __init__(self, problems: list[Problem], *, source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''}{where}:\n{lines}")


class InputError(UsageError):
    """The inputs given to a run are missing or have the wrong type."""

    code = "input_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class RegistryError(UsageError):
    """A node kind or function name is unknown, or registered twice."""

    code = "registry_error"


class SyncInAsyncError(UsageError, RuntimeError):
    """``run_sync`` was called from inside a running event loop; ``await run()`` instead."""

    code = "sync_in_async"


class RunError(PlaitError):
    """A failure while a run executed."""

    code = "run_error"
    retry_after: float | None = None
    """Seconds the failing service asked us to wait before retrying (``Retry-After``)."""


class NodeError(RunError):
    """A node failed. ``cause`` is the original exception."""

    code = "node_failed"

    def __init__(self, node_id: str, message: str, *, cause: BaseException | None = None,
                 attempts: int = 1) -> None:
        self.node_id = node_id
        self.cause = cause
        self.attempts = attempts
        super().__init__(f"node {node_id!r} failed: {message}")


class NodeTimeout(RunError, TimeoutError):
    """A node ran longer than its timeout."""

    code = "node_timeout"
    retryable = True

    def __init__(self, node_id: str, seconds: float) -> None:
        self.node_id = node_id
        self.seconds = seconds
        super().__init__(f"node {node_id!r} timed out after {seconds:g}s")


class RunTimeout(RunError, TimeoutError):
    """The whole run ran longer than its timeout."""

    code = "run_timeout"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"run timed out after {seconds:g}s")


class CircuitOpenError(RunError):
    """A circuit breaker is open for ``key``; calls are refused until it recovers."""

    code = "circuit_open"

    def __init__(self, key: str, retry_in: float) -> None:
        self.key = key
        self.retry_in = retry_in
        super().__init__(f"circuit {key!r} is open; next trial in {retry_in:.2f}s")


class LoopLimitExceeded(RunError):
    """A loop reached ``max_iterations`` before its ``until`` condition held."""

    code = "loop_limit"

    def __init__(self, node_id: str, max_iterations: int) -> None:
        self.node_id = node_id
        self.max_iterations = max_iterations
        super().__init__(
            f"loop {node_id!r} reached max_iterations={max_iterations} before 'until' held"
        )


class TransientError(RunError):
    """Raise from a node to signal a temporary failure that is worth retrying."""

    code = "transient"
    retryable = True


class ModelError(RunError):
    """A model provider failed. ``provider`` is e.g. ``openai``; ``status`` the HTTP status."""

    code = "model_error"

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        prefix = f"{provider}: " if provider else ""
        super().__init__(f"{prefix}{message}")


class RateLimited(ModelError):
    code = "rate_limited"
    retryable = True


class ProviderUnavailable(ModelError):
    code = "provider_unavailable"
    retryable = True


class ProviderRejected(ModelError):
    code = "provider_rejected"


class OutputInvalid(ModelError):
    code = "output_invalid"


class ToolError(RunError):
    """A tool failed or refused its arguments; agents show the message to the model."""

    code = "tool_error"

    def __init__(self, tool: str, message: str) -> None:
        self.tool = tool
        super().__init__(f"tool {tool!r}: {message}")


class BudgetExceeded(RunError):
    """A run used more tokens or money than its budget allows; the run stops cleanly."""

    code = "budget_exceeded"

    def __init__(self, what: str, used: float, limit: float) -> None:
        self.what = what
        self.used = used
        self.limit = limit
        super().__init__(f"{what} budget exceeded: {used:g} used, limit {limit:g}")


class RunFailed(RunError):
    """A run finished with status ``failed``. ``result`` holds outputs and per-node records."""

    code = "run_failed"

    def __init__(self, result: RunResultLike, message: str) -> None:
        self.result = result
        super().__init__(message)
