"""The llm and agent node kinds against an in-process fake model (no network)."""

from __future__ import annotations

import pytest

from plait import Engine, Flow, RunStatus, SpecError, TokenDelta, ToolCalled
from plait.errors import BudgetExceeded, OutputInvalid
from plait.llm import Capabilities, ModelRegistry, ToolCallPart
from plait.testing.fake_model import FakeModel
from plait.tools import ToolRegistry


def engine_with(model: FakeModel, tools: ToolRegistry | None = None) -> Engine:
    models = ModelRegistry()
    models.register_model(model)
    return Engine(models=models, tools=tools)


def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot: {reason}")


async def test_llm_node_renders_its_prompt_and_returns_text() -> None:
    model = FakeModel(["Paris"])
    f = Flow("ask")
    q = f.input("q", type="string")
    f.output("answer", f.node("llm", "llm", inputs=q, model="mock:fake",
                              system="Answer briefly.", prompt="Question: {{ value }}"))
    engine = engine_with(model)
    result = await engine.run(f.build(engine), {"q": "capital of France?"})
    assert result.outputs == {"answer": "Paris"}
    [request] = model.requests
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.messages[1].text == "Question: capital of France?"
    assert result.usage["tokens"] > 0


async def test_llm_node_streams_tokens_only_to_listeners() -> None:
    model = FakeModel(["one two three"])
    f = Flow("stream")
    f.output("out", f.node("llm", "llm", model="mock:fake", prompt="count"))
    engine = engine_with(model)
    events = [e async for e in engine.stream(f.build(engine))]
    tokens = "".join(e.text for e in events if isinstance(e, TokenDelta))
    assert tokens.split() == ["one", "two", "three"]


async def test_structured_output_is_repaired_once_then_validated() -> None:
    schema = {"type": "object", "required": ["city"],
              "properties": {"city": {"type": "string"}}}
    model = FakeModel(['{"town": "Paris"}', '{"city": "Paris"}'])
    f = Flow("structured")
    f.output("out", f.node("llm", "llm", model="mock:fake", prompt="where?",
                           output_schema=schema))
    engine = engine_with(model)
    result = await engine.run(f.build(engine))
    assert result.outputs == {"out": {"city": "Paris"}}
    assert "invalid" in model.requests[1].messages[-1].text
    bad = FakeModel(["not json"])
    engine = engine_with(bad)
    result = await engine.run(f.build(engine), check=False)
    assert isinstance(result.error.cause, OutputInvalid)  # type: ignore[union-attr]


async def test_agent_calls_tools_in_parallel_and_feeds_back_errors() -> None:
    model = FakeModel([
        [ToolCallPart(id="1", name="add", arguments={"a": 2, "b": 3}),
         ToolCallPart(id="2", name="explode", arguments={"reason": "x"})],
        "The sum is 5.",
    ])
    tools = ToolRegistry([add, explode])
    f = Flow("agent")
    q = f.input("q", type="string")
    f.output("answer", f.node("agent", "agent", inputs=q, model="mock:fake",
                              prompt="{{ value }}", tools=["add", "explode"]))
    engine = engine_with(model, tools)
    events = [e async for e in engine.stream(f.build(engine), {"q": "add 2 and 3"})]
    assert events[-1].outputs == {"answer": "The sum is 5."}  # type: ignore[attr-defined]
    called = {e.tool: e for e in events if isinstance(e, ToolCalled)}
    assert called["add"].result == 5
    assert "cannot: x" in (called["explode"].error or "")
    tool_message = model.requests[1].messages[-1]
    assert tool_message.role == "tool"
    results = {r.name: r for r in tool_message.tool_results}
    assert results["add"].content == "5.0"
    assert results["explode"].is_error
    assert [s.name for s in model.requests[0].tools] == ["add", "explode"]


async def test_agent_without_native_tools_uses_the_json_contract() -> None:
    model = FakeModel(['{"tool": "add", "arguments": {"a": 1, "b": 1}}', '{"answer": "2"}'],
                      name="mock:plain", capabilities=Capabilities(tool_calling=False))
    f = Flow("json_agent")
    f.output("answer", f.node("agent", "agent", model="mock:plain", prompt="1+1?",
                              tools=["add"]))
    engine = engine_with(model, ToolRegistry([add]))
    result = await engine.run(f.build(engine))
    assert result.outputs == {"answer": "2"}
    first = model.requests[0]
    assert first.tools == ()
    assert first.response_schema is not None
    assert "Reply with JSON only" in first.messages[0].text


async def test_agent_stops_at_max_steps_and_budgets_stop_runs() -> None:
    looping = FakeModel([ToolCallPart(id="1", name="add", arguments={"a": 1, "b": 1})])
    f = Flow("loops")
    f.output("answer", f.node("agent", "agent", model="mock:fake", prompt="go", tools=["add"],
                              max_steps=3))
    engine = engine_with(looping, ToolRegistry([add]))
    result = await engine.run(f.build(engine), check=False)
    assert result.status is RunStatus.FAILED
    assert "max_steps=3" in str(result.error)
    assert len(looping.requests) == 3
    spender = FakeModel([ToolCallPart(id="1", name="add", arguments={"a": 1, "b": 1})],
                        tokens_per_reply=400)
    engine = engine_with(spender, ToolRegistry([add]))
    result = await engine.run(f.build(engine), check=False, budget={"tokens": 1000})
    assert isinstance(result.error.cause, BudgetExceeded)  # type: ignore[union-attr]


def test_unknown_tools_and_providers_are_validation_problems() -> None:
    f = Flow("bad")
    f.node("a", "agent", model="nope:x", prompt="hi", tools=["missing"])
    with pytest.raises(SpecError) as err:
        f.build()
    codes = {p.code for p in err.value.problems}
    assert codes == {"unknown_provider", "unknown_tool"}
