"""Fork (time travel): a new run that keeps what happened before a node, with edits."""

from __future__ import annotations

import pytest

from plait import Branch, Engine, Flow
from plait.errors import UsageError
from plait.graph.memory import MemoryCheckpointStore
from plait.types import RunStatus

from .durable_helpers import Starts


def pipeline(calls: list[str]) -> Flow:
    def step(name: str):  # type: ignore[no-untyped-def]
        def fn(value: object) -> str:
            calls.append(name)
            return f"{value}>{name}"

        return fn

    flow = Flow("pipeline")
    x = flow.input("x", type="string")
    a = flow.transform("a", fn=step("a"), inline=True, inputs=x)
    b = flow.transform("b", fn=step("b"), inline=True, inputs=a)
    c = flow.transform("c", fn=step("c"), inputs=b)
    side = flow.transform("side", fn=step("side"), inline=True, inputs=x)
    route = flow.condition("route", expression="'long' if value | length > 12 else 'short'",
                           inputs=side)
    flow.output("long", flow.transform("is_long", template="long", inputs=route.on("long")))
    flow.output("short", flow.transform("is_short", template="short",
                                        inputs=route.on("short")))
    flow.output("out", c)
    return flow


async def test_fork_reruns_the_node_and_what_follows_it() -> None:
    calls: list[str] = []
    flow = pipeline(calls)
    store = MemoryCheckpointStore()
    first = await Engine().run(flow.build(), {"x": "x"}, store=store)
    calls.clear()
    starts = Starts()
    fork = await Engine().fork(first.run_id, store=store, from_node="b", workflow=flow,
                               on_event=starts)
    assert fork.run_id != first.run_id
    assert fork.outputs == first.outputs
    assert sorted(calls) == ["b", "c"]
    assert set(starts.counts) == {"b", "c", "out"}
    record = await store.get_run(fork.run_id)
    assert record is not None
    assert record.parent_id == first.run_id
    assert record.status is RunStatus.COMPLETED
    copied = [cp for cp in await store.checkpoints(fork.run_id) if "forked_from" in cp.lineage]
    assert {cp.node_id for cp in copied} == {"a", "side", "route", "is_short", "short"}
    original = await store.checkpoints(first.run_id)
    assert len(original) == len(await store.checkpoints(first.run_id))  # untouched


async def test_fork_with_edits_reruns_what_depends_on_the_edit() -> None:
    calls: list[str] = []
    flow = pipeline(calls)
    store = MemoryCheckpointStore()
    first = await Engine().run(flow.build(), {"x": "x"}, store=store)
    calls.clear()
    fork = await Engine().fork(first.run_id, store=store, from_node="c",
                               edits={"a": "EDITED", "side": "a much longer side"},
                               workflow=flow)
    assert fork.outputs == {"out": "EDITED>b>c", "long": "long"}  # route re-ran on the edit
    assert sorted(calls) == ["b", "c"]  # the edited nodes themselves do not run
    edited = {cp.node_id: cp for cp in await store.checkpoints(fork.run_id)
              if cp.lineage.get("edited")}
    assert edited["a"].output == "EDITED"

    # editing a condition's output keeps its branch; a Branch chooses another one
    fork = await Engine().fork(first.run_id, store=store, from_node="c",
                               edits={"route": Branch("long", "forced")}, workflow=flow)
    assert fork.outputs == {"out": "x>a>b>c", "long": "long"}


async def test_fork_refuses_unknown_nodes() -> None:
    flow = pipeline([])
    store = MemoryCheckpointStore()
    first = await Engine().run(flow.build(), {"x": "x"}, store=store)
    with pytest.raises(UsageError, match="nope"):
        await Engine().fork(first.run_id, store=store, from_node="nope", workflow=flow)
    with pytest.raises(UsageError, match="ghost"):
        await Engine().fork(first.run_id, store=store, from_node="b", edits={"ghost": 1},
                            workflow=flow)
