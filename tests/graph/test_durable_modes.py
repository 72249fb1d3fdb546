"""The three durability modes, store failures, the run log and lineage."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from plait import Engine, Event, Flow, NodeStarted, RunFinished
from plait.errors import CheckpointFailed, UsageError
from plait.graph.context import RunContext
from plait.graph.durability import LoggedEvent, NodeCheckpoint, RunRecord
from plait.graph.memory import MemoryCheckpointStore, MemoryRunLog
from plait.llm import ModelRegistry
from plait.testing.fake_model import FakeModel
from plait.types import RunStatus


class Watched(MemoryCheckpointStore):
    """Logs its writes into a shared timeline (with node starts from the event stream)."""

    def __init__(self, timeline: list[tuple[str, object]], *, fail_on: int = 0) -> None:
        super().__init__()
        self.timeline = timeline
        self.fail_on = fail_on

    async def create_run(self, run: RunRecord) -> None:
        self.timeline.append(("create", run.run_id))
        await super().create_run(run)

    async def append(self, checkpoints: Sequence[NodeCheckpoint]) -> None:
        await asyncio.sleep(0.001)  # a real store takes a while
        if self.fail_on and self.writes + 1 == self.fail_on:
            self.writes += 1
            raise OSError("disk full")
        self.timeline.append(("write", tuple(cp.node_id for cp in checkpoints)))
        await super().append(checkpoints)


def fan(probe_seen: list[object] | None = None) -> Flow:
    flow = Flow("fan")
    x = flow.input("x", type="integer")
    start = flow.transform("start", expression="value + 1", inputs=x)
    branches = {f"b{i}": flow.transform(f"b{i}", expression=f"value * {i}", inputs=start)
                for i in range(4)}
    total = flow.transform("total", fn=lambda **kw: sum(kw.values()), inline=True,
                           inputs=branches)
    flow.output("out", flow.transform("slow", fn=_sleepy, inputs=total))
    return flow


async def _sleepy(value: int) -> int:
    await asyncio.sleep(0.02)
    return value


def timeline_engine(timeline: list[tuple[str, object]]) -> Engine:
    engine = Engine()

    def sink(event: Event) -> None:
        if isinstance(event, NodeStarted) and not event.path:
            timeline.append(("start", event.node_id))
        elif isinstance(event, RunFinished) and not event.path:
            timeline.append(("finished", event.status))

    engine.subscribe(sink)
    return engine


async def test_sync_stores_each_node_before_its_successors_start() -> None:
    timeline: list[tuple[str, object]] = []
    store = Watched(timeline)
    workflow = fan().build()
    result = await timeline_engine(timeline).run(workflow, {"x": 1}, store=store)
    assert result.outputs == {"out": 12}
    written: set[str] = set()
    graph = workflow.graph
    for what, data in timeline:
        if what == "write":
            assert isinstance(data, tuple)
            written.update(data)
        elif what == "start":
            node = graph.nodes[graph.by_id[str(data)]]
            for e in node.in_edges:
                source = graph.edges[e].source
                if source >= 0:
                    assert graph.nodes[source].id in written, (data, timeline)
    # one write per scheduler turn, not per node: the four branches went together
    assert ("write", ("b0", "b1", "b2", "b3")) in timeline


async def test_async_writes_in_the_background_and_everything_by_the_end() -> None:
    timeline: list[tuple[str, object]] = []
    store = Watched(timeline)
    result = await timeline_engine(timeline).run(fan().build(), {"x": 1}, store=store,
                                                 durability="async")
    checkpoints = await store.checkpoints(result.run_id)
    assert {cp.node_id for cp in checkpoints} == {"start", "b0", "b1", "b2", "b3", "total",
                                                   "slow", "out"}
    assert store.writes < len(checkpoints)
    writes = [i for i, (what, _) in enumerate(timeline) if what == "write"]
    assert writes[0] < timeline.index(("start", "out"))  # it did not wait for the end
    assert timeline[-1][0] == "finished"


async def test_exit_writes_nothing_until_the_end() -> None:
    timeline: list[tuple[str, object]] = []
    store = Watched(timeline)
    seen: list[object] = []

    async def probe(value: int, ctx: RunContext) -> int:
        seen.append(await store.get_run(ctx.run_id))
        seen.append(len(await store.checkpoints(ctx.run_id)))
        return value

    flow = Flow("exit")
    x = flow.input("x", type="integer")
    a = flow.transform("a", expression="value + 1", inputs=x)
    flow.output("out", flow.code("probe", probe, inputs=a))
    result = await timeline_engine(timeline).run(flow.build(), {"x": 1}, store=store,
                                                 durability="exit")
    assert seen == [None, 0]
    assert [what for what, _ in timeline] == ["start", "start", "start", "create", "write",
                                              "finished"]
    record = await store.get_run(result.run_id)
    assert record is not None
    assert record.status is RunStatus.COMPLETED
    assert [cp.node_id for cp in await store.checkpoints(result.run_id)] == ["a", "probe", "out"]


async def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(UsageError, match="durability"):
        await Engine().run(fan().build(), {"x": 1}, store=MemoryCheckpointStore(),
                           durability="sometimes")


@pytest.mark.parametrize("mode", ["sync", "async", "exit"])
async def test_a_failing_store_fails_the_run(mode: str) -> None:
    timeline: list[tuple[str, object]] = []
    store = Watched(timeline, fail_on=1)
    result = await Engine().run(fan().build(), {"x": 1}, store=store, durability=mode,
                                check=False)
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, CheckpointFailed)
    assert result.error.code == "checkpoint_failed"
    assert "disk full" in str(result.error)
    if mode == "sync":  # the first write failed: nothing after `start` ran
        assert set(result.nodes) - {"start"} == {
            n for n, r in result.nodes.items() if r.status == "pending"}


# -- the run log ---------------------------------------------------------------------------

def nested() -> Flow:
    child = Flow("child")
    v = child.input("v", type="integer")
    child.output("doubled", child.transform("d", expression="value * 2", inputs=v))
    flow = Flow("nested")
    x = flow.input("x", type="integer")
    sub = flow.subworkflow("sub", child, inputs={"v": x})
    flow.output("out", flow.transform("after", expression="value + 1", inputs=sub["doubled"]))
    return flow


async def test_the_run_log_holds_every_event_in_order() -> None:
    seen: list[Event] = []
    log = MemoryRunLog()
    result = await Engine().run(nested().build(), {"x": 2}, run_log=log, on_event=seen.append)
    logged = await log.events(result.run_id)
    assert [e.seq for e in logged] == list(range(1, len(seen) + 1))
    assert [e.type for e in logged] == [type(e).__name__ for e in seen]
    assert {e.data["path"] == [] for e in logged} == {True, False}  # child events too
    assert logged[-1].type == "RunFinished"
    assert logged[-1].data["status"] == "completed"
    assert logged[-1].data["outputs"] == {"out": 5}


async def test_a_resumed_run_continues_its_log() -> None:
    flow = Flow("wait")
    x = flow.input("x")
    flow.output("out", flow.node("ask", "human_input", inputs=x, prompt="ok?"))
    store, log = MemoryCheckpointStore(), MemoryRunLog()
    first = await Engine().run(flow.build(), {"x": 1}, store=store, run_log=log)
    n = len(await log.events(first.run_id))
    await Engine().resume(first.run_id, store=store, run_log=log, answers={"ask": "yes"})
    logged = await log.events(first.run_id)
    assert [e.seq for e in logged] == list(range(1, len(logged) + 1))
    assert len(logged) > n
    assert [e.type for e in logged if e.type in ("RunStarted", "RunFinished")] == [
        "RunStarted", "RunFinished", "RunStarted", "RunFinished"]
    assert "NodeInterrupted" in [e.type for e in logged]


class GatedLog(MemoryRunLog):
    """A log that cannot write until the run's last node ran: a blocking log would hang."""

    def __init__(self, gate: asyncio.Event) -> None:
        super().__init__()
        self.gate = gate

    async def append_events(self, events: Sequence[LoggedEvent]) -> None:
        await self.gate.wait()
        await super().append_events(events)


async def test_a_slow_run_log_never_blocks_the_run() -> None:
    gate = asyncio.Event()

    def last(value: object) -> object:
        gate.set()
        return value

    flow = Flow("gated")
    x = flow.input("x")
    a = flow.transform("a", expression="value", inputs=x)
    b = flow.transform("b", fn=_sleepy, inputs=a)
    flow.output("out", flow.transform("last", fn=last, inline=True, inputs=b))
    log = GatedLog(gate)
    result = await asyncio.wait_for(Engine().run(flow.build(), {"x": 1}, run_log=log), 5)
    assert result.ok
    assert len(await log.events(result.run_id)) == 10


class BrokenLog(MemoryRunLog):
    async def append_events(self, events: Sequence[LoggedEvent]) -> None:
        raise OSError("log offline")


async def test_a_failing_run_log_does_not_fail_the_run(caplog: pytest.LogCaptureFixture) -> None:
    result = await Engine().run(nested().build(), {"x": 2}, run_log=BrokenLog())
    assert result.ok
    assert "log offline" in caplog.text


# -- lineage -------------------------------------------------------------------------------

async def test_nodes_attach_lineage_to_their_checkpoint() -> None:
    def scored(value: int, ctx: RunContext) -> int:
        ctx.lineage(model="rules:v2", prompt_hash="abc")
        ctx.lineage(version=3)
        return value * 2

    child = Flow("child")
    v = child.input("v", type="integer")
    child.output("res", child.code("inner", scored, inline=True, inputs=v))
    flow = Flow("lineage")
    x = flow.input("x", type="integer")
    top = flow.code("top", scored, inputs=x)
    flow.output("out", flow.subworkflow("sub", child, inputs={"v": top}))
    store = MemoryCheckpointStore()
    result = await Engine().run(flow.build(), {"x": 1}, store=store)
    lineage = {cp.node_id: dict(cp.lineage) for cp in await store.checkpoints(result.run_id)}
    assert lineage["top"] == {"model": "rules:v2", "prompt_hash": "abc", "version": 3}
    assert lineage["sub"] == {"children": {"sub/inner": {"model": "rules:v2",
                                                         "prompt_hash": "abc", "version": 3}}}


async def test_model_nodes_record_the_model_and_a_prompt_hash() -> None:
    models = ModelRegistry()
    models.register_model(FakeModel(["Paris", "Paris"]))
    engine = Engine(models=models)
    flow = Flow("ask")
    q = flow.input("q", type="string")
    flow.output("answer", flow.node("llm", "llm", inputs=q, model="mock:fake",
                                    prompt="Question: {{ value }}"))
    flow.output("agent_answer", flow.node("agent", "agent", inputs=q, model="mock:fake",
                                          prompt="Question: {{ value }}"))
    store = MemoryCheckpointStore()
    result = await engine.run(flow.build(engine), {"q": "capital?"}, store=store)
    lineage = {cp.node_id: cp.lineage for cp in await store.checkpoints(result.run_id)}
    assert lineage["llm"]["model"] == "mock:fake" == lineage["agent"]["model"]
    assert len(str(lineage["llm"]["prompt_hash"])) == 64
    other = await engine.run(flow.build(engine), {"q": "capital of Peru?"},
                             store=MemoryCheckpointStore(), check=False)
    assert other is not None
