"""The run loop: applies the planner's decisions, runs nodes, retries, times out, emits events.

Inline nodes (pure and synchronous) run directly in this loop with no task; other nodes get
one task each, whose completion wakes the loop. A node starts as soon as the planner says its
inputs are resolved: there is no superstep barrier.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Final

from plait.errors import NodeError, NodeTimeout, PlaitError, RunTimeout
from plait.graph import plan
from plait.graph.breaker import BreakerRegistry
from plait.graph.compiler import CompiledGraph, CompiledNode
from plait.graph.context import RunContext
from plait.graph.events import (
    NO_SINKS,
    NodeFailed,
    NodeOutput,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunStarted,
    Sinks,
)
from plait.graph.hooks import HookChain, NodeCall, NodeFailure, NodeOutcome, Replace, Retry, Skip
from plait.graph.limits import Limiter
from plait.graph.profiles import PROFILES
from plait.graph.retry import RetryPolicy
from plait.graph.state import (
    RELEASED,
    Branch,
    NodeStatus,
    RunResult,
    RunState,
    branch_label,
    describe_error,
    error_code,
)
from plait.types import RunStatus

__all__ = ["Runner", "Runtime", "new_run_id"]

_DONE: Final = 0
_SKIP: Final = 1
_Outcome = tuple[int, object]


def new_run_id() -> str:
    return os.urandom(12).hex()


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



class Runner(RunContext):
    """Executes one run of a compiled graph."""

    __slots__ = (
        "aborting",
        "completions",
        "emit_run",
        "fail_fast",
        "failure",
        "graph",
        "inflight",
        "queue",
        "release",
        "retry_cap",
        "rt",
        "run_limit",
        "state",
        "wakeup",
    )

    def __init__(self, graph: CompiledGraph, rt: Runtime, *, run_id: str,
                 inputs: Mapping[str, object], path: tuple[str, ...] = (),
                 sinks: Sinks = NO_SINKS, fail_fast: bool | None = None) -> None:
        super().__init__(run_id, inputs, path, sinks.node)
        self.emit_run = sinks.run
        self.graph = graph
        self.rt = rt
        self.state = RunState(graph, run_id)
        settings = graph.spec.settings
        profile = PROFILES[settings.profile] if settings.profile is not None else None
        if fail_fast is None:
            fail_fast = settings.fail_fast
        if fail_fast is None:
            fail_fast = profile.fail_fast if profile is not None else rt.fail_fast
        self.fail_fast = fail_fast
        self.release = profile.release_outputs if profile is not None else rt.release_outputs
        self.retry_cap = profile.retry_max_delay if profile is not None else rt.retry_max_delay
        self.run_limit = (asyncio.Semaphore(settings.max_concurrency)
                          if settings.max_concurrency is not None else None)
        self.queue: deque[int] = deque()
        self.inflight: dict[asyncio.Task[_Outcome], int] = {}
        self.completions: deque[asyncio.Task[_Outcome]] = deque()
        self.wakeup: asyncio.Future[None] | None = None
        self.failure: PlaitError | None = None
        self.aborting = False

    # -- RunContext ----------------------------------------------------------------------
    async def run_child(self, graph: object, inputs: Mapping[str, object], *,
                        key: str) -> RunResult:
        if not isinstance(graph, CompiledGraph):
            raise TypeError("run_child takes a graph from BindEnv.compile_child")
        from plait.graph.inputs import resolve_inputs

        child = Runner(graph, self.rt, run_id=f"{self.run_id}/{key}",
                       inputs=resolve_inputs(graph.spec, inputs), path=(*self.path, key),
                       sinks=Sinks(self.emit_run, self.emit), fail_fast=self.fail_fast)
        return await child.run(timeout=graph.spec.settings.timeout)

    # -- the run -------------------------------------------------------------------------
    async def run(self, *, timeout: float | None = None) -> RunResult:
        rt = self.rt
        emit = self.emit_run
        started = time.perf_counter()
        if rt.hooks.before_run:
            from plait.graph.hooks import RunCall

            self.inputs = await rt.hooks.run_before_run(
                RunCall(self.run_id, self.graph.spec.name, self.inputs, self.path))
        if emit is not None:
            emit(RunStarted(run_id=self.run_id, ts=time.time(), path=self.path,
                            workflow=self.graph.spec.name, digest=self.graph.digest,
                            inputs=dict(self.inputs)))
        try:
            if timeout is None:
                await self._loop()
            else:
                try:
                    async with asyncio.timeout(timeout):
                        await self._loop()
                except TimeoutError:
                    if self.failure is None:
                        self.failure = RunTimeout(timeout)
                    self.aborting = True
            if self.aborting:
                await self._abort()
        except asyncio.CancelledError:
            await self._abort()
            self._finish(RunStatus.CANCELLED, started)
            raise
        status = RunStatus.FAILED if self.failure is not None else RunStatus.COMPLETED
        result = self._finish(status, started)
        if rt.hooks.after_run:
            from plait.graph.hooks import RunOutcome

            await rt.hooks.run_after_run(RunOutcome(self.run_id, self.graph.spec.name, status,
                                                    result.outputs, result.error, self.path))
        return result

    def _finish(self, status: RunStatus, started: float) -> RunResult:
        st = self.state
        outputs: dict[str, object] = {}
        for i in self.graph.results:
            if st.status[i] is NodeStatus.COMPLETED:
                node = self.graph.nodes[i]
                outputs[node.output_name or node.id] = st.outputs[i]
        duration = time.perf_counter() - started
        if self.emit_run is not None:
            error = self.failure
            self.emit_run(RunFinished(run_id=self.run_id, ts=time.time(), path=self.path,
                                  status=status, outputs=outputs,
                                  error=None if error is None else str(error),
                                  code=None if error is None else error.code,
                                  duration=duration))
        return RunResult(self.run_id, self.graph.spec.name, status, outputs, self.failure,
                         duration, st)

    async def _loop(self) -> None:
        st = self.state
        emit = self.emit
        runnable, _ = plan.start(st, self.inputs)
        queue = self.queue
        queue.extend(runnable)
        nodes = self.graph.nodes
        fast_ok = self.rt.hooks.sync
        plain = emit is None and not self.rt.hooks.node_hooks
        release = self.release
        completions = self.completions
        loop = asyncio.get_running_loop()
        while True:
            while queue and not self.aborting:
                i = queue.popleft()
                node = nodes[i]
                try:
                    inputs = plan.gather_inputs(st, i, release=release)
                except NodeError as exc:
                    st.attempts[i] = 1
                    if emit is not None:
                        self._emit_failed(node, exc, 1)
                    self._fail(i, exc)
                    continue
                if node.inline and fast_ok and node.breaker is None:
                    if plain:
                        st.status[i] = NodeStatus.RUNNING
                        st.attempts[i] = 1
                        try:
                            value = node.bound.call(inputs, self, node.id)
                        except Exception as exc:
                            self._inline_failed(i, inputs, exc)
                            continue
                        self._complete(i, value, None)
                    else:
                        self._run_inline(i, node, inputs)
                else:
                    self._spawn(i, self._node_task(i, inputs, 1, 0.0))
            if self.aborting or not self.inflight:
                return
            if not completions:
                self.wakeup = loop.create_future()
                await self.wakeup
                self.wakeup = None
            while completions and not self.aborting:
                task = completions.popleft()
                i = self.inflight.pop(task)
                if task.cancelled():
                    st.status[i] = NodeStatus.CANCELLED
                    continue
                error = task.exception()
                if error is not None:
                    self._fail(i, error)
                    continue
                what, value = task.result()
                if what == _DONE:
                    self._complete(i, value, None)
                else:
                    self._skip(i, str(value))

    # -- transitions ---------------------------------------------------------------------
    def _complete(self, i: int, value: object, duration: float | None) -> None:
        st = self.state
        node = self.graph.nodes[i]
        label = None
        if type(value) is Branch:
            label = value.label
            value = value.value
        elif node.branches:
            label = branch_label(value)
        st.outputs[i] = value
        st.status[i] = NodeStatus.COMPLETED
        if self.emit is not None and duration is not None:
            self.emit(NodeOutput(run_id=self.run_id, ts=time.time(), path=self.path,
                                 node_id=node.id, kind=node.kind, value=value,
                                 duration=duration))
        runnable, skipped = plan.resolve(st, i, value, label)
        if self.release and node.output_name is None and node.out_edges:
            st.outputs[i] = RELEASED
        self.queue.extend(runnable)
        if skipped and self.emit is not None:
            self._emit_skips(skipped)

    def _skip(self, i: int, reason: str) -> None:
        st = self.state
        st.status[i] = NodeStatus.SKIPPED
        st.reasons[i] = reason
        skipped = [(i, reason)]
        runnable, more = plan.resolve(st, i, None, None, skip_all=True)
        self.queue.extend(runnable)
        if self.emit is not None:
            self._emit_skips(skipped + more)

    def _emit_skips(self, skipped: list[tuple[int, str]]) -> None:
        assert self.emit is not None
        for j, reason in skipped:
            self.emit(NodeSkipped(run_id=self.run_id, ts=time.time(), path=self.path,
                                  node_id=self.graph.nodes[j].id, reason=reason))

    def _fail(self, i: int, exc: BaseException) -> None:
        st = self.state
        node = self.graph.nodes[i]
        st.status[i] = NodeStatus.FAILED
        st.errors[i] = exc
        if self.failure is None:
            self.failure = exc if isinstance(exc, NodeError) and exc.node_id == node.id else (
                NodeError(node.id, describe_error(exc), cause=exc, attempts=st.attempts[i]))
        if self.fail_fast:
            self.aborting = True
            return
        runnable, skipped = plan.resolve(st, i, None, None, skip_all=True)
        self.queue.extend(runnable)
        if skipped and self.emit is not None:
            self._emit_skips(skipped)

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
        """An inline node with events or synchronous hooks, still without a task."""
        st = self.state
        hooks = self.rt.hooks
        st.status[i] = NodeStatus.RUNNING
        st.attempts[i] = 1
        if hooks.before_node:
            call = NodeCall(self.run_id, node.id, node.kind, inputs, 1, self.path)
            decision = hooks.before_node_now(call)
            if isinstance(decision, Skip):
                self._skip(i, decision.reason)
                return
            if isinstance(decision, Replace):
                self._complete(i, decision.value, None)
                return
            if decision is not call:
                inputs = dict(decision.inputs)
        emit = self.emit
        t0 = time.perf_counter()
        if emit is not None:
            emit(NodeStarted(run_id=self.run_id, ts=time.time(), path=self.path,
                             node_id=node.id, kind=node.kind, attempt=1))
        try:
            value = node.bound.call(inputs, self, node.id)
        except Exception as exc:
            self._inline_failed(i, inputs, exc)
            return
        if hooks.after_node:
            after = hooks.after_node_now(NodeOutcome(self.run_id, node.id, node.kind, inputs,
                                                     value, 1, self.path))
            if isinstance(after, Retry):
                self._retry(i, node, inputs, after.delay, NodeError(
                    node.id, "after_node asked for a retry"), from_hook=True)
                return
            value = after
        self._complete(i, value, time.perf_counter() - t0 if emit is not None else None)

    def _inline_failed(self, i: int, inputs: dict[str, object], exc: Exception) -> None:
        node = self.graph.nodes[i]
        if self.emit is not None:
            self._emit_failed(node, exc, 1)
        hooks = self.rt.hooks
        if hooks.on_node_error:
            decision = hooks.on_error_now(NodeFailure(self.run_id, node.id, node.kind, inputs,
                                                      exc, 1, self.path))
            if isinstance(decision, Replace):
                self._complete(i, decision.value, None)
                return
            if isinstance(decision, Skip):
                self._skip(i, decision.reason)
                return
            if isinstance(decision, Retry):
                self._retry(i, node, inputs, decision.delay, exc, from_hook=True)
                return
        policy = self._policy(node)
        if policy is not None and policy.should_retry(exc, 1):
            self._retry(i, node, inputs, policy.delay(1, self.rt.rng), exc)
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
        self._spawn(i, self._node_task(i, inputs, 2, delay))

    def _emit_retrying(self, node: CompiledNode, attempt: int, delay: float,
                       exc: BaseException) -> None:
        if self.emit is not None:
            self.emit(NodeRetrying(run_id=self.run_id, ts=time.time(), path=self.path,
                                   node_id=node.id, attempt=attempt, delay=delay,
                                   error=describe_error(exc)))

    def _spawn(self, i: int, coro: Coroutine[object, object, _Outcome]) -> None:
        self.state.status[i] = NodeStatus.RUNNING
        task = asyncio.ensure_future(coro)
        self.inflight[task] = i
        task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[_Outcome]) -> None:
        self.completions.append(task)
        wakeup = self.wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def _abort(self) -> None:
        tasks = list(self.inflight)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            self.state.status[self.inflight.pop(task)] = NodeStatus.CANCELLED
        self.completions.clear()

    # -- one node, with hooks, breaker, limits, timeout and retries ----------------------
    async def _node_task(self, i: int, inputs: dict[str, object], attempt: int,
                         delay: float) -> _Outcome:
        node = self.graph.nodes[i]
        rt = self.rt
        hooks = rt.hooks
        policy = self._policy(node)
        max_attempts = policy.max_attempts if policy is not None else 1
        emit = self.emit
        while True:
            if delay > 0:
                await asyncio.sleep(delay)
            self.state.attempts[i] = attempt
            call_inputs: Mapping[str, object] = inputs
            if hooks.before_node:
                decision = await hooks.run_before_node(NodeCall(
                    self.run_id, node.id, node.kind, inputs, attempt, self.path))
                if isinstance(decision, Skip):
                    return _SKIP, decision.reason
                if isinstance(decision, Replace):
                    return _DONE, decision.value
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
                        return _DONE, decision2.value
                    if isinstance(decision2, Skip):
                        return _SKIP, decision2.reason
                    if isinstance(decision2, Retry) and attempt < max_attempts:
                        delay = decision2.delay
                        attempt += 1
                        self._emit_retrying(node, attempt, delay, exc)
                        continue
                if policy is not None and policy.should_retry(exc, attempt):
                    delay = policy.delay(attempt, rt.rng)
                    attempt += 1
                    self._emit_retrying(node, attempt, delay, exc)
                    continue
                raise
            if emit is not None:
                emit(NodeOutput(run_id=self.run_id, ts=time.time(), path=self.path,
                                node_id=node.id, kind=node.kind,
                                value=value.value if type(value) is Branch else value,
                                duration=time.perf_counter() - t0))
            return _DONE, value

    async def _attempt(self, node: CompiledNode, inputs: Mapping[str, object],
                       attempt: int) -> object:
        breaker = self.rt.breakers.get(node.breaker) if node.breaker is not None else None
        if breaker is not None:
            breaker.before_call()
        try:
            if node.bound.container:
                value = await self._invoke(node, inputs, attempt)
            elif self.run_limit is None:
                async with self.rt.limiter.slot(node.kind):
                    value = await self._invoke(node, inputs, attempt)
            else:
                async with self.run_limit, self.rt.limiter.slot(node.kind):
                    value = await self._invoke(node, inputs, attempt)
        except asyncio.CancelledError:
            raise
        except Exception:
            if breaker is not None:
                breaker.record_failure()
            raise
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
