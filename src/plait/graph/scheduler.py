"""The run loop: applies the planner's decisions, runs nodes, retries, times out, emits events.

Inline nodes (pure and synchronous) run directly in this loop with no task; other nodes get
one task each, whose completion wakes the loop. A node starts as soon as the planner says its
inputs are resolved: there is no superstep barrier.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Mapping

from plait.errors import BudgetExceeded, NodeError, PlaitError, RunTimeout
from plait.graph import plan
from plait.graph.compiler import CompiledGraph
from plait.graph.context import CURRENT_NODE
from plait.graph.durable import DurableExecution
from plait.graph.events import (
    NO_SINKS,
    NodeCancelled,
    NodeOutput,
    NodeStarted,
    RunFinished,
    RunStarted,
    Sinks,
)
from plait.graph.execution import DONE, Runtime
from plait.graph.hooks import RunCall, RunOutcome
from plait.graph.inputs import resolve_inputs
from plait.graph.interrupts import Interrupt
from plait.graph.meter import Meter
from plait.graph.profiles import PROFILES
from plait.graph.spec import RunSettings
from plait.graph.state import (
    RELEASED,
    Branch,
    NodeStatus,
    RunResult,
    RunState,
    branch_label,
    describe_error,
)
from plait.types import RunStatus

__all__ = ["Runner", "Runtime", "new_run_id"]

logger = logging.getLogger(__name__)


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.cause if isinstance(exc, NodeError) else exc.__cause__
    return False


def new_run_id() -> str:
    return os.urandom(12).hex()


class Runner(DurableExecution):
    """Executes one run of a compiled graph."""

    __slots__ = (
        "emit_run",
        "fail_fast",
        "graph",
        "inflight",
        "queue",
        "release",
        "retry_cap",
        "rt",
        "run_limit",
        "settled",
        "state",
    )

    def __init__(self, graph: CompiledGraph, rt: Runtime, *, run_id: str,
                 inputs: Mapping[str, object], path: tuple[str, ...] = (),
                 sinks: Sinks = NO_SINKS, fail_fast: bool | None = None,
                 meter: Meter | None = None) -> None:
        settings = graph.spec.settings
        if meter is None:
            meter = Meter({k: v for k, v in (("tokens", settings.max_tokens),
                                               ("cost", settings.max_cost)) if v is not None})
        super().__init__(run_id, inputs, path, sinks.node, meter)
        self.emit_run = sinks.run
        self.graph = graph
        self.rt = rt
        self.state = RunState(graph, run_id)
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
        self.inflight: dict[asyncio.Task[None], int] = {}
        self.settled: asyncio.Future[None] | None = None
        self.failure = None
        self.aborting = False
        self.journal = self.book = self.waiting = self.lineages = self.restore = None
        self.container = None

    # -- RunContext ----------------------------------------------------------------------
    @property
    def settings(self) -> RunSettings:
        return self.graph.spec.settings

    async def run_child(self, graph: object, inputs: Mapping[str, object], *,
                        key: str) -> RunResult:
        if not isinstance(graph, CompiledGraph):
            raise TypeError("run_child takes a graph from BindEnv.compile_child")
        child = Runner(graph, self.rt, run_id=f"{self.run_id}/{key}",
                       inputs=resolve_inputs(graph.spec, inputs), path=(*self.path, key),
                       sinks=Sinks(self.emit_run, self.emit), fail_fast=self.fail_fast,
                       meter=self.meter)
        child.book = self._book()
        container = CURRENT_NODE.get()
        if container is not None:
            child.container = (self, container, key)
        return await child.run(timeout=graph.spec.settings.timeout)

    # -- the run -------------------------------------------------------------------------
    async def run(self, *, timeout: float | None = None) -> RunResult:
        rt = self.rt
        emit = self.emit_run
        started = time.perf_counter()
        if rt.hooks.before_run:
            self.inputs = await rt.hooks.run_before_run(
                RunCall(self.run_id, self.graph.spec.name, self.inputs, self.path))
        if self.journal is not None:
            await self.journal.begin()
        if emit is not None:
            emit(RunStarted(run_id=self.run_id, ts=time.time(), path=self.path,
                            workflow=self.graph.spec.name, digest=self.graph.digest,
                            inputs=dict(self.inputs)))
        try:
            if timeout is None:
                await self._loop()
            else:
                try:
                    async with asyncio.timeout(timeout) as scope:
                        await self._loop()
                except TimeoutError:
                    if not scope.expired():
                        raise
                    if self.failure is None:
                        self.failure = RunTimeout(timeout)
                    self.aborting = True
            if self.aborting:
                await self._abort()
        except asyncio.CancelledError:
            await self._abort()
            await self._close_journal(RunStatus.CANCELLED)
            self._finish(RunStatus.CANCELLED, started)
            raise
        except BaseException as exc:
            await self._abort()
            if self.failure is None:
                self.failure = exc if isinstance(exc, PlaitError) else NodeError(
                    "(engine)", describe_error(exc), cause=exc)
            await self._close_journal(RunStatus.FAILED)
            self._finish(RunStatus.FAILED, started)
            raise
        status = (RunStatus.FAILED if self.failure is not None else
                  RunStatus.WAITING if self.waiting else RunStatus.COMPLETED)
        if self.journal is not None:
            status = await self._close_journal(status)
        result = self._finish(status, started)
        if rt.hooks.after_run:
            await rt.hooks.run_after_run(RunOutcome(self.run_id, self.graph.spec.name, status,
                                                    result.outputs, result.error, self.path))
        return result

    def _outputs(self) -> dict[str, object]:
        st = self.state
        outputs: dict[str, object] = {}
        for i in self.graph.results:
            if st.status[i] is NodeStatus.COMPLETED:
                node = self.graph.nodes[i]
                outputs[node.output_name or node.id] = st.outputs[i]
        return outputs

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
        waiting = self.waiting
        return RunResult(self.run_id, self.graph.spec.name, status, outputs, self.failure,
                         duration, dict(self.meter.used), st,
                         tuple(p for ps in waiting.values() for p in ps) if waiting else ())

    async def _loop(self) -> None:
        runnable, _ = plan.start(self.state, self.inputs)
        if self.restore is not None:
            runnable = self.restore.apply(self)
        self.queue.extend(runnable)
        self._pump()
        if (self.inflight or (self.journal is not None and self.journal.writing)) and (
                not self.aborting):
            self.settled = asyncio.get_running_loop().create_future()
            await self.settled

    def _pump(self) -> None:
        """Start every node in the queue: inline ones run right here, others get a task.

        Called by the run at its start and by each node task as it settles, so a finished
        async node starts its successors in the same event-loop turn (no wake-up round trip
        through the run's own task)."""
        st = self.state
        queue = self.queue
        nodes = self.graph.nodes
        emit = self.emit
        release = self.release
        fast_ok = self.rt.hooks.sync
        plain = emit is None and not self.rt.hooks.node_hooks
        while queue and not self.aborting:
            i = queue.popleft()
            node = nodes[i]
            try:
                inputs = plan.gather_inputs(st, i, release=release)
            except NodeError as exc:
                st.attempts[i] = 1
                if emit is not None:
                    emit(NodeStarted(run_id=self.run_id, ts=time.time(), path=self.path,
                                     node_id=node.id, kind=node.kind, attempt=1))
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
                        self._inline_failed(i, inputs, inputs, exc)
                        continue
                    self._complete(i, value, None)
                else:
                    self._run_inline(i, node, inputs)
            else:
                self._spawn(i, inputs, 1, 0.0)
        if self.journal is not None:
            self.journal.kick()

    def _after_turn(self) -> None:
        settled = self.settled
        try:
            self._pump()
        except BaseException as exc:  # an engine bug: hand it to the run, which raises it
            if settled is not None and not settled.done():
                settled.set_exception(exc)
            return
        if (settled is not None and not settled.done() and
                (self.aborting or not self.inflight) and
                (self.journal is None or not self.journal.writing)):
            settled.set_result(None)

    async def _settle(self, i: int, inputs: dict[str, object], attempt: int,
                      delay: float) -> None:
        """Run one node's task to its end, then apply the outcome and start what it unblocks."""
        task = asyncio.current_task()
        try:
            try:
                what, value = await self._node_task(i, inputs, attempt, delay)
            except asyncio.CancelledError:
                if task is not None and task.cancelling():
                    raise  # the run cancelled this node: _abort accounts for it
                # the node's own code was cancelled by someone else: a failure, not a hang
                raise NodeError(self.graph.nodes[i].id, "cancelled by its own code") from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.inflight.pop(task, None)  # type: ignore[arg-type]
            if self.aborting:
                self._record_failure(i, exc)
            else:
                self._fail(i, exc)
        else:
            self.inflight.pop(task, None)  # type: ignore[arg-type]
            if self.aborting:
                # keep what it did: a completed node must never be run again on resume
                if what == DONE:
                    self._kept(i, value)
                else:
                    self.state.status[i] = NodeStatus.SKIPPED
                    self.state.reasons[i] = str(value)
            elif what == DONE:
                self._complete(i, value, None)
            else:
                self._skip(i, str(value))
        self._after_turn()

    # -- transitions ---------------------------------------------------------------------
    def _complete(self, i: int, value: object, duration: float | None) -> None:
        st = self.state
        node = self.graph.nodes[i]
        label = None
        tv = type(value)
        if tv is Branch:
            label = value.label  # type: ignore[attr-defined]
            value = value.value  # type: ignore[attr-defined]
        elif tv is Interrupt or (tv is list and value and type(value[0]) is Interrupt):  # type: ignore[index]
            self._interrupted(i, value, duration)
            return
        elif node.branches:
            label = branch_label(value)
        journal = self.journal
        if journal is not None and not self._checkpoint_completed(i, value, label):
            return
        st.outputs[i] = value
        st.status[i] = NodeStatus.COMPLETED
        if self.emit is not None and duration is not None:
            self.emit(NodeOutput(run_id=self.run_id, ts=time.time(), path=self.path,
                                 node_id=node.id, kind=node.kind, value=value,
                                 duration=duration, branch=label))
        runnable, skipped = plan.resolve(st, i, value, label)
        if self.release and node.output_name is None and node.out_edges:
            st.outputs[i] = RELEASED
        if journal is not None:
            self._checkpoint_resolved(runnable, skipped)
            return
        self.queue.extend(runnable)
        if skipped and self.emit is not None:
            self._emit_skips(skipped)

    def _skip(self, i: int, reason: str) -> None:
        st = self.state
        st.status[i] = NodeStatus.SKIPPED
        st.reasons[i] = reason
        skipped = [(i, reason)]
        runnable, more = plan.resolve(st, i, None, None, skip_all=True)
        if self.journal is not None:
            self._checkpoint_resolved(runnable, skipped + more)
            return
        self.queue.extend(runnable)
        if self.emit is not None:
            self._emit_skips(skipped + more)

    def _record_failure(self, i: int, exc: BaseException) -> None:
        st = self.state
        node = self.graph.nodes[i]
        st.status[i] = NodeStatus.FAILED
        st.errors[i] = exc
        if self.journal is not None:
            self._checkpoint_failed(i, exc)
        logger.info("node failed: %s", describe_error(exc),
                    extra={"run_id": self.run_id, "node_id": node.id, "attempts": st.attempts[i]})
        if self.failure is None:
            self.failure = exc if isinstance(exc, NodeError) and exc.node_id == node.id else (
                NodeError(node.id, describe_error(exc), cause=exc, attempts=st.attempts[i]))

    def _fail(self, i: int, exc: BaseException) -> None:
        self._record_failure(i, exc)
        if self.fail_fast or _caused_by(exc, BudgetExceeded):
            self.aborting = True  # an exhausted budget stops the whole run, fail-fast or not
            return
        runnable, skipped = plan.resolve(self.state, i, None, None, skip_all=True)
        if self.journal is not None:
            self._checkpoint_resolved(runnable, skipped)
            return
        self.queue.extend(runnable)
        if skipped and self.emit is not None:
            self._emit_skips(skipped)

    def _spawn(self, i: int, inputs: dict[str, object], attempt: int, delay: float) -> None:
        self.state.status[i] = NodeStatus.RUNNING
        self.inflight[asyncio.ensure_future(self._settle(i, inputs, attempt, delay))] = i

    async def _abort(self) -> None:
        """Cancel every running node and wait for them; nothing new starts once aborting."""
        self.aborting = True
        while self.inflight:
            tasks = list(self.inflight)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                i = self.inflight.pop(task, None)
                if i is None or self.state.status[i] is not NodeStatus.RUNNING:
                    continue
                self.state.status[i] = NodeStatus.CANCELLED
                if self.emit is not None:
                    self.emit(NodeCancelled(run_id=self.run_id, ts=time.time(),
                                            path=self.path, node_id=self.graph.nodes[i].id))

    # -- one node, with hooks, breaker, limits, timeout and retries ----------------------
