"""Executing one node: hooks, circuit breaker, concurrency slots, timeout and retries.

:class:`NodeExecution` is the half of the run loop that deals with a single node; the
scheduler (:mod:`plait.graph.scheduler`) owns the loop and the transitions between nodes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from plait.errors import NodeError, NodeTimeout
from plait.graph.breaker import BreakerRegistry
from plait.graph.compiler import CompiledGraph, CompiledNode
from plait.graph.context import CURRENT_NODE, RunContext
from plait.graph.events import NodeFailed, NodeOutput, NodeRetrying, NodeSkipped, NodeStarted
from plait.graph.hooks import (
    HookChain,
    NodeCall,
    NodeFailure,
    NodeOutcome,
    Replace,
    Retry,
    Skip,
)
from plait.graph.interrupts import Interrupt
from plait.graph.limits import Limiter
from plait.graph.retry import RetryPolicy, is_retryable
from plait.graph.state import Branch, NodeStatus, RunState, describe_error, error_code

__all__ = ["DONE", "SKIP", "NodeExecution", "Outcome", "Runtime"]

logger = logging.getLogger(__name__)

DONE: Final = 0
SKIP: Final = 1
Outcome = tuple[int, object]


@dataclass(slots=True)
class Runtime:
    """Engine-wide machinery shared by every run of one engine."""

    hooks: HookChain
    limiter: Limiter
    breakers: BreakerRegistry
    fail_fast: bool
    retry_max_delay: float | None
    release_outputs: bool
    rng: random.Random




def _asks(value: object) -> bool:
    return type(value) is Interrupt or (type(value) is list and bool(value)
                                        and type(value[0]) is Interrupt)


class NodeExecution(RunContext):
    """Runs single nodes for a run; the scheduler subclass supplies the transitions."""

    __slots__ = ()
    graph: CompiledGraph
    rt: Runtime
    state: RunState
    retry_cap: float | None
    run_limit: asyncio.Semaphore | None

    @abstractmethod
    def _complete(self, i: int, value: object, duration: float | None) -> None: ...

    @abstractmethod
    def _skip(self, i: int, reason: str) -> None: ...

    @abstractmethod
    def _fail(self, i: int, exc: BaseException) -> None: ...

    @abstractmethod
    def _spawn(self, i: int, inputs: dict[str, object], attempt: int, delay: float) -> None:
        """Run attempt ``attempt`` (after ``delay`` seconds) of node ``i`` in its own task."""

    def _emit_skips(self, skipped: list[tuple[int, str]]) -> None:
        assert self.emit is not None
        for j, reason in skipped:
            self.emit(NodeSkipped(run_id=self.run_id, ts=time.time(), path=self.path,
                                  node_id=self.graph.nodes[j].id, reason=reason))

    def _emit_failed(self, node: CompiledNode, exc: BaseException, attempt: int) -> None:
        assert self.emit is not None
        self.emit(NodeFailed(run_id=self.run_id, ts=time.time(), path=self.path,
                             node_id=node.id, kind=node.kind, error=describe_error(exc),
                             code=error_code(exc), attempt=attempt))

    def _policy(self, node: CompiledNode) -> RetryPolicy | None:
        if node.retry is None:
            return None
        return RetryPolicy.from_spec(node.retry, max_delay_cap=self.retry_cap)

    def _run_inline(self, i: int, node: CompiledNode, inputs: dict[str, object]) -> None:
        """An inline node with events or synchronous hooks, still without a task. A hook
        that raises fails the node, exactly as it would on a node running in a task."""
        st = self.state
        hooks = self.rt.hooks
        st.status[i] = NodeStatus.RUNNING
        st.attempts[i] = 1
        call_inputs = inputs
        if hooks.before_node:
            call = NodeCall(self.run_id, node.id, node.kind, inputs, 1, self.path)
            try:
                decision = hooks.before_node_now(call)
            except Exception as exc:
                self._fail(i, exc)
                return
            if isinstance(decision, Skip):
                self._skip(i, decision.reason)
                return
            if isinstance(decision, Replace):
                self._replaced(i, node, decision.value)
                return
            if decision is not call:
                call_inputs = dict(decision.inputs)
        emit = self.emit
        t0 = time.perf_counter()
        if emit is not None:
            emit(NodeStarted(run_id=self.run_id, ts=time.time(), path=self.path,
                             node_id=node.id, kind=node.kind, attempt=1))
        try:
            value = node.bound.call(call_inputs, self, node.id)
        except Exception as exc:
            self._inline_failed(i, inputs, call_inputs, exc)
            return
        if hooks.after_node:
            try:
                after = hooks.after_node_now(NodeOutcome(self.run_id, node.id, node.kind,
                                                         call_inputs, value, 1, self.path))
            except Exception as exc:
                self._fail(i, exc)
                return
            if isinstance(after, Retry):
                self._retry(i, node, inputs, after.delay, NodeError(
                    node.id, "after_node asked for a retry"), from_hook=True)
                return
            value = after
        self._complete(i, value, time.perf_counter() - t0 if emit is not None else None)

    def _replaced(self, i: int, node: CompiledNode, value: object) -> None:
        """A hook supplied the node's value: it completes, and listeners see the value."""
        self._complete(i, value, 0.0 if self.emit is not None else None)

    def _inline_failed(self, i: int, inputs: dict[str, object],
                       call_inputs: dict[str, object], exc: Exception) -> None:
        node = self.graph.nodes[i]
        if self.emit is not None:
            self._emit_failed(node, exc, 1)
        hooks = self.rt.hooks
        if hooks.on_node_error:
            try:
                decision = hooks.on_error_now(NodeFailure(self.run_id, node.id, node.kind,
                                                          call_inputs, exc, 1, self.path))
            except Exception as hook_error:
                self._fail(i, hook_error)
                return
            if isinstance(decision, Replace):
                self._replaced(i, node, decision.value)
                return
            if isinstance(decision, Skip):
                self._skip(i, decision.reason)
                return
            if isinstance(decision, Retry):
                self._retry(i, node, inputs, decision.delay, exc, from_hook=True)
                return
        policy = self._policy(node)
        if policy is not None and policy.should_retry(exc, 1):
            self._retry(i, node, inputs, policy.delay(1, self.rt.rng, exc), exc)
        else:
            self._fail(i, exc)

    def _retry(self, i: int, node: CompiledNode, inputs: dict[str, object], delay: float,
               exc: BaseException, *, from_hook: bool = False) -> None:
        """Continue an inline node's first attempt as a task: attempt 2 after ``delay``."""
        policy = self._policy(node)
        if from_hook and (policy is None or policy.max_attempts < 2):
            self._fail(i, NodeError(node.id, "a hook asked for a retry, but all 1 attempts are "
                                    "used (raise retry.max_attempts)", cause=exc))
            return
        self._emit_retrying(node, 2, delay, exc)
        self._spawn(i, inputs, 2, delay)

    def _emit_retrying(self, node: CompiledNode, attempt: int, delay: float,
                       exc: BaseException) -> None:
        logger.debug("retrying node in %.3fs: %s", delay, describe_error(exc),
                     extra={"run_id": self.run_id, "node_id": node.id, "attempt": attempt})
        if self.emit is not None:
            self.emit(NodeRetrying(run_id=self.run_id, ts=time.time(), path=self.path,
                                   node_id=node.id, attempt=attempt, delay=delay,
                                   error=describe_error(exc)))

    async def _node_task(self, i: int, inputs: dict[str, object], attempt: int,
                         delay: float) -> Outcome:
        node = self.graph.nodes[i]
        rt = self.rt
        hooks = rt.hooks
        policy = self._policy(node)
        max_attempts = policy.max_attempts if policy is not None else 1
        emit = self.emit
        CURRENT_NODE.set(node.id)  # this task's own context: ctx.answers() and ctx.lineage()
        while True:
            if delay > 0:
                await asyncio.sleep(delay)
            self.state.attempts[i] = attempt
            call_inputs: Mapping[str, object] = inputs
            if hooks.before_node:
                decision = await hooks.run_before_node(NodeCall(
                    self.run_id, node.id, node.kind, inputs, attempt, self.path))
                if isinstance(decision, Skip):
                    return SKIP, decision.reason
                if isinstance(decision, Replace):
                    self._emit_output(node, decision.value, 0.0)
                    return DONE, decision.value
                call_inputs = decision.inputs
            t0 = time.perf_counter()
            if emit is not None:
                emit(NodeStarted(run_id=self.run_id, ts=time.time(), path=self.path,
                                 node_id=node.id, kind=node.kind, attempt=attempt))
            try:
                value = await self._attempt(node, call_inputs, attempt)
                if hooks.after_node:
                    after = await hooks.run_after_node(NodeOutcome(
                        self.run_id, node.id, node.kind, call_inputs, value, attempt, self.path))
                    if isinstance(after, Retry):
                        if attempt >= max_attempts:
                            raise NodeError(node.id, "after_node asked for a retry, but all "
                                            f"{max_attempts} attempts are used (raise "
                                            "retry.max_attempts)", attempts=attempt)
                        delay = after.delay
                        attempt += 1
                        self._emit_retrying(node, attempt, delay, NodeError(
                            node.id, "after_node asked for a retry"))
                        continue
                    value = after
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if emit is not None:
                    self._emit_failed(node, exc, attempt)
                if hooks.on_node_error:
                    decision2 = await hooks.run_on_error(NodeFailure(
                        self.run_id, node.id, node.kind, call_inputs, exc, attempt, self.path))
                    if isinstance(decision2, Replace):
                        self._emit_output(node, decision2.value, 0.0)
                        return DONE, decision2.value
                    if isinstance(decision2, Skip):
                        return SKIP, decision2.reason
                    if isinstance(decision2, Retry) and attempt < max_attempts:
                        delay = decision2.delay
                        attempt += 1
                        self._emit_retrying(node, attempt, delay, exc)
                        continue
                if policy is not None and policy.should_retry(exc, attempt):
                    delay = policy.delay(attempt, rt.rng, exc)
                    attempt += 1
                    self._emit_retrying(node, attempt, delay, exc)
                    continue
                raise
            self._emit_output(node, value, time.perf_counter() - t0)
            return DONE, value

    def _emit_output(self, node: CompiledNode, value: object, duration: float) -> None:
        if self.emit is not None and not _asks(value):  # interrupts: NodeInterrupted instead
            label = None
            if isinstance(value, Branch):
                label = value.label
                value = value.value
            self.emit(NodeOutput(run_id=self.run_id, ts=time.time(), path=self.path,
                                 node_id=node.id, kind=node.kind, value=value,
                                 duration=duration, branch=label))

    async def _attempt(self, node: CompiledNode, inputs: Mapping[str, object],
                       attempt: int) -> object:
        breaker = self.rt.breakers.get(node.breaker) if node.breaker is not None else None
        slots: tuple[asyncio.Semaphore, ...] = ()
        if not node.bound.container:
            slots = self.rt.limiter.semaphores(node.kind)
            if self.run_limit is not None:
                slots = (self.run_limit, *slots)
        taken = 0
        try:
            for slot in slots:
                await slot.acquire()
                taken += 1
            if breaker is not None:
                breaker.before_call()  # after the slots: a trial call is not held in a queue
            try:
                if node.timeout is None and not self.rt.hooks.wrap_node:
                    value = await self._call(node, inputs)
                else:
                    value = await self._invoke(node, inputs, attempt)
            except asyncio.CancelledError:
                if breaker is not None:
                    breaker.release_trial()
                raise
            except Exception as exc:
                if breaker is not None:
                    # only failures of the service count; a rejected request or a bug does not
                    if is_retryable(exc):
                        breaker.record_failure()
                    else:
                        breaker.release_trial()
                raise
        finally:
            for slot in slots[:taken]:
                slot.release()
        if breaker is not None:
            breaker.record_success()
        return value

    async def _invoke(self, node: CompiledNode, inputs: Mapping[str, object],
                      attempt: int) -> object:
        if self.rt.hooks.wrap_node:
            call_next = self.rt.hooks.wrap(lambda call: self._timed(node, call.inputs))
            return await call_next(NodeCall(self.run_id, node.id, node.kind, inputs, attempt,
                                            self.path))
        return await self._timed(node, inputs)

    async def _timed(self, node: CompiledNode, inputs: Mapping[str, object]) -> object:
        if node.timeout is None:
            return await self._call(node, inputs)
        try:
            async with asyncio.timeout(node.timeout) as scope:
                return await self._call(node, inputs)
        except TimeoutError:
            if scope.expired():
                raise NodeTimeout(node.id, node.timeout) from None
            raise

    async def _call(self, node: CompiledNode, inputs: Mapping[str, object]) -> object:
        result = node.bound.call(dict(inputs), self, node.id)
        if node.inline:
            return result
        return await result  # type: ignore[misc]

