"""Cancellation, circuit breakers, readiness without barriers, limits, profiles, run_sync."""

from __future__ import annotations

import asyncio

import pytest

from plait import Engine, Flow, NodeFailed, RunFinished, RunStatus
from plait.errors import CircuitOpenError, InputError, RunFailed, SyncInAsyncError, UsageError
from plait.graph.breaker import BreakerConfig, BreakerRegistry, BreakerState
from plait.graph.state import NodeStatus

from .conftest import Recorder


async def test_cancellation_mid_run_cancels_inflight_nodes(engine: Engine,
                                                           recorder: Recorder) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def wait_forever(value: int) -> int:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return value

    f = Flow("cancel")
    x = f.input("x")
    f.output("out", f.transform("slow", fn=wait_forever, inputs=x))
    engine.subscribe(recorder)
    task = asyncio.create_task(engine.run(f.build(), {"x": 1}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()
    finished = recorder.top()[-1]
    assert isinstance(finished, RunFinished)
    assert finished.status is RunStatus.CANCELLED
    assert [type(e).__name__ for e in recorder.top()][-2:] == ["NodeCancelled", "RunFinished"]


async def test_leaving_stream_early_cancels_the_run(engine: Engine) -> None:
    cancelled = asyncio.Event()

    async def wait_forever(value: int) -> int:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return value

    f = Flow("leave")
    x = f.input("x")
    f.output("out", f.transform("slow", fn=wait_forever, inputs=x))
    async for event in engine.stream(f.build(), {"x": 1}):
        if type(event).__name__ == "NodeStarted":
            break
    # the abandoned generator is finalised by the loop's asyncgen hook, which cancels the run
    await asyncio.wait_for(cancelled.wait(), timeout=5)


def test_circuit_breaker_states_with_a_fake_clock() -> None:
    now = [0.0]
    registry = BreakerRegistry(BreakerConfig(failure_threshold=2, recovery_timeout=10),
                               clock=lambda: now[0])
    breaker = registry.get("provider")
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    now[0] = 11
    breaker.before_call()  # the one trial call
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # only one trial at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    now[0] = 22
    breaker.before_call()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


async def test_circuit_opens_across_runs_and_fails_fast() -> None:
    engine = Engine(breaker=BreakerConfig(failure_threshold=2, recovery_timeout=60))
    calls = {"n": 0}

    def down(value: int) -> int:
        calls["n"] += 1
        raise ConnectionError("provider down")

    f = Flow("breaker")
    x = f.input("x")
    f.output("out", f.transform("call", fn=down, inline=True, inputs=x, breaker="provider-a"))
    wf = f.build()
    for _ in range(2):
        result = await engine.run(wf, {"x": 1}, check=False)
        assert result.nodes["call"].code == "node_failed"
    result = await engine.run(wf, {"x": 1}, check=False)
    assert result.nodes["call"].code == CircuitOpenError.code
    assert calls["n"] == 2  # the open circuit refused the third call
    assert engine.runtime.breakers.states() == {"provider-a": BreakerState.OPEN}


async def test_a_slow_branch_never_holds_back_a_fast_one(engine: Engine) -> None:
    """With a superstep barrier, 'fast2' could not run before 'slow' ends: it would deadlock."""
    gate = asyncio.Event()

    async def slow(value: int) -> int:
        await asyncio.wait_for(gate.wait(), timeout=5)
        return value

    async def fast(value: int) -> int:
        return value

    async def opener(value: int) -> int:
        gate.set()
        return value

    f = Flow("no_barrier")
    x = f.input("x")
    s = f.transform("slow", fn=slow, inputs=x)
    a = f.transform("fast1", fn=fast, inputs=x)
    b = f.transform("fast2", fn=fast, inputs=a)
    c = f.transform("fast3", fn=opener, inputs=b)
    f.output("slow_out", s)
    f.output("fast_out", c)
    result = await engine.run(f.build(), {"x": 1})
    assert result.outputs == {"slow_out": 1, "fast_out": 1}


async def test_global_limit_bounds_concurrency() -> None:
    engine = Engine(max_concurrency=3)
    running = {"now": 0, "peak": 0}

    async def work(value: int) -> int:
        running["now"] += 1
        running["peak"] = max(running["peak"], running["now"])
        await asyncio.sleep(0.005)
        running["now"] -= 1
        return value

    f = Flow("limited")
    x = f.input("x")
    for i in range(10):
        f.output(f"o{i}", f.transform(f"w{i}", fn=work, inputs=x))
    await engine.run(f.build(), {"x": 1})
    assert running["peak"] == 3


async def test_kind_limit_bounds_one_kind_only() -> None:
    engine = Engine(kind_limits={"code": 2})
    running = {"code": 0, "code_peak": 0, "transform": 0, "transform_peak": 0}

    def tracked(kind: str):
        async def work(value: int) -> int:
            running[kind] += 1
            running[f"{kind}_peak"] = max(running[f"{kind}_peak"], running[kind])
            await asyncio.sleep(0.005)
            running[kind] -= 1
            return value

        return work

    f = Flow("kinds")
    x = f.input("x")
    for i in range(6):
        f.output(f"c{i}", f.code(f"code{i}", tracked("code"), inputs=x))
        f.output(f"t{i}", f.transform(f"tr{i}", fn=tracked("transform"), inputs=x))
    await engine.run(f.build(), {"x": 1})
    assert running["code_peak"] == 2
    assert running["transform_peak"] == 6


async def test_memory_optimized_profile_releases_intermediate_outputs() -> None:
    f = Flow("release")
    x = f.input("x")
    a = f.transform("a", expression="value + 1", inputs=x)
    f.output("out", f.transform("b", expression="value + 1", inputs=a))
    lean = await Engine(profile="memory_optimized").run(f.build(), {"x": 1})
    full = await Engine(profile="high_throughput").run(f.build(), {"x": 1})
    assert lean.outputs == full.outputs == {"out": 3}
    assert lean.nodes["a"].output is None
    assert full.nodes["a"].output == 2


def test_unknown_profile_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown profile 'fastest'"):
        Engine(profile="fastest")


async def test_run_sync_inside_a_loop_fails_clearly(engine: Engine) -> None:
    f = Flow("sync")
    x = f.input("x")
    f.output("out", f.transform("t", expression="value", inputs=x))
    with pytest.raises(SyncInAsyncError, match=r"await engine\.run"):
        engine.run_sync(f.build(), {"x": 1})


def test_run_sync_outside_a_loop_works_repeatedly(engine: Engine) -> None:
    f = Flow("sync")
    x = f.input("x")
    f.output("out", f.transform("t", fn=lambda value: value * 3, inputs=x))
    wf = f.build()
    assert engine.run_sync(wf, {"x": 2}).outputs == {"out": 6}
    assert engine.run_sync(wf, {"x": 3}).outputs == {"out": 9}


async def test_inputs_are_checked_all_at_once(engine: Engine) -> None:
    f = Flow("inputs")
    a = f.input("a", type="integer")
    b = f.input("b", type="string")
    f.output("out", f.transform("t", template="{{ a }}{{ b }}", inputs={"a": a, "b": b}))
    with pytest.raises(InputError) as err:
        await engine.run(f.build(), {"a": "x", "zzz": 1})
    codes = sorted(p.code for p in err.value.problems)
    assert codes == ["missing_input", "type_mismatch", "unknown_input"]


async def test_failed_run_raises_with_partial_result(engine: Engine) -> None:
    def boom(value: int) -> int:
        raise RuntimeError("kaput")

    f = Flow("raises", fail_fast=False)
    x = f.input("x")
    f.output("ok", f.transform("fine", expression="value", inputs=x))
    f.output("bad", f.transform("boom", fn=boom, inputs=x))
    with pytest.raises(RunFailed, match="node 'boom' failed: RuntimeError: kaput") as err:
        await engine.run(f.build(), {"x": 1})
    assert err.value.result.outputs == {"ok": 1}
    assert err.value.result.nodes["boom"].status is NodeStatus.FAILED


async def test_missing_field_of_a_mapping_output_fails_the_consumer(engine: Engine,
                                                                     recorder: Recorder) -> None:
    f = Flow("fields")
    x = f.input("x")
    m = f.transform("m", fn=lambda value: {"a": value}, inline=True, inputs=x)
    f.output("out", f.transform("use", expression="value", inputs=m["nope"]))
    engine.subscribe(recorder)
    result = await engine.run(f.build(), {"x": 1}, check=False)
    assert result.nodes["use"].status is NodeStatus.FAILED
    assert "has no such field" in (result.nodes["use"].error or "")
    assert any(isinstance(e, NodeFailed) and e.node_id == "use" for e in recorder.events)


async def test_spec_settings_choose_profile_and_per_run_limit() -> None:
    running = {"now": 0, "peak": 0}

    async def work(value: int) -> int:
        running["now"] += 1
        running["peak"] = max(running["peak"], running["now"])
        await asyncio.sleep(0.005)
        running["now"] -= 1
        return value

    f = Flow("settings", profile="memory_optimized", max_concurrency=2)
    x = f.input("x")
    a = f.transform("a", expression="value + 1", inputs=x)
    for i in range(5):
        f.output(f"o{i}", f.transform(f"w{i}", fn=work, inputs=a))
    result = await Engine(profile="high_throughput").run(f.build(), {"x": 1})
    assert running["peak"] == 2
    assert result.nodes["a"].output is None  # memory_optimized released it
    assert result.outputs["o0"] == 2


async def test_budget_stops_the_run_cleanly() -> None:
    from plait.errors import BudgetExceeded

    async def spend(value: int, ctx) -> int:  # type: ignore[no-untyped-def]
        ctx.meter.charge("tokens", 400)
        return value

    f = Flow("budget", max_tokens=1000)
    x = f.input("x")
    prev = x
    for i in range(4):
        prev = f.code(f"step{i}", spend, inputs=prev)
    f.output("out", prev)
    wf = f.build()
    result = await Engine().run(wf, {"x": 1}, check=False)
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error.cause, BudgetExceeded)  # type: ignore[union-attr]
    assert result.usage == {"tokens": 1200}
    assert result.nodes["step3"].status is NodeStatus.PENDING
    ok = await Engine().run(wf, {"x": 1}, budget={"tokens": 5000})
    assert ok.usage == {"tokens": 1600}
