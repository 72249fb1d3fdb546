"""The scheduler's model test, made durable: a random DAG runs with a store, its checkpoints
are cut at a random point (a crash), and a new engine resumes it. The result is the
uninterrupted run's, and no node checkpointed as completed runs again."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from plait import Engine
from plait.graph.durability import NodeCheckpoint
from plait.graph.memory import MemoryCheckpointStore
from plait.graph.state import NodeStatus, RunResult

from .durable_helpers import truncated
from .test_scheduler_properties import GraphDraw, build, graphs, reference


async def _crash_and_resume(g: GraphDraw, log: list[int], cut: float, mode: str
                            ) -> tuple[RunResult, RunResult, list[NodeCheckpoint], list[int]]:
    workflow = build(g, log).build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {}, store=store, durability=mode)
    checkpoints = await store.checkpoints(first.run_id)
    kept = checkpoints[:round(cut * len(checkpoints))]
    crashed = await truncated(store, first.run_id, len(kept))
    ran_first = list(log)
    log.clear()
    result = await Engine().resume(first.run_id, store=crashed, workflow=workflow,
                                   durability=mode)
    return first, result, kept, ran_first


@settings(max_examples=120, deadline=None)
@given(graphs(), st.floats(0, 1), st.sampled_from(["sync", "async", "exit"]))
def test_a_cut_run_resumes_to_the_same_result(g: GraphDraw, cut: float, mode: str) -> None:
    log: list[int] = []
    first, result, kept, ran_first = asyncio.run(_crash_and_resume(g, log, cut, mode))
    expected = reference(g)
    assert set(ran_first) == expected
    done = {int(cp.node_id[1:]) for cp in kept if cp.status == "completed"}
    assert not done & set(log), "a checkpointed node ran again"
    assert sorted(log) == sorted(set(log)), "a node ran twice"
    assert set(log) == expected - done
    assert result.outputs == first.outputs
    records = result.nodes
    for node in range(g.n):
        status = records[f"n{node}"].status
        assert status is (NodeStatus.COMPLETED if node in expected else NodeStatus.SKIPPED)
