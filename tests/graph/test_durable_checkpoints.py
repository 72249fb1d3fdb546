"""Checkpoint-then-resume over the shape catalogue, and the rules of resume.

Every shape runs with a store; then, for every k, a store holding only the run record and the
first k checkpoints (what a process killed after its k-th checkpoint leaves) is resumed by a
new engine: the result is the uninterrupted run's, and no node checkpointed as completed in
those k starts again.
"""

from __future__ import annotations

import asyncio

import pytest

from plait import Engine, Flow, Hook, RunFinished, Skip, TransientError
from plait.errors import (
    OutputNotJSON,
    RecordExists,
    RunNotFound,
    UsageError,
    WorkflowMismatch,
)
from plait.graph.memory import MemoryCheckpointStore
from plait.graph.spec import Profile
from plait.graph.state import NodeStatus
from plait.types import RunStatus

from .durable_helpers import Starts, truncated
from .shapes import SHAPES, Shape


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
async def test_every_settled_top_level_node_is_checkpointed(shape: Shape) -> None:
    store = MemoryCheckpointStore()
    workflow = shape.build()
    result = await Engine(seed=7).run(workflow, shape.inputs, check=False, store=store)
    assert result.status.value == shape.status
    record = await store.get_run(result.run_id)
    assert record is not None
    assert record.status is result.status
    assert record.digest == workflow.graph.digest
    assert dict(record.outputs) == result.outputs
    checkpoints = await store.checkpoints(result.run_id)
    assert [cp.seq for cp in checkpoints] == list(range(1, len(checkpoints) + 1))
    nodes = result.nodes
    top_level = set(nodes)
    for cp in checkpoints:
        assert cp.node_id in top_level  # child runs' nodes are part of their container
        assert cp.status == nodes[cp.node_id].status.value
        if cp.status == "completed":
            assert cp.output == nodes[cp.node_id].output
    settled = {n for n, r in nodes.items()
               if r.status in (NodeStatus.COMPLETED, NodeStatus.SKIPPED, NodeStatus.FAILED)}
    assert {cp.node_id for cp in checkpoints} == settled


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
async def test_resume_from_every_prefix_of_the_checkpoints(shape: Shape) -> None:
    store = MemoryCheckpointStore()
    workflow = shape.build()
    first = await Engine(seed=7).run(workflow, shape.inputs, check=False, store=store)
    checkpoints = await store.checkpoints(first.run_id)
    for k in range(len(checkpoints) + 1):
        cut = await truncated(store, first.run_id, k)
        starts = Starts()
        result = await Engine(seed=7).resume(first.run_id, store=cut, workflow=workflow,
                                             check=False, on_event=starts)
        assert result.status is first.status, (k, result.error)
        if shape.outputs is not None:
            assert result.outputs == first.outputs, k
        done = {cp.node_id for cp in checkpoints[:k] if cp.status == "completed"}
        assert not done & set(starts.counts), f"re-ran {done & set(starts.counts)} (k={k})"
        if result.ok:  # every node completed exactly once over the two runs
            ran = {cp.node_id for cp in checkpoints[:k] if cp.status == "completed"}
            assert ran.isdisjoint(starts.counts)
        record = await cut.get_run(first.run_id)
        assert record is not None
        assert record.status is first.status


@pytest.mark.parametrize("shape", SHAPES[:6], ids=lambda s: s.name)
async def test_stream_checkpoints_too(shape: Shape) -> None:
    store = MemoryCheckpointStore()
    events = [e async for e in Engine().stream(shape.build(), shape.inputs, store=store)]
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    record = await store.get_run(finished.run_id)
    assert record is not None
    assert record.status is RunStatus.COMPLETED
    assert dict(record.outputs) == finished.outputs


def counted(calls: list[str], name: str, *, fail_first: bool = False):  # type: ignore[no-untyped-def]
    def fn(value: object) -> str:
        calls.append(name)
        if fail_first and calls.count(name) == 1:
            raise TransientError(f"{name} is down")
        return f"{value}>{name}"

    return fn


def chain(calls: list[str], *, fail_first: str = "", fail_fast: bool | None = None) -> Flow:
    flow = Flow("chain", fail_fast=fail_fast)
    x = flow.input("x", type="string")
    a = flow.transform("a", fn=counted(calls, "a"), inline=True, inputs=x)
    b = flow.transform("b", fn=counted(calls, "b", fail_first=fail_first == "b"), inputs=a)
    c = flow.transform("c", fn=counted(calls, "c"), inline=True, inputs=b)
    side = flow.transform("side", fn=counted(calls, "side"), inline=True, inputs=x)
    flow.output("out", c)
    flow.output("side_out", side)
    return flow


async def test_resuming_a_completed_run_returns_its_result_and_runs_nothing() -> None:
    calls: list[str] = []
    workflow = chain(calls).build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": "x"}, store=store)
    calls.clear()
    again = await Engine().resume(first.run_id, store=store)  # no workflow needed
    assert again.status is RunStatus.COMPLETED
    assert again.outputs == first.outputs == {"out": "x>a>b>c", "side_out": "x>side"}
    assert calls == []
    assert again.nodes["b"].output == "x>a>b"
    assert again.nodes["b"].kind == "transform"


@pytest.mark.parametrize("fail_fast", [True, False])
async def test_resuming_a_failed_run_retries_its_failed_and_pending_nodes(
        fail_fast: bool) -> None:
    calls: list[str] = []
    workflow = chain(calls, fail_first="b", fail_fast=fail_fast).build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": "x"}, store=store, check=False)
    assert first.status is RunStatus.FAILED
    assert first.nodes["b"].status is NodeStatus.FAILED
    record = await store.get_run(first.run_id)
    assert record is not None
    assert record.status is RunStatus.FAILED
    assert record.code == "node_failed"
    assert "b is down" in str(record.error)
    before = list(calls)
    result = await Engine().resume(first.run_id, store=store, workflow=workflow)
    assert result.outputs == {"out": "x>a>b>c", "side_out": "x>side"}
    again = calls[len(before):]
    assert "a" not in again
    assert again.count("b") == 1
    assert again.count("c") == 1
    assert again.count("side") == (1 if "side" not in before else 0)


async def test_a_non_json_output_fails_its_node_by_name() -> None:
    flow = Flow("objects")
    x = flow.input("x")
    flow.output("out", flow.transform("make", fn=lambda value: {"when": object()},
                                      inline=True, inputs=x))
    workflow = flow.build()
    assert (await Engine().run(workflow, {"x": 1})).ok  # fine without a store
    result = await Engine().run(workflow, {"x": 1}, store=MemoryCheckpointStore(),
                                check=False)
    assert result.status is RunStatus.FAILED
    assert result.nodes["make"].code == OutputNotJSON.code
    assert "'make'" in str(result.error)
    assert "when" in str(result.error)


async def test_tuples_are_stored_as_lists_and_nan_is_refused() -> None:
    flow = Flow("values")
    x = flow.input("x")
    flow.output("pair", flow.transform("twice", fn=lambda value: (value, 1e308 * value),
                                       inline=True, inputs=x))
    store = MemoryCheckpointStore()
    result = await Engine().run(flow.build(), {"x": 1}, store=store)
    record = await store.get_run(result.run_id)
    assert record is not None
    assert record.outputs == {"pair": [1, 1e308]}
    result = await Engine().run(flow.build(), {"x": 10},
                                store=MemoryCheckpointStore(), check=False)
    assert result.nodes["twice"].code == OutputNotJSON.code
    assert "not a finite number" in str(result.error)


async def test_inputs_must_be_json() -> None:
    flow = Flow("inputs")
    x = flow.input("x")
    flow.output("out", x)
    with pytest.raises(UsageError, match="inputs"):
        await Engine().run(flow.build(), {"x": object()}, store=MemoryCheckpointStore())


async def test_resume_checks_the_workflow_version() -> None:
    calls: list[str] = []
    store = MemoryCheckpointStore()
    first = await Engine().run(chain(calls, fail_first="b").build(), {"x": "x"}, store=store,
                               check=False)
    other = Flow("chain")
    x = other.input("x", type="string")
    other.output("out", other.transform("a", template="{{ value }}", inputs=x))
    with pytest.raises(WorkflowMismatch):
        await Engine().resume(first.run_id, store=store, workflow=other.build())
    with pytest.raises(UsageError, match="workflow="):
        await Engine().resume(first.run_id, store=store)  # its functions are unknown
    with pytest.raises(RunNotFound):
        await Engine().resume("no-such-run", store=store)


async def test_a_flow_is_accepted_as_the_workflow() -> None:
    calls: list[str] = []
    flow = chain(calls, fail_first="b")
    store = MemoryCheckpointStore()
    first = await Engine().run(flow.build(), {"x": "x"}, store=store, check=False)
    result = await Engine().resume(first.run_id, store=store, workflow=flow)
    assert result.outputs["out"] == "x>a>b>c"


async def test_a_run_id_is_stored_once() -> None:
    calls: list[str] = []
    store = MemoryCheckpointStore()
    await Engine().run(chain(calls).build(), {"x": "x"}, store=store, run_id="r1")
    with pytest.raises(RecordExists):
        await Engine().run(chain(calls).build(), {"x": "x"}, store=store, run_id="r1")


async def test_specs_without_functions_resume_from_the_store_alone() -> None:
    spec = {"name": "greet", "inputs": {"name": {"type": "string"}},
            "nodes": [{"id": "hello", "kind": "transform",
                       "params": {"template": "Hello {{ value }}"}},
                      {"id": "out", "kind": "output"}],
            "edges": [{"from": "$input.name", "to": "hello"}, {"from": "hello", "to": "out"}]}
    store = MemoryCheckpointStore()
    first = await Engine().run(spec, {"name": "Ada"}, store=store)
    cut = await truncated(store, first.run_id, 1)
    starts = Starts()
    result = await Engine().resume(first.run_id, store=cut, on_event=starts)
    assert result.outputs == {"out": "Hello Ada"}
    assert set(starts.counts) == {"out"}


async def test_a_hook_skip_is_restored_and_failure_skips_are_recomputed() -> None:
    class SkipSide(Hook):
        def before_node(self, call):  # type: ignore[no-untyped-def]
            from plait import Continue

            return Skip("not today") if call.node_id == "side" else Continue()

    calls: list[str] = []
    workflow = chain(calls, fail_first="b", fail_fast=False).build()
    store = MemoryCheckpointStore()
    first = await Engine(hooks=[SkipSide()]).run(workflow, {"x": "x"}, store=store,
                                                 check=False)
    assert first.nodes["side"].reason == "not today"
    assert first.nodes["c"].reason == "upstream_failed"
    starts = Starts()
    result = await Engine().resume(first.run_id, store=store, workflow=workflow,
                                   on_event=starts)  # this engine has no hook
    assert result.outputs == {"out": "x>a>b>c"}
    assert result.nodes["side"].status is NodeStatus.SKIPPED
    assert "side" not in starts.counts
    assert starts.counts["c"] == 1


async def test_outputs_released_by_the_memory_profile_are_still_checkpointed() -> None:
    calls: list[str] = []
    flow = chain(calls, fail_first="b")
    flow.settings = flow.settings.model_copy(update={"profile": Profile.MEMORY_OPTIMIZED})
    workflow = flow.build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": "x"}, store=store, check=False)
    result = await Engine().resume(first.run_id, store=store, workflow=workflow)
    assert result.outputs == {"out": "x>a>b>c", "side_out": "x>side"}


async def test_a_cancelled_run_keeps_its_checkpoints_and_resumes() -> None:
    calls: list[str] = []
    gate = asyncio.Event()
    started = asyncio.Event()

    async def slow(value: str) -> str:
        calls.append("slow")
        started.set()
        await gate.wait()
        return f"{value}>slow"

    flow = Flow("cancel")
    x = flow.input("x", type="string")
    a = flow.transform("a", fn=counted(calls, "a"), inline=True, inputs=x)
    flow.output("out", flow.transform("slow", fn=slow, inputs=a))
    workflow = flow.build()
    store = MemoryCheckpointStore()
    task = asyncio.ensure_future(Engine().run(workflow, {"x": "x"}, store=store, run_id="c1"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    record = await store.get_run("c1")
    assert record is not None
    assert record.status is RunStatus.CANCELLED
    assert [cp.node_id for cp in await store.checkpoints("c1")] == ["a"]
    gate.set()
    result = await Engine().resume("c1", store=store, workflow=workflow)
    assert result.outputs == {"out": "x>a>slow"}
    assert calls == ["a", "slow", "slow"]
