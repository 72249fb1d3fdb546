"""plait's error tree. Every error has a stable ``code`` shared by the CLI, the server and docs.

::

    PlaitError
    ├── UsageError (also ValueError)         the caller's mistake; never retried
    │   ├── SpecError                        an invalid workflow spec (all problems at once)
    │   ├── InputError                       missing or invalid run inputs
    │   ├── RegistryError                    unknown or duplicate registration
    │   ├── EmbedderMismatch                 a collection holds another embedding model's vectors
    │   │   └── DimensionMismatch            vectors of another size than expected
    │   ├── CollectionNotFound               no vector store collection with that ref (or expired)
    │   ├── CollectionExists                 a vector store collection with that ref exists
    │   ├── DatasetError                     an evaluation dataset is missing files or malformed
    │   ├── RunNotFound                      no stored run has that id
    │   ├── RunStatusError                   the run's status does not allow that (resume, cancel..)
    │   ├── RunBusy                          another process is executing the run
    │   ├── RecordExists                     a stored run, checkpoint or event has that key
    │   ├── SessionNotFound                  no stored session has that id
    │   ├── SessionClosed                    a closed session was written to
    │   ├── ArtifactNotFound                 no stored artifact has that id
    │   ├── ArtifactTooLarge                 an artifact is larger than the store's max_size
    │   ├── WorkflowMismatch                 resume/fork got another workflow than the run's
    │   ├── AnswerInvalid                    an answer to an interrupt is unknown or invalid
    │   ├── OutputNotJSON                    a checkpointed node's output is not plain JSON
    │   ├── SyncInAsyncError                 run_sync() called inside a running event loop
    │   └── LoadError                        a document file is unreadable, corrupt or unsupported
    ├── StoreError                           stored data conflicts, is corrupt or unreadable
    │   ├── StateConflict                    a state write lost every attempt, or a restore clashed
    │   ├── StateMigrationError              a stored value could not be migrated to its schema
    │   └── ArtifactCorrupted                an artifact's blob failed verification on read
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
        ├── InterruptTimeout                 an interrupt timed out and has no default
        ├── CheckpointFailed                 the checkpoint store failed during a run
        ├── RunCancelled                     the run was cancelled (``plait runs cancel``)
        └── RunFailed                        a finished run's failure; ``result`` has partial work

Exceptions are inert data: constructors never log or do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from plait.types import RunResultLike

__all__ = [
    "AnswerInvalid",
    "ArtifactCorrupted",
    "ArtifactNotFound",
    "ArtifactTooLarge",
    "BudgetExceeded",
    "CheckpointFailed",
    "CircuitOpenError",
    "CollectionExists",
    "CollectionNotFound",
    "DatasetError",
    "DimensionMismatch",
    "EmbedderMismatch",
    "InputError",
    "InterruptTimeout",
    "LoadError",
    "LoopLimitExceeded",
    "ModelError",
    "NodeError",
    "NodeTimeout",
    "OutputInvalid",
    "OutputNotJSON",
    "PlaitError",
    "Problem",
    "ProviderRejected",
    "ProviderUnavailable",
    "RateLimited",
    "RecordExists",
    "RegistryError",
    "RunBusy",
    "RunCancelled",
    "RunError",
    "RunFailed",
    "RunNotFound",
    "RunStatusError",
    "RunTimeout",
    "SessionClosed",
    "SessionNotFound",
    "SpecError",
    "StateConflict",
    "StateMigrationError",
    "StoreError",
    "SyncInAsyncError",
    "ToolError",
    "TransientError",
    "UsageError",
    "WorkflowMismatch",
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


class LoadError(UsageError):
    """A document could not be loaded: unreadable, corrupt or of an unsupported type.
    ``source`` names the file (or record) and ``reason`` says why."""

    code = "load_failed"

    def __init__(self, reason: str, *, source: str = "") -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}" if source else reason)


class EmbedderMismatch(UsageError):
    """A collection's vectors come from another embedding model (or size) than the one given.
    Search with the collection's model, or re-embed the collection (``plait.rag.reembed``)."""

    code = "embedder_mismatch"


class DimensionMismatch(EmbedderMismatch):
    """Vectors of another size than expected: a model returned ``actual``-dim vectors where
    ``expected``-dim ones were configured, cached or stored."""

    code = "dimension_mismatch"

    def __init__(self, message: str, *, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class CollectionNotFound(UsageError):
    """No vector store collection has this ref (tenant/namespace/name), or its TTL passed."""

    code = "collection_not_found"

    def __init__(self, ref: object) -> None:
        self.ref = ref
        super().__init__(f"no collection {ref}")


class CollectionExists(UsageError):
    """A vector store collection with this ref already exists (pass ``exist_ok=True``)."""

    code = "collection_exists"

    def __init__(self, ref: object) -> None:
        self.ref = ref
        super().__init__(f"collection {ref} already exists")


class DatasetError(UsageError):
    """An evaluation dataset (BEIR layout) is missing a file or has a malformed line."""

    code = "dataset_invalid"


class RunNotFound(UsageError):
    """No stored run has this ``run_id`` (updating, answering or appending to it)."""

    code = "run_not_found"

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no stored run {run_id!r}")


class RunStatusError(UsageError):
    """The stored run's ``status`` does not allow what was asked: resuming a completed run or
    one cancelled on purpose, cancelling a finished run, replaying an unfinished one."""

    code = "run_status"

    def __init__(self, run_id: str, status: str, message: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(message)


class RunBusy(UsageError):
    """Another process on this machine is executing the run (it holds the run's lock file);
    ``pid`` is that process, when known."""

    code = "run_busy"

    def __init__(self, run_id: str, pid: int | None = None) -> None:
        self.run_id = run_id
        self.pid = pid
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"run {run_id!r} is being executed by {who}; wait for it, or stop "
                         "it (Ctrl-C) first")


class RecordExists(UsageError):
    """A run, checkpoint or event with this key is already stored. Stored runs' checkpoints and
    events are immutable: a second write of the same ``(run_id, seq)`` is refused, never
    merged. ``keys`` lists the conflicting keys."""

    code = "record_exists"

    def __init__(self, message: str, *, keys: tuple[str, ...] = ()) -> None:
        self.keys = keys
        super().__init__(message)


class WorkflowMismatch(UsageError):
    """Resume or fork was given a workflow whose digest differs from the stored run's: the
    run's checkpoints belong to another version of the workflow."""

    code = "workflow_mismatch"


class AnswerInvalid(UsageError):
    """An answer names no interrupt the run waits on, or does not match the interrupt's
    schema. ``problems`` lists every problem; nothing was recorded and the run still waits."""

    code = "answer_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class OutputNotJSON(UsageError):
    """A node of a checkpointed run returned a value that is not plain JSON (str-keyed dicts,
    lists, strings, finite numbers, booleans, None), so it cannot be checkpointed."""

    code = "output_not_json"

    def __init__(self, node_id: str, detail: str) -> None:
        self.node_id = node_id
        super().__init__(f"node {node_id!r} returned a value that cannot be checkpointed: "
                         f"{detail}; outputs of a run with a store must be plain JSON")


class SessionNotFound(UsageError):
    """No stored session has this ``session_id``."""

    code = "session_not_found"

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"no stored session {session_id!r}")


class SessionClosed(UsageError):
    """A closed session cannot take new messages, metadata or artifacts."""

    code = "session_closed"

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__(f"session {session_id!r} is closed")


class ArtifactNotFound(UsageError):
    """No stored artifact has this ``artifact_id``."""

    code = "artifact_not_found"

    def __init__(self, artifact_id: str) -> None:
        self.artifact_id = artifact_id
        super().__init__(f"no stored artifact {artifact_id!r}")


class ArtifactTooLarge(UsageError):
    """An artifact of ``size`` bytes is over the store's ``limit``; nothing was written."""

    code = "artifact_too_large"

    def __init__(self, name: str, size: int, limit: int) -> None:
        self.name = name
        self.size = size
        self.limit = limit
        super().__init__(f"artifact {name!r} is {size} bytes, over the limit of {limit} bytes")


class StoreError(PlaitError):
    """Stored data conflicts with a write, is corrupt, or cannot be read as it should be."""

    code = "store_error"


class StateConflict(StoreError):
    """A state write could not be applied: ``update`` lost its compare-and-set more times
    than allowed, or ``restore(on_conflict="error")`` found keys already stored (``keys``;
    nothing was written)."""

    code = "state_conflict"

    def __init__(self, message: str, *, keys: tuple[str, ...] = ()) -> None:
        self.keys = keys
        super().__init__(message)


class StateMigrationError(StoreError):
    """The value stored under ``key`` could not be migrated from schema ``from_version``:
    no migration is registered for that step, or the migration raised (``__cause__``)."""

    code = "state_migration_failed"

    def __init__(self, key: str, from_version: int, reason: str) -> None:
        self.key = key
        self.from_version = from_version
        super().__init__(f"cannot migrate state {key!r} from schema version "
                         f"{from_version}: {reason}")


class ArtifactCorrupted(StoreError):
    """An artifact's stored blob failed verification (it does not decompress, or its blake3
    hash or size differs from the recorded ones). The bytes are never returned."""

    code = "artifact_corrupted"

    def __init__(self, artifact_id: str, digest: str, reason: str) -> None:
        self.artifact_id = artifact_id
        self.digest = digest
        self.reason = reason
        super().__init__(f"artifact {artifact_id!r} (blake3 {digest[:16]}) is corrupted: "
                         f"{reason}")


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


class InterruptTimeout(RunError):
    """An interrupt's timeout passed with no answer, and it has no default."""

    code = "interrupt_timeout"

    def __init__(self, node_id: str, interrupt_id: str, seconds: float) -> None:
        self.node_id = node_id
        self.interrupt_id = interrupt_id
        self.seconds = seconds
        super().__init__(f"node {node_id!r}: interrupt {interrupt_id!r} got no answer within "
                         f"{seconds:g}s and has no default")


class CheckpointFailed(RunError):
    """The checkpoint store failed while a run wrote to it; the run stopped. ``cause`` is the
    store's error. Resume the run once the store works again."""

    code = "checkpoint_failed"

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        self.cause = cause
        super().__init__(message)


class RunCancelled(RunError):
    """The run was cancelled on purpose (``plait runs cancel``): the code stored with it. A run
    cancelled by Ctrl-C has no code and can be resumed; a run cancelled on purpose cannot."""

    code = "run_cancelled"


class RunFailed(RunError):
    """A run finished with status ``failed``. ``result`` holds outputs and per-node records."""

    code = "run_failed"

    def __init__(self, result: RunResultLike, message: str) -> None:
        self.result = result
        super().__init__(message)
