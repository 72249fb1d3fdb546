"""Engine review findings: each failing test pins a defect; passing ones pin subtle behaviour
that is correct but was untested. Fakes only; no wall-clock assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from plait import (
    BreakerConfig,
    Continue,
    Engine,
    Event,
    Flow,
    Hook,
    Modify,
    NodeCall,
    NodeCancelled,
    NodeFailed,
    NodeFailure,
    NodeOutput,
    NodeStarted,
    Replace,
    RunFinished,
    RunStarted,
    RunStatus,
    TransientError,
)
from plait.errors import RunTimeout
from plait.graph.breaker import BreakerRegistry
from plait.graph.state import NodeStatus

from .conftest import Recorder


def _pairs_ok(events: Sequence[Event]) -> bool:
    """Every RunStarted has a RunFinished with the same run id."""
    started = {e.run_id for e in events if isinstance(e, RunStarted)}
    finished = {e.run_id for e in events if isinstance(e, RunFinished)}
    return started == finished


# -- cancellation and fail-fast ---------------------------------------------------------------

async def test_fail_fast_abort_survives_a_node_that_raises_when_cancelled() -> None:
    """A node whose cleanup raises on cancellation settles itself (pops from ``inflight``)
    during ``_abort``'s gather; ``_abort`` then pops it again and crashes with KeyError."""
    b_started = asyncio.Event()

    async def boom(value: int) -> int:
        await b_started.wait()
        raise RuntimeError("boom")

    async def messy(value: int) -> int:
        b_started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None
        return value

    f = Flow("messy")
    x = f.input("x")
    f.output("oa", f.transform("a", fn=boom, inputs=x))
    f.output("ob", f.transform("b", fn=messy, inputs=x))
    result = await Engine().run(f.build(), {"x": 1}, fail_fast=True, check=False)
    assert result.status is RunStatus.FAILED
    assert "boom" in str(result.error)


async def test_cancelling_the_run_starts_nothing_new_when_a_node_swallows_cancellation(
) -> None:
    """On outer cancellation ``run`` calls ``_abort`` without setting ``aborting``: a node that
    swallows the cancel completes normally, ``_settle`` starts its successor in a new task that
    nobody cancels, and ``_abort`` then crashes with KeyError."""
    a_started = asyncio.Event()
    successor_started = asyncio.Event()

    async def stubborn(value: int) -> int:
        a_started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return value  # a badly behaved node
        return value

    async def successor(value: int) -> int:
        successor_started.set()
        await asyncio.sleep(60)
        return value

    f = Flow("stubborn")
    x = f.input("x")
    f.output("out", f.transform("b", fn=successor, inputs=f.transform("a", fn=stubborn,
                                                                        inputs=x)))
    task = asyncio.create_task(Engine().run(f.build(), {"x": 1}, fail_fast=False))
    await a_started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(5):
        await asyncio.sleep(0)
    assert not successor_started.is_set()


async def test_no_node_is_left_running_after_fail_fast(recorder: Recorder) -> None:
    """A sibling that finishes in the same loop turn as the failing node (after ``aborting`` is
    set, before the run task wakes) is dropped by ``_settle``: its NodeOutput was emitted, but
    its record stays RUNNING forever."""

    async def fails(value: int) -> int:
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    async def succeeds(value: int) -> int:
        await asyncio.sleep(0)
        return value

    f = Flow("sibling")
    x = f.input("x")
    f.output("oa", f.transform("a", fn=fails, inputs=x))
    f.output("ob", f.transform("b", fn=succeeds, inputs=x))
    engine = Engine()
    engine.subscribe(recorder)
    result = await engine.run(f.build(), {"x": 1}, fail_fast=True, check=False)
    assert result.status is RunStatus.FAILED
    assert any(isinstance(e, NodeOutput) and e.node_id == "b" for e in recorder.events)
    assert all(r.status is not NodeStatus.RUNNING for r in result.nodes.values()), {
        k: r.status.value for k, r in result.nodes.items()}


async def test_a_node_raising_cancelled_error_by_itself_does_not_hang_the_run() -> None:
    """A CancelledError that does not come from the run (awaiting a future someone else
    cancelled) is re-raised by ``_settle`` without popping ``inflight`` or waking the run:
    the run waits on ``settled`` forever."""

    async def awaits_cancelled(value: int) -> int:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        fut.cancel()
        return await fut

    f = Flow("selfcancel")
    x = f.input("x")
    f.output("out", f.transform("a", fn=awaits_cancelled, inputs=x))
    result = await asyncio.wait_for(Engine().run(f.build(), {"x": 1}, check=False), 0.5)
    assert result.status is RunStatus.FAILED


async def test_retry_backoff_in_flight_when_the_run_aborts_is_cancelled(
        recorder: Recorder) -> None:
    """Pinned: a node sleeping in retry backoff when a sibling fails fast is cancelled, keeps
    attempts == 1, and gets NodeCancelled after its NodeStarted."""
    flaky_failed = asyncio.Event()

    async def flaky(value: int) -> int:
        flaky_failed.set()
        raise TransientError("try later")

    async def boom(value: int) -> int:
        await flaky_failed.wait()
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    f = Flow("backoff")
    x = f.input("x")
    f.output("oa", f.transform("a", fn=flaky, inputs=x,
                               retry={"max_attempts": 3, "initial_delay": 30, "jitter": 0}))
    f.output("ob", f.transform("b", fn=boom, inputs=x))
    engine = Engine()
    engine.subscribe(recorder)
    result = await engine.run(f.build(), {"x": 1}, fail_fast=True, check=False)
    assert result.nodes["a"].status is NodeStatus.CANCELLED
    assert result.nodes["a"].attempts == 1
    names = recorder.names()
    assert names.index("NodeStarted:a") < names.index("NodeCancelled:a")
    assert "NodeRetrying:a" in names
    assert names[-1] == "RunFinished"


async def test_run_timeout_while_a_child_workflow_runs(recorder: Recorder) -> None:
    """Pinned: the parent's timeout cancels the child run, which still reports RunFinished
    (cancelled); the parent fails with RunTimeout and its sub-workflow node is cancelled."""
    child_started = asyncio.Event()

    async def hang(value: int) -> int:
        child_started.set()
        await asyncio.sleep(60)
        return value

    child = Flow("child")
    cx = child.input("x")
    child.output("y", child.transform("slow", fn=hang, inputs=cx))
    f = Flow("parent", timeout=0.05)
    x = f.input("x")
    f.output("out", f.subworkflow("sub", child, inputs={"x": x}))
    engine = Engine()
    engine.subscribe(recorder)
    result = await engine.run(f.build(), {"x": 1}, check=False)
    assert child_started.is_set()
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, RunTimeout)
    assert result.nodes["sub"].status is NodeStatus.CANCELLED
    assert _pairs_ok(recorder.events)
    child_finished = [e for e in recorder.events if isinstance(e, RunFinished) and e.path]
    assert [e.status for e in child_finished] == [RunStatus.CANCELLED]
    assert isinstance(recorder.events[-1], RunFinished)
    assert not recorder.events[-1].path


# -- circuit breaker -----------------------------------------------------------------------

async def test_cancelled_half_open_trial_does_not_wedge_the_breaker() -> None:
    """``_attempt`` records neither success nor failure on CancelledError, so a half-open
    trial that is cancelled keeps its ``_trials`` slot forever: every later call is refused
    with 'next trial in 0.00s' and the circuit never recovers."""
    now = [0.0]
    engine = Engine()
    engine.runtime.breakers = BreakerRegistry(
        BreakerConfig(failure_threshold=1, recovery_timeout=10), clock=lambda: now[0])
    mode = {"v": "fail"}
    started = asyncio.Event()

    async def call(value: int) -> int:
        if mode["v"] == "fail":
            raise ConnectionError("down")
        if mode["v"] == "hang":
            started.set()
            await asyncio.sleep(60)
        return value

    f = Flow("breaker")
    x = f.input("x")
    f.output("out", f.transform("c", fn=call, inputs=x, breaker="svc"))
    wf = f.build()
    assert (await engine.run(wf, {"x": 1}, check=False)).status is RunStatus.FAILED  # opens
    now[0] = 11.0
    mode["v"] = "hang"
    task = asyncio.create_task(engine.run(wf, {"x": 1}))  # the half-open trial
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    mode["v"] = "ok"
    result = await engine.run(wf, {"x": 1}, check=False)
    assert result.status is RunStatus.COMPLETED, result.error


# -- containers: map / subworkflow ---------------------------------------------------------

async def test_map_failure_is_not_hidden_in_an_exception_group() -> None:
    """``_Map.call`` lets TaskGroup wrap the item's NodeError in an ExceptionGroup: the run's
    error reads 'unhandled errors in a TaskGroup', and since ExceptionGroup is not classified
    the map is *retried* even though the child failed with a programmer error (ValueError)."""
    calls = {"n": 0}

    def check(item: int) -> int:
        calls["n"] += 1
        if item == 2:
            raise ValueError("bad item")
        return item

    body = Flow("body")
    body.output("y", body.transform("check", fn=check, inline=True, inputs=body.input("item")))
    f = Flow("mapper")
    items = f.input("items")
    f.output("out", f.map("m", body, items=items,
                          retry={"max_attempts": 3, "initial_delay": 0}))
    result = await Engine().run(f.build(), {"items": [1, 2]}, check=False)
    assert result.status is RunStatus.FAILED
    assert "bad item" in str(result.error)
    assert result.nodes["m"].attempts == 1


async def test_subworkflow_retry_retries_a_transient_child_failure() -> None:
    """``run_child_checked`` wraps every child failure in a NodeError, which is never
    retryable: ``retry:`` on a subworkflow/loop node can never take effect, even when the
    child failed with TransientError or NodeTimeout."""
    calls = {"n": 0}

    async def flaky(value: int) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("blip")
        return value

    child = Flow("child")
    child.output("y", child.transform("t", fn=flaky, inputs=child.input("x")))
    f = Flow("parent")
    x = f.input("x")
    f.output("out", f.subworkflow("sub", child, inputs={"x": x}, output="y",
                                  retry={"max_attempts": 2, "initial_delay": 0}))
    result = await Engine().run(f.build(), {"x": 5}, check=False)
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.outputs == {"out": 5}
    assert result.nodes["sub"].attempts == 2


def test_kind_limits_on_container_kinds_are_refused() -> None:
    """Container nodes hold no slot (so nesting can never deadlock): a limit on a container
    kind would be silently ignored, so it is refused; limit the leaf kinds, or use map's own
    ``concurrency``."""
    from plait import UsageError

    with pytest.raises(UsageError, match="subworkflow"):
        Engine(kind_limits={"subworkflow": 1})
    with pytest.raises(UsageError, match="unknown node kind 'nope'"):
        Engine(kind_limits={"nope": 1})
    Engine(kind_limits={"transform": 2})


async def test_before_node_modify_is_not_applied_twice_when_an_inline_node_retries() -> None:
    """Async nodes start every attempt from the original inputs; an inline node that fails is
    handed to ``_retry`` with the inputs *already modified* by before_node, and the task's
    attempt 2 runs before_node on them again."""
    seen: list[int] = []

    def flaky(value: int) -> int:
        seen.append(value)
        if len(seen) == 1:
            raise TransientError("blip")
        return value

    class AddOne(Hook):
        def before_node(self, call: NodeCall) -> Modify | Continue:
            if call.node_id != "t":
                return Continue()
            value = call.inputs["value"]
            assert isinstance(value, int)
            return Modify({"value": value + 1})

    f = Flow("modify")
    f.output("out", f.transform("t", fn=flaky, inline=True, inputs=f.input("x"),
                                retry={"max_attempts": 2, "initial_delay": 0}))
    result = await Engine(hooks=[AddOne()]).run(f.build(), {"x": 1})
    assert seen == [2, 2]
    assert result.outputs == {"out": 2}


async def test_a_value_replaced_after_an_error_is_reported_as_output(
        recorder: Recorder) -> None:
    """on_node_error -> Replace completes the node via ``_complete(..., None)``, which emits
    no NodeOutput: the stream's last word on the node is NodeFailed while its record and the
    run say completed (same for before_node -> Replace: no event at all)."""

    async def broken(value: int) -> int:
        raise RuntimeError("nope")

    class Fallback(Hook):
        def on_node_error(self, failure: NodeFailure) -> Replace:
            return Replace(-1)

    f = Flow("fallback")
    f.output("out", f.transform("t", fn=broken, inputs=f.input("x")))
    engine = Engine(hooks=[Fallback()])
    engine.subscribe(recorder)
    result = await engine.run(f.build(), {"x": 1})
    assert result.outputs == {"out": -1}
    assert result.nodes["t"].status is NodeStatus.COMPLETED
    last = [e for e in recorder.events if getattr(e, "node_id", None) == "t"][-1]
    assert isinstance(last, NodeOutput)
    assert last.value == -1


async def test_a_failing_hook_on_an_inline_node_fails_the_run_like_on_an_async_node(
        recorder: Recorder) -> None:
    """A before_node hook that raises is a node failure for async nodes (caught in
    ``_settle``) but escapes ``_pump`` for inline nodes: the run raises out of ``run()`` and
    RunStarted never gets its RunFinished."""

    class Broken(Hook):
        def before_node(self, call: NodeCall) -> Modify:
            raise RuntimeError("hook bug")

    async def async_id(value: int) -> int:
        return value

    def wf(inline: bool) -> Flow:
        f = Flow("hookbug")
        x = f.input("x")
        if inline:
            f.output("out", f.transform("t", expression="value", inputs=x))
        else:
            f.output("out", f.transform("t", fn=async_id, inputs=x))
        return f

    engine = Engine(hooks=[Broken()])
    engine.subscribe(recorder)
    async_result = await engine.run(wf(False).build(), {"x": 1}, check=False)
    assert async_result.status is RunStatus.FAILED
    recorder.events.clear()
    inline_result = await engine.run(wf(True).build(), {"x": 1}, check=False)
    assert inline_result.status is RunStatus.FAILED
    assert _pairs_ok(recorder.events)


async def test_missing_field_failure_is_preceded_by_node_started(recorder: Recorder) -> None:
    """``_pump`` fails a node whose input names a missing field with NodeFailed but no
    NodeStarted (scheduler.py, the gather_inputs except branch)."""
    f = Flow("field")
    x = f.input("x")
    a = f.transform("a", expression="{'p': value}", inputs=x)
    f.output("out", f.transform("b", expression="value", inputs=a["q"]))
    engine = Engine()
    engine.subscribe(recorder)
    result = await engine.run(f.build(), {"x": 1}, check=False)
    assert result.status is RunStatus.FAILED
    b_events = [type(e) for e in recorder.events if getattr(e, "node_id", None) == "b"]
    assert b_events[0] is NodeStarted
    assert NodeFailed in b_events


async def test_join_any_reason_prefers_upstream_failed(recorder: Recorder) -> None:
    """Pinned: with fail_fast off, a join-any node whose inputs were all skipped -- one by an
    untaken branch, one by a failure -- is skipped with reason upstream_failed, and a join-any
    node with one delivered input runs even though its other upstream failed."""

    def fails(value: int) -> int:
        raise RuntimeError("boom")

    f = Flow("joins")
    x = f.input("x")
    cond = f.condition("c", expression="value > 10", inputs=x)
    bad = f.transform("bad", fn=fails, inline=True, inputs=x)
    good = f.transform("good", expression="value", inputs=x)
    never = f.transform("never", expression="value", inputs=cond.on(True))
    f.output("r1", f.transform("j1", fn=lambda **kw: sorted(kw), inline=True,
                               inputs={"a": never, "b": bad}, join="any"))
    f.output("r2", f.transform("j2", fn=lambda **kw: sorted(kw), inline=True,
                               inputs={"a": good, "b": bad}, join="any"))
    engine = Engine()
    engine.subscribe(recorder)
    result = await engine.run(f.build(), {"x": 1}, fail_fast=False, check=False)
    assert result.nodes["never"].reason == "branch_not_taken"
    assert result.nodes["j1"].status is NodeStatus.SKIPPED
    assert result.nodes["j1"].reason == "upstream_failed"
    assert result.outputs == {"r2": ["a"]}


async def test_memory_optimized_keeps_inputs_for_a_retried_consumer() -> None:
    """Pinned: memory_optimized releases edge values as soon as a consumer gathers them; a
    consumer that is retried keeps its gathered inputs, and a value with two consumers is
    delivered to both (one edge value each)."""
    calls = {"n": 0}

    async def flaky(value: int) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("blip")
        return value * 10

    f = Flow("lean")
    x = f.input("x")
    a = f.transform("a", expression="value + 1", inputs=x)
    b = f.transform("b", fn=flaky, inputs=a, retry={"max_attempts": 2, "initial_delay": 0})
    c = f.transform("c", expression="value + 100", inputs=a)
    f.output("ob", b)
    f.output("oc", c)
    result = await Engine(profile="memory_optimized").run(f.build(), {"x": 1})
    assert result.outputs == {"ob": 20, "oc": 102}
    assert result.nodes["a"].output is None
    assert result.nodes["b"].attempts == 2


async def test_stream_ends_with_the_top_level_run_finished_after_child_runs() -> None:
    """Pinned: stream() does not stop at a child's RunFinished; the last event is the
    top-level one and the started/finished pairs match."""
    child = Flow("child")
    child.output("y", child.transform("t", expression="value * 2", inputs=child.input("x")))
    f = Flow("parent")
    x = f.input("x")
    f.output("out", f.subworkflow("sub", child, inputs={"x": x}, output="y"))
    events = [e async for e in Engine().stream(f.build(), {"x": 2})]
    assert isinstance(events[-1], RunFinished)
    assert not events[-1].path
    assert events[-1].outputs == {"out": 4}
    assert _pairs_ok(events)
    assert not any(isinstance(e, NodeCancelled) for e in events)


async def test_an_exceeded_budget_stops_the_run_even_without_fail_fast() -> None:
    """meter.py promises the meter 'stops the run cleanly with BudgetExceeded'; with
    fail_fast off, BudgetExceeded is just one node's failure (scheduler ``_fail``) and the
    independent branches keep running (and could keep spending)."""
    ran: list[str] = []

    def spend(value: int, ctx) -> int:  # type: ignore[no-untyped-def]
        ctx.meter.charge("tokens", 20)
        return value

    async def slow(value: int) -> int:
        for _ in range(3):
            await asyncio.sleep(0)
        return value

    def later(value: int) -> int:
        ran.append("later")
        return value

    f = Flow("budget", fail_fast=False, max_tokens=10)
    x = f.input("x")
    f.output("o1", f.code("spend", spend, inline=True, inputs=x))
    f.output("o2", f.transform("later", fn=later, inline=True,
                               inputs=f.transform("slow", fn=slow, inputs=x)))
    result = await Engine().run(f.build(), {"x": 1}, check=False)
    assert result.status is RunStatus.FAILED
    assert "budget" in str(result.error)
    assert ran == []
