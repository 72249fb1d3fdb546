"""``generate_workflow``: proposals checked by the engine, problems sent back, failures,
confidence and kind limits, the cache and the analytics log (FakeModel, no network)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from plait.apps import (
    CacheHit,
    GenerateOptions,
    GenerationFailed,
    GenerationStore,
    IterationChecked,
    IterationStarted,
    Progress,
    generate_workflow,
    spec_yaml,
)
from plait.errors import OutputInvalid, ProviderRejected, UsageError
from plait.llm import Capabilities, ModelRequest, ModelResponse, StreamEvent
from plait.nodes.defaults import Engine
from plait.nodes.loader import parse_spec
from plait.testing.fake_model import FakeModel
from plait.tools.defaults import default_tools

from .proposals import LLM_KIND, UNKNOWN_FUNCTION, VALID, reply

OBJECTIVE = "Shout the text back"
LARGE = Capabilities(tool_calling=True, json_mode=True, context_length=128_000)


@pytest.fixture
def engine() -> Engine:
    return Engine(tools=default_tools())


@pytest.fixture
def store(tmp_path: Path) -> GenerationStore:
    return GenerationStore(tmp_path / "generations")


async def test_a_valid_proposal_is_accepted_at_once(engine: Engine) -> None:
    model = FakeModel([reply()])
    events: list[Progress] = []
    generation = await generate_workflow(OBJECTIVE, engine=engine, model=model,
                                         on_progress=events.append)
    assert generation.iterations == 1
    assert generation.confidence == 0.9
    assert generation.rationale == "One function does it."
    assert generation.spec.name == "shout"
    assert not generation.cached
    assert engine.validate(generation.spec) == []
    request = model.requests[0]
    assert request.response_schema is not None
    system, user = request.messages
    assert "transform" in system.text
    assert "Node kinds" in system.text
    assert OBJECTIVE in user.text
    assert [type(e) for e in events] == [IterationStarted, IterationChecked]
    result = await engine.run(generation.spec, {"text": "hi"})
    assert result.outputs == {"result": "HI"}


async def test_the_file_written_is_an_ordinary_valid_workflow(engine: Engine) -> None:
    generation = await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([reply()]))
    text = spec_yaml(generation.spec, header=["Generated", "Objective: shout"])
    assert text.startswith("# Generated\n# Objective: shout\n")
    spec = parse_spec(text, source="out.yaml")
    assert spec.digest() == generation.spec.digest()
    assert engine.validate(spec) == []
    assert "from: $input.text" in text


async def test_problems_are_sent_back_and_the_correction_accepted(engine: Engine) -> None:
    model = FakeModel([UNKNOWN_FUNCTION, reply()], capabilities=LARGE)
    seen: list[IterationChecked] = []
    generation = await generate_workflow(
        OBJECTIVE, engine=engine, model=model,
        on_progress=lambda e: seen.append(e) if isinstance(e, IterationChecked) else None)
    assert generation.iterations == 2
    assert [bool(e.problems) for e in seen] == [True, False]
    second = model.requests[1].messages
    assert second[:2] == model.requests[0].messages  # the same instructions and objective
    assert second[2].role == "assistant"
    assert json.loads(second[2].text)["nodes"][0]["params"] == {"function": "shout_it"}
    assert second[3].role == "user"
    assert "shout_it" in second[3].text
    assert "[unknown_function]" in second[3].text
    assert "corrected" in second[3].text
    assert model.requests[0].seed != model.requests[1].seed


async def test_a_small_model_gets_the_problems_without_its_proposal(engine: Engine) -> None:
    model = FakeModel([UNKNOWN_FUNCTION, reply()])  # 4096 tokens of context
    generation = await generate_workflow(OBJECTIVE, engine=engine, model=model)
    assert generation.iterations == 2
    first, second = model.requests
    assert len(second.messages) == 3
    assert second.messages[:2] == first.messages
    assert "previous proposal" in second.messages[2].text
    assert "shout_it" in second.messages[2].text
    assert "optional:" in first.messages[0].text  # the compact catalogue
    big = FakeModel([reply()], capabilities=LARGE)
    await generate_workflow(OBJECTIVE, engine=engine, model=big)
    assert len(json.dumps(big.requests[0].response_schema)) > len(
        json.dumps(first.response_schema))  # room for more nodes


async def test_never_converging_fails_clearly(engine: Engine, store: GenerationStore) -> None:
    model = FakeModel([UNKNOWN_FUNCTION])
    with pytest.raises(GenerationFailed) as caught:
        await generate_workflow(OBJECTIVE, engine=engine, model=model, store=store,
                                options=GenerateOptions(max_iterations=3))
    err = caught.value
    assert err.code == "generation_failed"
    assert err.reason == "iterations"
    assert err.iterations == 3
    assert len(model.requests) == 3
    assert "no acceptable workflow after 3 iterations" in str(err)
    assert any("shout_it" in p.message for p in err.problems)
    assert err.rejected is not None
    assert err.rejected.is_file()
    kept = json.loads(err.rejected.read_text())
    assert [a["iteration"] for a in kept["attempts"]] == [1, 2, 3]
    last = kept["attempts"][-1]
    assert last["proposal"]["nodes"][0]["params"] == {"function": "shout_it"}
    assert last["problems"][0]["code"] == "unknown_function"
    assert str(err.rejected) in str(err)
    [entry], _ = store.entries()
    assert entry.valid is False
    assert entry.error == "generation_failed"
    assert entry.iterations == 3


async def test_a_reply_that_is_not_json_is_a_problem_to_send_back(engine: Engine) -> None:
    model = FakeModel(["Sure! Here is a workflow: nodes and edges", reply()])
    generation = await generate_workflow(OBJECTIVE, engine=engine, model=model)
    assert generation.iterations == 2
    assert "[malformed_json]" in model.requests[1].messages[-1].text


async def test_low_confidence_is_refused(engine: Engine) -> None:
    unsure = reply(confidence=0.2)
    with pytest.raises(GenerationFailed) as caught:
        await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([unsure]),
                                options=GenerateOptions(max_iterations=2, min_confidence=0.5))
    assert [p.code for p in caught.value.problems] == ["low_confidence"]
    assert "0.2 is below the required 0.5" in caught.value.problems[0].message
    accepted = await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([unsure]),
                                       options=GenerateOptions(min_confidence=0.1))
    assert accepted.confidence == 0.2


@pytest.mark.parametrize("confidence", [1.5, -0.1, "high", None])
async def test_confidence_must_be_a_number_from_0_to_1(engine: Engine,
                                                       confidence: object) -> None:
    with pytest.raises(GenerationFailed) as caught:
        await generate_workflow(OBJECTIVE, engine=engine,
                                model=FakeModel([reply(confidence=confidence)]),
                                options=GenerateOptions(max_iterations=1))
    assert [p.code for p in caught.value.problems] == ["invalid_confidence"]


async def test_a_disallowed_kind_is_refused(engine: Engine) -> None:
    options = GenerateOptions(max_iterations=1, allowed_kinds=("transform", "output"))
    model = FakeModel([LLM_KIND])
    with pytest.raises(GenerationFailed) as caught:
        await generate_workflow(OBJECTIVE, engine=engine, model=model, options=options)
    [problem] = caught.value.problems
    assert problem.code == "kind_not_allowed"
    assert problem.location == "nodes[0] ('upper').kind"
    schema = json.dumps(model.requests[0].response_schema)
    assert '"const": "transform"' in schema
    assert '"const": "llm"' not in schema
    assert "- llm:" not in model.requests[0].messages[0].text


async def test_a_disallowed_kind_inside_a_nested_workflow_is_refused(engine: Engine) -> None:
    child = {"name": "each", "inputs": {"item": {"type": "string"}},
             "nodes": [{"id": "ask", "kind": "llm", "params": {"prompt": "{{ value }}"}},
                       {"id": "out", "kind": "output", "params": {}}],
             "edges": [{"from": "$input.item", "to": "ask"}, {"from": "ask", "to": "out"}]}
    nested = reply(inputs={"items": {"type": "list"}}, nodes=[
        {"id": "upper", "kind": "map", "params": {"workflow": child, "output": "out"}},
        {"id": "result", "kind": "output", "params": {}}],
        edges=[{"from": "$input.items", "to": "upper"}, {"from": "upper", "to": "result"}])
    options = GenerateOptions(max_iterations=1, allowed_kinds=("map", "transform", "output"))
    with pytest.raises(GenerationFailed) as caught:
        await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([nested]),
                                options=options)
    assert [(p.code, p.location) for p in caught.value.problems] == [
        ("kind_not_allowed", "nodes[0] ('upper').params.workflow.nodes[0] ('ask').kind")]


async def test_loose_ends_are_problems(engine: Engine) -> None:
    loose = reply(inputs={"text": {"type": "string"}, "unused": {"type": "string"}},
                  nodes=[*VALID["nodes"], {"id": "lost", "kind": "transform",
                                           "params": {"expression": "1"}}])
    with pytest.raises(GenerationFailed) as caught:
        await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([loose]),
                                options=GenerateOptions(max_iterations=1))
    assert sorted(p.code for p in caught.value.problems) == ["unused_input", "unused_node"]


async def test_an_edge_from_a_bare_input_name_reads_that_input(engine: Engine) -> None:
    bare = reply(edges=[{"from": "text", "to": "upper"}, {"from": "upper", "to": "result"},
                        {"from": "upper", "to": "result"}])
    generation = await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([bare]))
    assert [(e.source, e.source_port) for e in generation.spec.edges] == [
        ("$input", "text"), ("upper", "output")]  # and the repeated edge is dropped


async def test_a_cache_hit_makes_no_model_call(engine: Engine, store: GenerationStore) -> None:
    first = await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([reply()]),
                                    store=store)
    again = FakeModel([])
    events: list[Progress] = []
    second = await generate_workflow(f"  {OBJECTIVE}  ", engine=engine, model=again,
                                     store=store, on_progress=events.append)
    assert again.requests == []
    assert second.cached
    assert second.spec == first.spec
    assert [type(e) for e in events] == [CacheHit]
    # another model, other kinds, a stricter bar or no cache: ask again
    other = FakeModel([reply()], name="mock:other")
    await generate_workflow(OBJECTIVE, engine=engine, model=other, store=store)
    assert len(other.requests) == 1
    fewer = FakeModel([reply()])
    await generate_workflow(OBJECTIVE, engine=engine, model=fewer, store=store,
                            options=GenerateOptions(allowed_kinds=("transform", "output")))
    assert len(fewer.requests) == 1
    strict = FakeModel([reply(confidence=0.95)])
    await generate_workflow(OBJECTIVE, engine=engine, model=strict, store=store,
                            options=GenerateOptions(min_confidence=0.95))
    assert len(strict.requests) == 1
    fresh = FakeModel([reply()])
    await generate_workflow(OBJECTIVE, engine=engine, model=fresh, store=store,
                            options=GenerateOptions(use_cache=False))
    assert len(fresh.requests) == 1


async def test_analytics_lines_are_written(engine: Engine, store: GenerationStore) -> None:
    await generate_workflow(OBJECTIVE, engine=engine,
                            model=FakeModel([UNKNOWN_FUNCTION, reply()], tokens_per_reply=7),
                            store=store)
    await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([]), store=store)
    lines = store.analytics_file.read_text().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) >= {"timestamp", "objective_hash", "model", "iterations", "valid",
                          "confidence", "tokens", "duration"}
    assert first["model"] == "mock:fake"
    assert first["iterations"] == 2
    assert first["valid"] is True
    assert first["confidence"] == 0.9
    assert first["tokens"] > 14
    assert OBJECTIVE not in lines[0]
    assert second["cached"] is True
    assert second["objective_hash"] == first["objective_hash"]
    stats = store.stats()
    assert stats.total.generations == 2
    assert stats.total.valid == 2
    assert stats.total.cached == 1
    assert stats.total.mean_iterations == 2


class _Slow:
    name = "mock:slow"
    capabilities = Capabilities()

    async def complete(self, request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        raise AssertionError("not used")
        yield  # pragma: no cover


async def test_the_timeout_ends_the_generation(engine: Engine, store: GenerationStore) -> None:
    with pytest.raises(GenerationFailed) as caught:
        await generate_workflow(OBJECTIVE, engine=engine, model=_Slow(), store=store,
                                options=GenerateOptions(timeout=0.05))
    assert caught.value.reason == "timeout"
    assert "0.05s timeout" in str(caught.value)
    [entry], _ = store.entries()
    assert entry.valid is False


class _Failing(_Slow):
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return await FakeModel([reply()]).complete(request)


async def test_a_cut_off_reply_is_retried(engine: Engine) -> None:
    model = _Failing(OutputInvalid("the reply is not complete JSON", provider="local"))
    generation = await generate_workflow(OBJECTIVE, engine=engine, model=model)
    assert generation.iterations == 2


async def test_a_model_that_cannot_be_reached_fails_at_once(engine: Engine,
                                                            store: GenerationStore) -> None:
    model = _Failing(ProviderRejected("invalid API key", provider="openai", status=401))
    with pytest.raises(ProviderRejected):
        await generate_workflow(OBJECTIVE, engine=engine, model=model, store=store)
    assert model.calls == 1
    [entry], _ = store.entries()
    assert entry.error == "provider_rejected"


@pytest.mark.parametrize(("options", "message"), [
    (GenerateOptions(allowed_kinds=("transform", "nope")), "unknown node kind 'nope'"),
    (GenerateOptions(max_iterations=0), "at least 1"),
    (GenerateOptions(min_confidence=2), "between 0 and 1"),
])
async def test_bad_options_are_usage_errors(engine: Engine, options: GenerateOptions,
                                            message: str) -> None:
    with pytest.raises(UsageError, match=message):
        await generate_workflow(OBJECTIVE, engine=engine, model=FakeModel([reply()]),
                                options=options)


async def test_an_empty_objective_is_a_usage_error(engine: Engine) -> None:
    with pytest.raises(UsageError, match="objective is empty"):
        await generate_workflow("  ", engine=engine, model=FakeModel([reply()]))
