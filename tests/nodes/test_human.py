"""The human_input node kind: ask, wait (status waiting), resume with a checked answer."""

from __future__ import annotations

import asyncio

import pytest

from plait import Engine, Flow, MemoryCheckpointStore, RunStatus, SpecError
from plait.errors import AnswerInvalid, InterruptTimeout
from plait.nodes.human import check_answer

SPEC = {
    "name": "review",
    "inputs": {"draft": {"type": "string"}, "author": {"type": "string"}},
    "nodes": [
        {"id": "ask", "kind": "human_input",
         "params": {"prompt": "Publish {{ value }} by {{ input.author }}?",
                    "answer_schema": {"type": "string", "enum": ["yes", "no"]}}},
        {"id": "decision", "kind": "output"},
    ],
    "edges": [{"from": "$input.draft", "to": "ask"}, {"from": "ask", "to": "decision"}],
}


async def test_it_asks_waits_and_returns_the_answer() -> None:
    store = MemoryCheckpointStore()
    first = await Engine().run(SPEC, {"draft": "the post", "author": "Ada"}, store=store)
    assert first.status is RunStatus.WAITING
    [asked] = first.interrupts
    assert asked.prompt == "Publish the post by Ada?"
    assert asked.schema == {"type": "string", "enum": ["yes", "no"]}

    with pytest.raises(AnswerInvalid, match="is not one of"):
        await Engine().resume(first.run_id, store=store, answers={asked.id: "maybe"})
    record = await store.get_run(first.run_id)
    assert record is not None
    assert record.status is RunStatus.WAITING  # a refused answer changes nothing

    result = await Engine().resume(first.run_id, store=store, answers={asked.id: "yes"})
    assert result.outputs == {"decision": "yes"}
    assert result.nodes["ask"].output == "yes"


def timed(on_timeout: str) -> Flow:
    flow = Flow("timed", fail_fast=False)
    x = flow.input("x")
    flow.output("answer", flow.node("ask", "human_input", inputs=x, prompt="{{ value }}?",
                                    answer_timeout=0.01, default="no reply",
                                    on_timeout=on_timeout))
    return flow


async def test_after_its_timeout_it_answers_the_default_or_fails() -> None:
    store = MemoryCheckpointStore()
    lenient = await Engine().run(timed("default").build(), {"x": "q"}, store=store)
    strict = await Engine().run(timed("fail").build(), {"x": "q"}, store=store)
    await asyncio.sleep(0.02)
    result = await Engine().resume(lenient.run_id, store=store)
    assert result.outputs == {"answer": "no reply"}
    result = await Engine().resume(strict.run_id, store=store, check=False)
    assert result.status is RunStatus.FAILED
    assert result.nodes["ask"].code == InterruptTimeout.code


async def test_an_answer_before_the_timeout_wins() -> None:
    store = MemoryCheckpointStore()
    first = await Engine().run(timed("fail").build(), {"x": "q"}, store=store)
    await asyncio.sleep(0.02)
    result = await Engine().resume(first.run_id, store=store, answers={"ask": "here"})
    assert result.outputs == {"answer": "here"}


def test_its_schema_and_default_are_checked_when_the_workflow_is_built() -> None:
    flow = Flow("bad")
    x = flow.input("x")
    flow.output("a", flow.node("ask", "human_input", inputs=x, prompt="?",
                               answer_schema={"type": "nonsense"}))
    flow.output("b", flow.node("ask2", "human_input", inputs=x, prompt="?",
                               answer_schema={"type": "integer"}, answer_timeout=5,
                               default="soon"))
    with pytest.raises(SpecError) as caught:
        flow.build()
    assert {p.location.rsplit(".", 1)[-1] for p in caught.value.problems} == {
        "answer_schema", "default"}


def test_check_answer_lists_every_problem() -> None:
    schema = {"type": "object", "required": ["a", "b"],
              "properties": {"a": {"type": "integer"}}}
    assert check_answer(schema, {"a": 1, "b": 2}) == []
    problems = check_answer(schema, {"a": "x"})
    assert len(problems) == 2
