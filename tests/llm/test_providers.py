"""Every provider against the mock LLM server: completions, streams, tool calls, a tool
result sent back, the structured-output request, and each fault mapped onto the error tree."""

from __future__ import annotations

import asyncio
import logging

import pytest

from plait.errors import (
    ModelError,
    OutputInvalid,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)
from plait.llm import (
    Finished,
    Message,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    collect,
)
from plait.testing import Fault, Reply, ToolCall

from .conftest import FAST_TIMEOUT, KEY, Case, calls_to, serving

ADD = ToolSpec(name="add", description="Add two integers.", parameters={
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"]})
ASK = ModelRequest(messages=(Message.system("You are terse."), Message.user("Say hello.")))
WITH_TOOLS = ModelRequest(messages=ASK.messages, tools=(ADD,))


async def events(model: object, request: ModelRequest) -> list[StreamEvent]:
    return [e async for e in model.stream(request)]  # type: ignore[attr-defined]


async def test_complete_returns_text_usage_and_finish_reason(case: Case) -> None:
    async with serving(case, ["Hello there, friend."]) as (_server, model):
        response = await model.complete(ASK)
    assert response.text == "Hello there, friend."
    assert response.model == f"{model.name}"
    assert model.name.endswith(":mock")
    assert response.finish_reason == "stop"
    assert response.usage.output_tokens > 0
    assert response.message.role == "assistant"


async def test_stream_deltas_join_to_the_final_text_with_usage(case: Case) -> None:
    async with serving(case, ["one two three four five"]) as (_server, model):
        received = await events(model, ASK)
    deltas = [e for e in received if isinstance(e, TextDelta)]
    assert len(deltas) >= 5
    assert isinstance(received[-1], Finished)
    assert sum(isinstance(e, Finished) for e in received) == 1
    response = received[-1].response
    assert "".join(d.text for d in deltas) == response.text == "one two three four five"
    assert response.usage.output_tokens == 5
    assert response.finish_reason == "stop"


async def test_collect_gives_the_streamed_response(case: Case) -> None:
    async with serving(case, ["collected reply"]) as (_server, model):
        response = await collect(model.stream(ASK))
    assert response.text == "collected reply"


async def test_a_stream_can_be_left_early(case: Case) -> None:
    async with serving(case, ["a b c d e f g h"]) as (_server, model):
        stream = model.stream(ASK)
        first = await anext(stream)  # type: ignore[call-overload]
        await stream.aclose()  # type: ignore[attr-defined]
        again = await model.complete(ASK)  # the connection pool is still usable
    assert first == TextDelta(text="a")
    assert again.text.startswith("mock reply")


def test_a_model_serves_one_event_loop_after_another(case: Case) -> None:
    async def twice() -> ModelResponse:
        async with serving(case, ["first", "second"]) as (_server, model):
            await model.complete(ASK)
            assert asyncio.get_running_loop()
            return await model.complete(ASK)

    assert asyncio.run(twice()).text == "second"
    assert asyncio.run(twice()).text == "second"


# --------------------------------------------------------------------------- tool calls


def _calls(response: ModelResponse) -> list[tuple[str, object]]:
    return [(c.name, c.arguments) for c in response.message.tool_calls]


async def test_a_tool_call_reply_has_parsed_arguments(tool_case: Case) -> None:
    reply = Reply.calling(ToolCall("add", {"a": 2, "b": 40}))
    async with serving(tool_case, [reply]) as (server, model):
        response = await model.complete(WITH_TOOLS)
    assert _calls(response) == [("add", {"a": 2, "b": 40})]
    assert response.finish_reason == "tool_calls"
    assert response.message.tool_calls[0].id
    assert calls_to(server, tool_case)  # the request arrived where it should
    assert server.requests[-1].tools == ("add",)


async def test_parallel_tool_calls_stream_as_deltas(tool_case: Case) -> None:
    reply = Reply.calling(ToolCall("add", {"a": 1, "b": 2}), ToolCall("add", {"a": 3, "b": 4}))
    async with serving(tool_case, [reply]) as (_server, model):
        received = await events(model, WITH_TOOLS)
    assert any(isinstance(e, ToolCallDelta) for e in received)
    final = received[-1]
    assert isinstance(final, Finished)
    assert _calls(final.response) == [("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})]
    ids = [c.id for c in final.response.message.tool_calls]
    assert len(set(ids)) == 2
    assert final.response.finish_reason == "tool_calls"


async def test_multi_turn_sends_the_tool_call_and_its_result_back(case: Case) -> None:
    call = ToolCallPart(id="call_add_1", name="add", arguments={"a": 2, "b": 40})
    request = ModelRequest(tools=(ADD,) if case.tools else (), messages=(
        Message.system("Use tools."), Message.user("What is 2 + 40?"),
        Message.assistant("", call),
        Message.tool(ToolResultPart(call_id="call_add_1", name="add", content="42")),
    ))
    async with serving(case, ["It is 42."]) as (server, model):
        response = await model.complete(request)
    assert response.text == "It is 42."
    seen = server.requests[-1]
    assert "42" in seen.prompt
    if case.tools:
        roles = [m.role for m in seen.messages]
        assert roles[:2] == ["system", "user"]
        assistant = next(m for m in seen.messages if m.tool_calls)
        assert assistant.tool_calls[0].name == "add"
        assert dict(assistant.tool_calls[0].arguments) == {"a": 2, "b": 40}
        result = seen.tool_results[0]
        assert "42" in result.text  # Gemini's function response is {"result": "42"}
        assert result.tool_call_id in ("call_add_1", None)
        assert result.tool_call_id == "call_add_1" or result.name == "add"


async def test_structured_output_sends_the_schema(case: Case) -> None:
    schema = {"title": "Answer", "type": "object",
              "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    request = ModelRequest(messages=ASK.messages, response_schema=schema)
    async with serving(case, ['{"answer": 42}']) as (server, model):
        response = await model.complete(request)
    assert response.text == '{"answer": 42}'
    assert case.schema_of(calls_to(server, case)[-1]) == schema


# --------------------------------------------------------------------------- faults

MODES = ["complete", "stream"]


async def _call(model: object, mode: str) -> ModelResponse:
    if mode == "complete":
        return await model.complete(ASK)  # type: ignore[attr-defined, no-any-return]
    return await collect(model.stream(ASK))  # type: ignore[attr-defined]


async def _fails(case: Case, fault: Fault, mode: str, *,
                 timeout: float = 10.0) -> tuple[ModelError, int]:
    """The error the fault raises, and how many calls reached the server."""
    script = ["one two three four five six seven"]
    async with serving(case, script, faults=[fault], timeout=timeout) as (server, model):
        with pytest.raises(ModelError) as caught:
            await _call(model, mode)
        return caught.value, len(calls_to(server, case))


@pytest.mark.parametrize("mode", MODES)
async def test_429_is_rate_limited_with_retry_after(case: Case, mode: str) -> None:
    error, calls = await _fails(case, Fault.rate_limit(retry_after=2.5), mode)
    assert isinstance(error, RateLimited)
    assert error.retryable
    assert error.status == 429
    assert error.retry_after == pytest.approx(2.5)
    assert "rate limit" in str(error)
    assert calls == 1  # the SDKs' own retries are off: plait's policies decide


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_is_provider_unavailable(case: Case, mode: str, status: int) -> None:
    error, calls = await _fails(case, Fault.error(status), mode)
    assert isinstance(error, ProviderUnavailable)
    assert error.retryable
    assert error.status == status
    assert calls == 1


@pytest.mark.parametrize(("status", "mode"), [
    (400, "complete"), (401, "stream"), (403, "complete"), (404, "stream"), (422, "complete")])
async def test_4xx_is_provider_rejected_and_quotes_the_provider(case: Case, status: int,
                                                               mode: str) -> None:
    error, _ = await _fails(case, Fault.error(status, f"mock says no ({status})"), mode)
    assert isinstance(error, ProviderRejected)
    assert not error.retryable
    assert error.status == status
    assert f"mock says no ({status})" in str(error)


@pytest.mark.parametrize("mode", MODES)
async def test_a_timeout_is_provider_unavailable(case: Case, mode: str) -> None:
    error, _ = await _fails(case, Fault.timeout(), mode, timeout=FAST_TIMEOUT)
    assert isinstance(error, ProviderUnavailable)
    assert "timed out" in str(error)


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_json_is_output_invalid(case: Case, mode: str) -> None:
    error, _ = await _fails(case, Fault.malformed_json(), mode)
    assert isinstance(error, OutputInvalid)


@pytest.mark.parametrize("mode", MODES)
async def test_a_cut_off_reply_is_provider_unavailable(case: Case, mode: str) -> None:
    error, _ = await _fails(case, Fault.cut_stream(after=2), mode)
    assert isinstance(error, ProviderUnavailable)


async def test_a_stream_cut_off_after_some_text_fails_after_the_text(case: Case) -> None:
    async with serving(case, ["one two three four five six"],
                       faults=[Fault.cut_stream(after=3)]) as (_server, model):
        received: list[StreamEvent] = []

        async def drain() -> None:
            async for event in model.stream(ASK):
                received.append(event)

        with pytest.raises(ProviderUnavailable):
            await drain()
    assert not any(isinstance(e, Finished) for e in received)


@pytest.mark.parametrize("mode", MODES)
async def test_an_html_page_instead_of_json_is_provider_unavailable(case: Case,
                                                                   mode: str) -> None:
    error, _ = await _fails(case, Fault.wrong_content_type(), mode)
    assert isinstance(error, ProviderUnavailable), error


async def test_the_key_never_appears_in_errors_or_reprs(case: Case) -> None:
    if not case.keyed:
        pytest.skip("no key to leak")
    error, _ = await _fails(case, Fault.error(401, f"Incorrect API key provided: {KEY}"),
                            "complete")
    assert isinstance(error, ProviderRejected)
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert KEY[:12] not in str(error.args)
    async with serving(case) as (_server, model):
        assert KEY not in repr(model)
        assert KEY not in str(vars(model))


async def test_the_key_never_reaches_a_log_line(case: Case,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # the SDKs' and httpx's debug logs included
    async with serving(case, ["fine", Fault.error(401, f"bad key {KEY}")]) as (_server, model):
        await model.complete(ASK)
        with pytest.raises(ProviderRejected):
            await model.complete(ASK)
    assert caplog.records
    assert KEY not in caplog.text
