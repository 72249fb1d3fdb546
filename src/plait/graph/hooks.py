"""Hooks around runs and nodes: a forward-compatible chain.

Each hook point takes one frozen input dataclass (new fields can be added without breaking
hooks) and returns a result: :class:`Continue`, :class:`Modify`, :class:`Skip`,
:class:`Retry` or :class:`Replace`. A hook subclass overrides only the points it needs; the
engine calls only overridden points, so an idle hook costs nothing. A method may be sync or
``async``.

==================  =================  ==================================================
point               input              results
==================  =================  ==================================================
before_run          RunCall            Continue, Modify(inputs)
after_run           RunOutcome         Continue
before_node         NodeCall           Continue, Modify(inputs), Skip, Replace(value)
after_node          NodeOutcome        Continue, Modify(value), Retry
on_node_error       NodeFailure        Continue (fail as usual), Retry, Replace, Skip
wrap_node           NodeCall, next     the value (call ``await call_next(call)``)
==================  =================  ==================================================
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from plait.errors import UsageError
from plait.types import RunStatus

__all__ = [
    "Continue",
    "Hook",
    "HookChain",
    "HookResult",
    "Modify",
    "NodeCall",
    "NodeFailure",
    "NodeOutcome",
    "Replace",
    "Retry",
    "RunCall",
    "RunOutcome",
    "Skip",
]


@dataclass(frozen=True, slots=True)
class Continue:
    """Go on unchanged."""


@dataclass(frozen=True, slots=True)
class Modify:
    """Go on with ``value`` instead (inputs before, output after)."""

    value: object


@dataclass(frozen=True, slots=True)
class Skip:
    """Do not run the node; it counts as skipped and the skip propagates."""

    reason: str = "skipped by hook"


@dataclass(frozen=True, slots=True)
class Retry:
    """Run the node again after ``delay`` seconds (bounded by the node's retry policy)."""

    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Replace:
    """Use ``value`` as the node's output without running it (or instead of its error)."""

    value: object


HookResult: TypeAlias = Continue | Modify | Skip | Retry | Replace
CONTINUE = Continue()

# Hook inputs are plain slotted dataclasses (not frozen: building a frozen one costs twice as
# much on the hot path). Treat them as read-only; change a run with Modify/Replace instead.


@dataclass(slots=True)
class RunCall:
    run_id: str
    workflow: str
    inputs: Mapping[str, object]
    path: tuple[str, ...] = ()


@dataclass(slots=True)
class RunOutcome:
    run_id: str
    workflow: str
    status: RunStatus
    outputs: Mapping[str, object]
    error: BaseException | None
    path: tuple[str, ...] = ()


@dataclass(slots=True)
class NodeCall:
    run_id: str
    node_id: str
    kind: str
    inputs: Mapping[str, object]
    attempt: int
    path: tuple[str, ...] = ()


@dataclass(slots=True)
class NodeOutcome:
    run_id: str
    node_id: str
    kind: str
    inputs: Mapping[str, object]
    value: object
    attempt: int
    path: tuple[str, ...] = ()


@dataclass(slots=True)
class NodeFailure:
    run_id: str
    node_id: str
    kind: str
    inputs: Mapping[str, object]
    error: BaseException
    attempt: int
    path: tuple[str, ...] = ()


MaybeAwaitable: TypeAlias = "HookResult | Awaitable[HookResult]"
CallNext: TypeAlias = Callable[[NodeCall], Awaitable[object]]


class Hook:
    """Base class: override the points you need. Unoverridden points are never called."""

    def before_run(self, call: RunCall) -> HookResult | Awaitable[HookResult]:
        return CONTINUE

    def after_run(self, outcome: RunOutcome) -> HookResult | Awaitable[HookResult]:
        return CONTINUE

    def before_node(self, call: NodeCall) -> HookResult | Awaitable[HookResult]:
        return CONTINUE

    def after_node(self, outcome: NodeOutcome) -> HookResult | Awaitable[HookResult]:
        return CONTINUE

    def on_node_error(self, failure: NodeFailure) -> HookResult | Awaitable[HookResult]:
        return CONTINUE

    async def wrap_node(self, call: NodeCall, call_next: CallNext) -> object:
        return await call_next(call)


_POINTS = ("before_run", "after_run", "before_node", "after_node", "on_node_error", "wrap_node")


def _overrides(hook: Hook, name: str) -> bool:
    return getattr(type(hook), name) is not getattr(Hook, name)


async def _resolve(result: HookResult | Awaitable[HookResult]) -> HookResult:
    if inspect.isawaitable(result):
        return await result
    return result


class HookChain:
    """The hooks of an engine, grouped by the points each one overrides."""

    __slots__ = ("after_node", "after_run", "before_node", "before_run", "hooks",
                 "on_node_error", "sync", "wrap_node")

    before_run: tuple[Hook, ...]
    after_run: tuple[Hook, ...]
    before_node: tuple[Hook, ...]
    after_node: tuple[Hook, ...]
    on_node_error: tuple[Hook, ...]
    wrap_node: tuple[Hook, ...]
    sync: bool

    def __init__(self, hooks: list[Hook] | tuple[Hook, ...] = ()) -> None:
        for hook in hooks:
            if not isinstance(hook, Hook):
                raise UsageError(f"hooks must subclass plait.Hook, got {type(hook).__name__}")
        self.hooks = tuple(hooks)
        for point in _POINTS:
            setattr(self, point, tuple(h for h in self.hooks if _overrides(h, point)))
        self.sync = not self.wrap_node and not any(
            inspect.iscoroutinefunction(getattr(type(hook), point))
            for point in ("before_node", "after_node", "on_node_error")
            for hook in getattr(self, point))
        """Every node hook is a plain function: inline nodes may keep the fast path."""

    def __bool__(self) -> bool:
        return any(getattr(self, p) for p in _POINTS)

    @property
    def node_hooks(self) -> bool:
        return bool(self.before_node or self.after_node or self.on_node_error or self.wrap_node)

    async def run_before_run(self, call: RunCall) -> Mapping[str, object]:
        inputs = call.inputs
        for hook in self.before_run:
            result = await _resolve(hook.before_run(call))
            if isinstance(result, Modify):
                if not isinstance(result.value, Mapping):
                    raise UsageError("before_run may only Modify the inputs with a mapping")
                inputs = result.value
                call = RunCall(call.run_id, call.workflow, inputs, call.path)
            elif not isinstance(result, Continue):
                raise UsageError(f"before_run cannot return {type(result).__name__}")
        return inputs

    async def run_after_run(self, outcome: RunOutcome) -> None:
        for hook in self.after_run:
            await _resolve(hook.after_run(outcome))

    # Each point has an async form (any hook may be async) and a sync form, used on the
    # engine's inline fast path when every node hook is a plain function (``self.sync``).
    async def run_before_node(self, call: NodeCall) -> NodeCall | Skip | Replace:
        for hook in self.before_node:
            step = _before_step(call, await _resolve(hook.before_node(call)))
            if not isinstance(step, NodeCall):
                return step
            call = step
        return call

    def before_node_now(self, call: NodeCall) -> NodeCall | Skip | Replace:
        for hook in self.before_node:
            step = _before_step(call, _now(hook.before_node(call), "before_node"))
            if not isinstance(step, NodeCall):
                return step
            call = step
        return call

    async def run_after_node(self, outcome: NodeOutcome) -> object | Retry:
        for hook in self.after_node:
            step = _after_step(outcome, await _resolve(hook.after_node(outcome)))
            if not isinstance(step, NodeOutcome):
                return step
            outcome = step
        return outcome.value

    def after_node_now(self, outcome: NodeOutcome) -> object | Retry:
        for hook in self.after_node:
            step = _after_step(outcome, _now(hook.after_node(outcome), "after_node"))
            if not isinstance(step, NodeOutcome):
                return step
            outcome = step
        return outcome.value

    async def run_on_error(self, failure: NodeFailure) -> HookResult:
        for hook in self.on_node_error:
            result = _error_step(await _resolve(hook.on_node_error(failure)))
            if result is not None:
                return result
        return CONTINUE

    def on_error_now(self, failure: NodeFailure) -> HookResult:
        for hook in self.on_node_error:
            result = _error_step(_now(hook.on_node_error(failure), "on_node_error"))
            if result is not None:
                return result
        return CONTINUE

    def wrap(self, inner: CallNext) -> CallNext:
        """Compose wrap_node hooks around ``inner``; the first hook is the outermost."""
        call_next = inner
        for hook in reversed(self.wrap_node):
            call_next = _bind_wrap(hook, call_next)
        return call_next


_RESULT_TYPES = frozenset({Continue, Modify, Skip, Retry, Replace})


def _now(result: HookResult | Awaitable[HookResult], point: str) -> HookResult:
    if type(result) in _RESULT_TYPES:
        return result  # type: ignore[return-value]
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise UsageError(f"a synchronous {point} hook returned an awaitable; declare the method "
                         "'async def' instead")
    return result


def _before_step(call: NodeCall, result: HookResult) -> NodeCall | Skip | Replace:
    if isinstance(result, Continue):
        return call
    if isinstance(result, Modify):
        if not isinstance(result.value, Mapping):
            raise UsageError("before_node may only Modify the inputs with a mapping")
        return NodeCall(call.run_id, call.node_id, call.kind, result.value, call.attempt,
                        call.path)
    if isinstance(result, Skip | Replace):
        return result
    raise UsageError(f"before_node cannot return {type(result).__name__}")


def _after_step(outcome: NodeOutcome, result: HookResult) -> NodeOutcome | Retry:
    if isinstance(result, Continue):
        return outcome
    if isinstance(result, Modify):
        return NodeOutcome(outcome.run_id, outcome.node_id, outcome.kind, outcome.inputs,
                           result.value, outcome.attempt, outcome.path)
    if isinstance(result, Retry):
        return result
    raise UsageError(f"after_node cannot return {type(result).__name__}")


def _error_step(result: HookResult) -> HookResult | None:
    if isinstance(result, Retry | Replace | Skip):
        return result
    if isinstance(result, Continue):
        return None
    raise UsageError(f"on_node_error cannot return {type(result).__name__}")


def _bind_wrap(hook: Hook, call_next: CallNext) -> CallNext:
    async def wrapped(call: NodeCall) -> object:
        return await hook.wrap_node(call, call_next)

    return wrapped
