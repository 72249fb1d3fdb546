"""Human in the loop: interrupts are returned values; the run waits, is stored, and resumes
with answers by interrupt id, across engines, in parallel branches and nested workflows."""

from __future__ import annotations

import asyncio

import pytest

from plait import Engine, Flow, Interrupt, NodeInterrupted, RunFinished
from plait.errors import AnswerInvalid, InterruptTimeout
from plait.graph.context import RunContext
from plait.graph.interrupts import interrupt_id
from plait.graph.memory import MemoryCheckpointStore
from plait.graph.state import NodeStatus
from plait.types import RunStatus

from .conftest import Recorder
from .durable_helpers import Starts


def approval(calls: list[str]) -> Flow:
    def ask(value: str) -> object:
        calls.append(value)
        return Interrupt(f"approve {value}?")

    flow = Flow("approval")
    x = flow.input("x", type="string")
    draft = flow.transform("draft", template="[{{ value }}]", inputs=x)
    approve = flow.transform("approve", fn=ask, inline=True, inputs=draft)
    flow.output("out", flow.transform("publish", template="{{ value }}!", inputs=approve))
    flow.output("other", flow.transform("independent", template="also {{ value }}", inputs=x))
    return flow


async def test_a_node_that_returns_an_interrupt_waits_and_resumes_with_the_answer(
        recorder: Recorder) -> None:
    calls: list[str] = []
    workflow = approval(calls).build()
    store = MemoryCheckpointStore()
    engine = Engine()
    engine.subscribe(recorder)
    first = await engine.run(workflow, {"x": "post"}, store=store)
    assert first.status is RunStatus.WAITING
    assert not first.ok
    assert first.outputs == {"other": "also post"}  # the rest of the graph ran
    assert first.nodes["approve"].status is NodeStatus.WAITING
    assert first.nodes["publish"].status is NodeStatus.PENDING
    [asked] = first.interrupts
    assert asked.prompt == "approve [post]?"
    assert asked.node_id == "approve"
    assert asked.id == interrupt_id(first.run_id, "approve", "0")
    interrupted = [e for e in recorder.top() if isinstance(e, NodeInterrupted)]
    assert [e.node_id for e in interrupted] == ["approve"]
    assert interrupted[0].interrupts[0]["id"] == asked.id
    finished = recorder.top()[-1]
    assert isinstance(finished, RunFinished)
    assert finished.status is RunStatus.WAITING
    record = await store.get_run(first.run_id)
    assert record is not None
    assert record.status is RunStatus.WAITING
    waiting = [cp for cp in await store.checkpoints(first.run_id) if cp.status == "waiting"]
    assert [cp.node_id for cp in waiting] == ["approve"]
    assert waiting[0].interrupts[0]["prompt"] == "approve [post]?"

    starts = Starts()
    result = await Engine().resume(first.run_id, store=store, workflow=workflow,
                                   answers={asked.id: "yes"}, on_event=starts)
    assert result.ok
    assert result.outputs == {"out": "yes!", "other": "also post"}
    assert set(starts.counts) == {"approve", "publish", "out"}
    assert calls == ["[post]", "[post]"]
    assert await store.answers(first.run_id) == {asked.id: "yes"}


async def test_interrupts_work_without_a_store() -> None:
    result = await Engine().run(approval([]).build(), {"x": "post"})
    assert result.status is RunStatus.WAITING
    assert [p.prompt for p in result.interrupts] == ["approve [post]?"]


async def test_a_waiting_run_without_answers_stays_waiting() -> None:
    calls: list[str] = []
    workflow = approval(calls).build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": "post"}, store=store)
    again = await Engine().resume(first.run_id, store=store, workflow=workflow)
    assert again.status is RunStatus.WAITING
    assert [p.id for p in again.interrupts] == [p.id for p in first.interrupts]
    assert calls == ["[post]"]  # not run again


async def test_answers_recorded_in_the_store_and_by_node_name() -> None:
    workflow = approval([]).build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": "a"}, store=store)
    await store.answer(first.run_id, first.interrupts[0].id, "stored")
    result = await Engine().resume(first.run_id, store=store, workflow=workflow)
    assert result.outputs["out"] == "stored!"

    second = await Engine().run(workflow, {"x": "b"}, store=store)
    result = await Engine().resume(second.run_id, store=store, workflow=workflow,
                                   answers={"approve": "by name"})
    assert result.outputs["out"] == "by name!"


async def test_an_unknown_answer_is_refused_and_nothing_is_recorded() -> None:
    workflow = approval([]).build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": "a"}, store=store)
    with pytest.raises(AnswerInvalid) as caught:
        await Engine().resume(first.run_id, store=store, workflow=workflow,
                              answers={"approve": "ok", "nope": 1, "draft": 2})
    assert [p.location for p in caught.value.problems] == ["nope", "draft"]
    assert await store.answers(first.run_id) == {}
    record = await store.get_run(first.run_id)
    assert record is not None
    assert record.status is RunStatus.WAITING


def parallel(calls: list[str]) -> Flow:
    def ask(name: str):  # type: ignore[no-untyped-def]
        def fn(value: object) -> object:
            calls.append(name)
            return Interrupt(f"{name}?", key=name)

        return fn

    flow = Flow("parallel")
    x = flow.input("x")
    left = flow.transform("left", fn=ask("left"), inline=True, inputs=x)
    right = flow.transform("right", fn=ask("right"), inputs=x)  # in a task
    flow.output("left_out", flow.transform("l2", template="L={{ value }}", inputs=left))
    flow.output("right_out", flow.transform("r2", template="R={{ value }}", inputs=right))
    flow.output("both", flow.transform("join", template="{{ l }}+{{ r }}",
                                       inputs={"l": left, "r": right}))
    return flow


async def test_parallel_interrupts_resume_independently_across_engines() -> None:
    calls: list[str] = []
    flow = parallel(calls)
    store = MemoryCheckpointStore()
    first = await Engine().run(flow.build(), {"x": 1}, store=store)
    ids = {p.key: p.id for p in first.interrupts}
    assert set(ids) == {"left", "right"}
    assert len(set(ids.values())) == 2

    # a new engine (a restarted process) with the same store answers one branch
    result = await Engine().resume(first.run_id, store=store, workflow=flow,
                                   answers={ids["right"]: "r"})
    assert result.status is RunStatus.WAITING
    assert result.outputs == {"right_out": "R=r"}
    assert [p.key for p in result.interrupts] == ["left"]
    assert calls == ["left", "right", "right"]

    result = await Engine().resume(first.run_id, store=store, workflow=flow.build(),
                                   answers={ids["left"]: "l"})
    assert result.ok
    assert result.outputs == {"left_out": "L=l", "right_out": "R=r", "both": "l+r"}
    assert calls == ["left", "right", "right", "left"]


async def test_a_node_with_two_interrupts_runs_again_only_when_both_are_answered() -> None:
    seen: list[dict[str, object]] = []

    def profile(value: object, ctx: RunContext) -> object:
        answers = ctx.answers()
        seen.append(answers)
        if {"name", "age"} <= answers.keys():
            return f"{answers['name']} ({answers['age']})"
        return [Interrupt("name?", key="name"),
                Interrupt("age?", key="age", schema={"type": "integer", "minimum": 0})]

    flow = Flow("profile")
    x = flow.input("x")
    flow.output("out", flow.code("ask", profile, inputs=x))
    workflow = flow.build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": 1}, store=store)
    ids = {p.key: p.id for p in first.interrupts}

    result = await Engine().resume(first.run_id, store=store, workflow=workflow,
                                   answers={ids["name"]: "Ada"})
    assert result.status is RunStatus.WAITING
    assert [p.key for p in result.interrupts] == ["age"]
    assert len(seen) == 1  # not re-run with one of two answers

    with pytest.raises(AnswerInvalid, match="integer"):
        await Engine().resume(first.run_id, store=store, workflow=workflow,
                              answers={"ask:age": "old"})
    record = await store.get_run(first.run_id)
    assert record is not None
    assert record.status is RunStatus.WAITING
    assert len(seen) == 1

    result = await Engine().resume(first.run_id, store=store, workflow=workflow,
                                   answers={"ask:age": 36})
    assert result.outputs == {"out": "Ada (36)"}
    assert seen == [{}, {"name": "Ada", "age": 36}]


async def test_a_timed_out_interrupt_takes_its_default_or_fails_its_node() -> None:
    def ask(value: object) -> object:
        return [Interrupt("soon?", key="soon", timeout=0.01, default="fallback"),
                Interrupt("later?", key="later", timeout=3600, default="never")]

    def strict(value: object) -> object:
        return Interrupt("now?", timeout=0.01)

    flow = Flow("timeouts", fail_fast=False)
    x = flow.input("x")
    flow.output("lenient_out", flow.transform("lenient", fn=ask, inline=True, inputs=x))
    flow.output("strict_out", flow.transform("strict", fn=strict, inline=True, inputs=x))
    workflow = flow.build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": 1}, store=store)
    await asyncio.sleep(0.02)
    result = await Engine().resume(first.run_id, store=store, workflow=workflow,
                                   answers={"lenient:later": "now"}, check=False)
    assert result.outputs == {"lenient_out": ["fallback", "now"]}
    assert result.status is RunStatus.FAILED
    assert result.nodes["strict"].code == InterruptTimeout.code
    answers = await store.answers(first.run_id)
    assert sorted(answers.values()) == ["fallback", "now"]


async def test_stable_ids_differ_per_call_site() -> None:
    assert interrupt_id("r", "a", "0") == interrupt_id("r", "a", "0")
    assert len({interrupt_id("r", "a", "0"), interrupt_id("r", "b", "0"),
                interrupt_id("r", "a", "1"), interrupt_id("s", "a", "0")}) == 4


async def test_bad_interrupt_lists_fail_the_node() -> None:
    flow = Flow("bad", fail_fast=False)
    x = flow.input("x")
    flow.output("twice_out", flow.transform(
        "twice", fn=lambda value: [Interrupt("a", key="k"), Interrupt("b", key="k")],
        inline=True, inputs=x))
    flow.output("mixed_out", flow.transform("mixed", fn=lambda value: [Interrupt("a"), 1],
                                        inline=True, inputs=x))
    result = await Engine().run(flow.build(), {"x": 1}, check=False)
    assert result.status is RunStatus.FAILED
    assert "two interrupts with key 'k'" in (result.nodes["twice"].error or "")
    assert "mixing" in (result.nodes["mixed"].error or "")


def confirm_child() -> Flow:
    child = Flow("confirm")
    v = child.input("v")
    child.output("res", child.node("confirm", "human_input", inputs=v,
                                   prompt="confirm {{ value }}?"))
    return child


async def test_interrupts_in_child_workflows_surface_through_their_container() -> None:
    flow = Flow("nested")
    x = flow.input("x")
    sub = flow.subworkflow("sub", confirm_child(), inputs={"v": x})
    items = flow.transform("items", expression="[1, 2]", inputs=x)
    each = flow.map("each", confirm_child(), items=items, item_input="v", output="res")
    flow.output("sub_out", sub["res"])
    flow.output("each_out", each)
    workflow = flow.build()
    store = MemoryCheckpointStore()
    first = await Engine().run(workflow, {"x": "it"}, store=store)
    assert first.status is RunStatus.WAITING
    assert sorted((p.path, p.prompt) for p in first.interrupts) == [
        (("each[0]",), "confirm 1?"), (("each[1]",), "confirm 2?"), (("sub",), "confirm it?")]
    waiting = {cp.node_id for cp in await store.checkpoints(first.run_id)
               if cp.status == "waiting"}
    assert waiting == {"sub", "each"}
    ids = {p.path[0]: p.id for p in first.interrupts}

    result = await Engine().resume(first.run_id, store=store,
                                   answers={ids["sub"]: "yes", ids["each[0]"]: "one"})
    assert result.outputs == {"sub_out": "yes"}
    assert [p.path for p in result.interrupts] == [("each[1]",)]
    result = await Engine().resume(first.run_id, store=store, answers={ids["each[1]"]: "two"})
    assert result.outputs == {"sub_out": "yes", "each_out": ["one", "two"]}


async def test_a_loop_asks_again_in_each_iteration() -> None:
    body = Flow("step")
    n = body.input("n", type="integer")
    body.output("n", body.node("ask", "human_input", inputs=n, prompt="n is {{ value }}; next?"))
    flow = Flow("counting")
    start = flow.input("start", type="integer")
    flow.output("out", flow.loop("count", body, max_iterations=5, until="n >= 2",
                                 inputs={"n": start})["n"])
    store = MemoryCheckpointStore()
    first = await Engine().run(flow.build(), {"start": 0}, store=store)
    assert [p.prompt for p in first.interrupts] == ["n is 0; next?"]
    second = await Engine().resume(first.run_id, store=store,
                                   answers={first.interrupts[0].id: 1})
    assert [p.prompt for p in second.interrupts] == ["n is 1; next?"]
    assert second.interrupts[0].path == ("count#2",)
    done = await Engine().resume(first.run_id, store=store,
                                 answers={second.interrupts[0].id: 2})
    assert done.outputs == {"out": 2}
