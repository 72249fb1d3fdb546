"""The engine facade: compile workflows once, run them many times (``run``, ``stream``,
``run_sync``), with engine-wide limits, circuit breakers, hooks and event subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import random
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from plait.errors import Problem, SyncInAsyncError, UsageError
from plait.graph import resume as durable
from plait.graph.breaker import BreakerConfig, BreakerRegistry
from plait.graph.checkpointing import Journal
from plait.graph.compiler import CompiledGraph, Compiler
from plait.graph.durability import CheckpointStore, Durability, NodeCheckpoint, RunLog, RunRecord
from plait.graph.events import NO_SINKS, RUN_EVENTS, Event, EventSink, RunFinished, Sinks
from plait.graph.hooks import Hook, HookChain
from plait.graph.inputs import resolve_inputs
from plait.graph.interrupts import AnswerValidator
from plait.graph.limits import Limiter
from plait.graph.meter import Meter
from plait.graph.profiles import PROFILES
from plait.graph.registry import FunctionRegistry, KindRegistry
from plait.graph.restore import Restore
from plait.graph.runlog import EventLogWriter
from plait.graph.scheduler import Runner, Runtime, new_run_id
from plait.graph.spec import Profile, WorkflowSpec
from plait.graph.specio import spec_from_data
from plait.graph.state import RunResult
from plait.types import RunStatus

__all__ = ["Engine", "Workflow", "WorkflowLike"]


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Workflow:
    """A validated, compiled workflow: its spec, the functions it references, its graph, and
    the kind registry it was compiled with (an engine with other kinds recompiles it)."""

    spec: WorkflowSpec
    graph: CompiledGraph
    functions: FunctionRegistry
    kinds: KindRegistry

    @property
    def name(self) -> str:
        return self.spec.name


WorkflowLike = Workflow | WorkflowSpec | Mapping[str, object]
_Subscriber = tuple[EventSink, frozenset[type[Event]] | None]


def _filtered(sink: EventSink, types: frozenset[type[Event]]) -> EventSink:
    def deliver(event: Event) -> None:
        if type(event) in types:
            sink(event)

    return deliver


def _fanout(sinks: list[EventSink]) -> EventSink | None:
    if not sinks:
        return None
    if len(sinks) == 1:
        return sinks[0]
    frozen = tuple(sinks)

    def deliver(event: Event) -> None:
        for sink in frozen:
            sink(event)

    return deliver


def _combine(subscribers: list[_Subscriber]) -> Sinks:
    """One composed sink per event level, each holding only the subscribers that want it."""
    run: list[EventSink] = []
    node: list[EventSink] = []
    for sink, types in subscribers:
        if types is None:
            run.append(sink)
            node.append(sink)
            continue
        if types & RUN_EVENTS:
            run.append(sink if types >= RUN_EVENTS and not types - RUN_EVENTS
                       else _filtered(sink, types))
        if types - RUN_EVENTS:
            node.append(_filtered(sink, types))
    return Sinks(_fanout(run), _fanout(node))


class Engine:
    """Runs workflows. One engine is meant to be long-lived and shared: its concurrency
    limits and circuit breakers span all of its runs."""

    def __init__(self, *, kinds: KindRegistry, functions: FunctionRegistry | None = None,
                 profile: Profile | str = Profile.HIGH_THROUGHPUT,
                 hooks: Sequence[Hook] = (), max_concurrency: int | None = None,
                 kind_limits: Mapping[str, int] | None = None, fail_fast: bool | None = None,
                 breaker: BreakerConfig | None = None, seed: int | None = None,
                 validate_answer: AnswerValidator | None = None) -> None:
        try:
            self.profile = Profile(profile)
        except ValueError:
            known = ", ".join(p.value for p in Profile)
            raise UsageError(f"unknown profile {profile!r}; choose one of {known}") from None
        defaults = PROFILES[self.profile]
        self.kinds = kinds
        self.functions = functions or FunctionRegistry()
        self.compiler = Compiler(kinds, self.functions)
        limits = dict(defaults.kind_limits)
        limits.update(kind_limits or {})
        for name in limits:
            kind = kinds.get(name)
            if kind is None:
                raise UsageError(f"unknown node kind {name!r} in kind_limits; known: "
                                 f"{', '.join(kinds.names())}")
            if kind.container:
                raise UsageError(f"kind_limits cannot limit {name!r}: its nodes run child "
                                 "workflows and hold no slot (their children's limits apply; "
                                 "a map has its own 'concurrency')")
        self.runtime = Runtime(
            hooks=HookChain(tuple(hooks)),
            limiter=Limiter(max_concurrency or defaults.max_concurrency, limits),
            breakers=BreakerRegistry(breaker),
            fail_fast=defaults.fail_fast if fail_fast is None else fail_fast,
            retry_max_delay=defaults.retry_max_delay,
            release_outputs=defaults.release_outputs,
            rng=random.Random(seed),
        )
        self.validate_answer = validate_answer
        """Checks answers to interrupts against their JSON schema (None: no checks)."""
        self._subscribers: list[_Subscriber] = []
        self._sinks = NO_SINKS
        self._cache: OrderedDict[str, CompiledGraph] = OrderedDict()
        self._foreign: weakref.WeakKeyDictionary[Workflow, CompiledGraph] = (
            weakref.WeakKeyDictionary())

    # -- workflows -----------------------------------------------------------------------
    def validate(self, spec: WorkflowSpec | Mapping[str, object]) -> list[Problem]:
        """Every problem of a spec, with locations (empty when valid)."""
        from pydantic import ValidationError

        from plait.graph.compiler import pydantic_problems

        if not isinstance(spec, WorkflowSpec):
            try:
                spec = WorkflowSpec.model_validate(spec)
            except ValidationError as err:
                return pydantic_problems(err, "")
        return self.compiler.validate(spec)

    def compile(self, workflow: WorkflowLike, *, source: str = "") -> CompiledGraph:
        """Validate and compile (cached by spec digest); ``source`` names the file or place
        the spec came from in a :class:`~plait.errors.SpecError`."""
        if isinstance(workflow, Workflow):
            if workflow.kinds is self.kinds:
                return workflow.graph
            graph = self._foreign.get(workflow)
            if graph is None:
                compiler = Compiler(self.kinds, self.functions.merged(workflow.functions))
                graph = self._foreign[workflow] = compiler.compile(workflow.spec,
                                                                   source=source)
            return graph
        if not isinstance(workflow, WorkflowSpec):
            workflow = spec_from_data(workflow, source=source)
        key = workflow.digest()
        graph = self._cache.get(key)
        if graph is None:
            graph = self.compiler.compile(workflow, source=source)
            self._cache[key] = graph
            if len(self._cache) > 256:
                self._cache.popitem(last=False)
        return graph

    # -- events --------------------------------------------------------------------------
    def subscribe(self, sink: EventSink, *, types: Iterable[type[Event]] | None = None
                  ) -> Callable[[], None]:
        """Call ``sink`` with every event of every run (or only events of ``types``); returns
        an unsubscribe function. Sinks must be quick and must not raise; for slow consumers
        use :meth:`stream`. Events of a level (run or node) nobody subscribed to are never
        built, so a sink for ``RunFinished`` alone costs a run almost nothing."""
        entry = (sink, None if types is None else frozenset(types))
        self._subscribers.append(entry)
        self._sinks = _combine(self._subscribers)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
                self._sinks = _combine(self._subscribers)

        return unsubscribe

    def _sinks_with(self, extra: EventSink | None, more: EventSink | None = None) -> Sinks:
        if extra is None and more is None:
            return self._sinks
        return _combine([*self._subscribers,
                         *((sink, None) for sink in (extra, more) if sink is not None)])

    @staticmethod
    def _meter(graph: CompiledGraph, budget: Mapping[str, float] | None) -> Meter | None:
        if budget is None:
            return None
        settings = graph.spec.settings
        limits = {k: v for k, v in (("tokens", settings.max_tokens),
                                     ("cost", settings.max_cost)) if v is not None}
        limits.update(budget)
        return Meter(limits)

    # -- running -------------------------------------------------------------------------
    async def run(self, workflow: WorkflowLike, inputs: Mapping[str, object] | None = None, *,
                  run_id: str | None = None, timeout: float | None = None,
                  fail_fast: bool | None = None, check: bool = True,
                  on_event: EventSink | None = None,
                  budget: Mapping[str, float] | None = None,
                  store: CheckpointStore | None = None,
                  durability: Durability | str = Durability.SYNC,
                  run_log: RunLog | None = None) -> RunResult:
        """Run ``workflow`` to its end (or until it waits on interrupts). With ``check``
        (default) a failed run raises :class:`~plait.errors.RunFailed` (its ``result`` has the
        partial work). ``budget`` (e.g. ``{"tokens": 5000, "cost": 0.10}``) overrides the
        spec's max_tokens/max_cost. With a ``store``, every settled node is checkpointed
        (``durability``: ``sync``, ``async`` or ``exit``) so the run can be resumed; with a
        ``run_log``, every event is persisted."""
        graph = self.compile(workflow)
        resolved = resolve_inputs(graph.spec, inputs or {})
        if store is not None or run_log is not None:
            return await self._execute(graph, resolved, run_id=run_id or new_run_id(),
                                       timeout=timeout, fail_fast=fail_fast, check=check,
                                       on_event=on_event, budget=budget, store=store,
                                       durability=durability, run_log=run_log)
        runner = Runner(graph, self.runtime, run_id=run_id or new_run_id(), inputs=resolved,
                        sinks=self._sinks_with(on_event),
                        fail_fast=fail_fast,
                        meter=None if budget is None else self._meter(graph, budget))
        result = await runner.run(
            timeout=timeout if timeout is not None else graph.spec.settings.timeout)
        return result.raise_for_status() if check else result

    async def _execute(self, graph: CompiledGraph, inputs: Mapping[str, object], *,
                       run_id: str, timeout: float | None, fail_fast: bool | None,
                       check: bool, on_event: EventSink | None,
                       budget: Mapping[str, float] | None, store: CheckpointStore | None,
                       durability: Durability | str, run_log: RunLog | None,
                       record: RunRecord | None = None, restore: Restore | None = None,
                       start: Sequence[NodeCheckpoint] = (), seq: int = 0,
                       log_seq: int = 0, resumed: bool = False) -> RunResult:
        """The durable execution path: a journal for the store, a writer for the run log."""
        mode = durable.durability_mode(durability)
        writer = EventLogWriter(run_log, run_id, seq=log_seq) if run_log is not None else None
        runner = Runner(graph, self.runtime, run_id=run_id, inputs=inputs,
                        sinks=self._sinks_with(on_event, writer), fail_fast=fail_fast,
                        meter=self._meter(graph, budget))
        if store is not None:
            runner.journal = Journal(
                store, record or durable.new_record(graph, run_id, inputs), mode, seq=seq,
                start=start, resumed=resumed, on_written=runner._written,
                on_failed=runner._store_failed)
        runner.restore = restore
        try:
            result = await runner.run(
                timeout=timeout if timeout is not None else graph.spec.settings.timeout)
        finally:
            if writer is not None:
                await writer.close()
        return result.raise_for_status() if check else result

    async def resume(self, run_id: str, *, store: CheckpointStore,
                     answers: Mapping[str, object] | None = None,
                     workflow: durable.WorkflowSource | None = None,
                     run_log: RunLog | None = None,
                     durability: Durability | str = Durability.SYNC,
                     timeout: float | None = None, check: bool = True,
                     on_event: EventSink | None = None) -> RunResult:
        """Continue stored run ``run_id``: completed nodes are restored (never run again),
        failed, cancelled and pending nodes run, and nodes waiting on interrupts run again
        once all of their interrupts are answered. ``answers`` maps interrupt ids (or
        ``NODE`` / ``NODE:KEY``) to values; they are checked against the interrupts' schemas
        and stored before anything runs. ``workflow`` (the Workflow or Flow the run started
        with) is needed when the workflow calls Python functions; its digest must match the
        run's. A completed run returns its stored result and runs nothing."""
        record, checkpoints = await durable.load(store, run_id)
        if record.status is RunStatus.COMPLETED and not answers:
            return durable.stored_result(record, checkpoints)
        graph = durable.compile_recorded(self, record, workflow)
        restore = await durable.prepare_resume(store, record, checkpoints, answers or {},
                                               self.validate_answer)
        log_seq = 0
        if run_log is not None:
            logged = await run_log.events(run_id)
            log_seq = logged[-1].seq if logged else 0
        return await self._execute(
            graph, record.inputs, run_id=run_id, timeout=timeout, fail_fast=None, check=check,
            on_event=on_event, budget=None, store=store, durability=durability,
            run_log=run_log, record=record, restore=restore,
            seq=max((cp.seq for cp in checkpoints), default=0), log_seq=log_seq, resumed=True)

    async def fork(self, run_id: str, *, store: CheckpointStore, from_node: str,
                   edits: Mapping[str, object] | None = None,
                   workflow: durable.WorkflowSource | None = None,
                   run_log: RunLog | None = None,
                   durability: Durability | str = Durability.SYNC,
                   timeout: float | None = None, check: bool = True,
                   on_event: EventSink | None = None) -> RunResult:
        """Time travel: a new run (``parent_id`` = ``run_id``) that keeps the outputs of the
        nodes that are neither ``from_node`` nor downstream of it, with ``edits`` (node id ->
        new output; a :class:`~plait.Branch` also sets the branch label) replacing kept
        outputs, and runs everything else (everything downstream of an edit included)."""
        record, checkpoints = await durable.load(store, run_id)
        graph = durable.compile_recorded(self, record, workflow)
        new_id = new_run_id()
        restore, start = durable.prepare_fork(graph, record, checkpoints, new_id,
                                              from_node=from_node, edits=edits or {})
        return await self._execute(
            graph, record.inputs, run_id=new_id, timeout=timeout, fail_fast=None, check=check,
            on_event=on_event, budget=None, store=store, durability=durability,
            run_log=run_log, restore=restore, start=start, seq=len(start),
            record=durable.new_record(graph, new_id, record.inputs, parent_id=run_id))

    async def stream(self, workflow: WorkflowLike, inputs: Mapping[str, object] | None = None,
                     *, run_id: str | None = None, timeout: float | None = None,
                     fail_fast: bool | None = None,
                     budget: Mapping[str, float] | None = None,
                     store: CheckpointStore | None = None,
                     durability: Durability | str = Durability.SYNC,
                     run_log: RunLog | None = None) -> AsyncIterator[Event]:
        """Run ``workflow`` and yield its events as they happen, ending with ``RunFinished``.
        Leaving the loop early cancels the run."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        task = asyncio.ensure_future(self.run(workflow, inputs, run_id=run_id, timeout=timeout,
                                              fail_fast=fail_fast, check=False,
                                              on_event=queue.put_nowait, budget=budget,
                                              store=store, durability=durability,
                                              run_log=run_log))
        getter: asyncio.Future[Event] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    task.result()  # the run raised before finishing: surface its error
                    while not queue.empty():
                        yield queue.get_nowait()
                    return
                event = getter.result()
                yield event
                if isinstance(event, RunFinished) and not event.path:
                    await task
                    return
        finally:
            if getter is not None and not getter.done():
                getter.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def run_sync(self, workflow: WorkflowLike, inputs: Mapping[str, object] | None = None, *,
                 run_id: str | None = None, timeout: float | None = None,
                 fail_fast: bool | None = None, check: bool = True,
                 budget: Mapping[str, float] | None = None,
                 store: CheckpointStore | None = None,
                 durability: Durability | str = Durability.SYNC,
                 run_log: RunLog | None = None) -> RunResult:
        """``run`` for synchronous code. Inside a running event loop, ``await run()``."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise SyncInAsyncError("run_sync() was called inside a running event loop; use "
                                   "'await engine.run(...)' there")
        return asyncio.run(self.run(workflow, inputs, run_id=run_id, timeout=timeout,
                                    fail_fast=fail_fast, check=check, budget=budget,
                                    store=store, durability=durability, run_log=run_log))
