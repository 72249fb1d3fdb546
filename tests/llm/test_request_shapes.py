"""What each provider puts on the wire: roles, images, tool calls and results, tools, options.
The bodies are read back from the mock server's record of what arrived."""

from __future__ import annotations

from typing import Any

import pytest

from plait.errors import ProviderRejected, UsageError
from plait.llm import (
    ImagePart,
    Message,
    ModelRequest,
    ProviderConfig,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from plait.llm.providers.huggingface import chatml
from plait.llm.providers.openai import AzureOpenAIModel, chat_params
from plait.testing import MockLLMServer

from .conftest import CASES, KEY, SECRET, Case, calls_to, serving

PIXEL = "iVBORw0KGgo="
LOOKUP = ToolSpec(name="lookup", description="Find a word.", parameters={
    "type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]})
CALL = ToolCallPart(id="call_1", name="lookup", arguments={"word": "plait"})
CONVERSATION = ModelRequest(
    messages=(
        Message.system("Be brief."),
        Message.user("What is this?", ImagePart(data=PIXEL, media_type="image/png")),
        Message.assistant("Let me look.", CALL),
        Message.tool(ToolResultPart(call_id="call_1", name="lookup", content="a braid",
                                    is_error=False)),
        Message.user("And so?"),
    ),
    tools=(LOOKUP,), tool_choice="required", temperature=0.5, max_tokens=64, stop=("END",),
    seed=7)


def case(name: str) -> Case:
    return next(c for c in CASES if c.id == name)


async def sent(name: str, request: ModelRequest = CONVERSATION) -> tuple[dict[str, Any],
                                                                           MockLLMServer]:
    async with serving(case(name), ["fine"]) as (server, model):
        await model.complete(request)
    return calls_to(server, case(name))[-1], server


async def test_openai_body() -> None:
    body, server = await sent("openai")
    assert body["model"] == "mock"
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool",
                                                    "user"]
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}]
    assert body["messages"][2]["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "lookup", "arguments": '{"word": "plait"}'}}]
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "a braid"}
    assert body["tools"] == [{"type": "function", "function": {
        "name": "lookup", "description": "Find a word.", "parameters": LOOKUP.parameters}}]
    assert body["tool_choice"] == "required"
    assert (body["temperature"], body["max_tokens"], body["stop"], body["seed"]) == (
        0.5, 64, ["END"], 7)
    assert server.exchanges[-1].headers["authorization"] == "[redacted]"  # the key was sent


def test_openai_itself_gets_max_completion_tokens() -> None:
    params = chat_params(CONVERSATION, "gpt-4o", max_tokens_key="max_completion_tokens")
    assert params["max_completion_tokens"] == 64
    assert "max_tokens" not in params


async def test_openai_stream_asks_for_usage() -> None:
    async with serving(case("openai"), ["fine"]) as (server, model):
        async for _ in model.stream(CONVERSATION):
            pass
    body = calls_to(server, case("openai"))[-1]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_azure_calls_the_deployment_with_the_api_version() -> None:
    with MockLLMServer(["fine"]) as server:
        model = AzureOpenAIModel("my-deployment", ProviderConfig(
            azure_api_key=SECRET, azure_endpoint=server.url, azure_api_version="2024-10-21"))
        assert model.name == "azure:my-deployment"
        outcome: object
        try:
            outcome = (await model.complete(CONVERSATION)).text
        except ProviderRejected as error:  # a mock without Azure's routes answers 404
            outcome = error.status
        finally:
            await model.aclose()
    assert outcome in ("fine", 404)
    exchange = server.exchanges[-1]
    assert exchange.path == "/openai/deployments/my-deployment/chat/completions"
    assert "api-version=2024-10-21" in exchange.query
    assert exchange.headers["api-key"] == "[redacted]"


async def test_anthropic_body() -> None:
    body, server = await sent("anthropic")
    assert body["system"] == "Be brief."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": PIXEL}}]
    assert body["messages"][1]["content"] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {"word": "plait"}}]
    # the tool result and the next user text merge into one user turn
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "a braid",
         "is_error": False},
        {"type": "text", "text": "And so?"}]
    assert body["tools"] == [{"name": "lookup", "description": "Find a word.",
                              "input_schema": LOOKUP.parameters}]
    assert body["tool_choice"] == {"type": "any"}
    assert (body["max_tokens"], body["temperature"], body["stop_sequences"]) == (
        64, 0.5, ["END"])
    assert server.exchanges[-1].headers["authorization"] == "[redacted]"


async def test_anthropic_requires_max_tokens_so_a_default_is_sent() -> None:
    body, _ = await sent("anthropic", ModelRequest(messages=(Message.user("hi"),)))
    assert body["max_tokens"] == 4096
    assert "system" not in body
    assert "tools" not in body


async def test_gemini_body() -> None:
    body, server = await sent("gemini")
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    contents = body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user", "user"]
    assert contents[0]["parts"][0] == {"text": "What is this?"}
    image = contents[0]["parts"][1]["inlineData"]  # the SDK sends mime_type as it is named
    assert (image["data"], image.get("mimeType", image.get("mime_type"))) == (PIXEL, "image/png")
    assert contents[1]["parts"] == [{"text": "Let me look."}, {"functionCall": {
        "id": "call_1", "name": "lookup", "args": {"word": "plait"}}}]
    assert contents[2]["parts"] == [{"functionResponse": {
        "id": "call_1", "name": "lookup", "response": {"result": "a braid"}}}]
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert (declaration["name"], declaration["description"]) == ("lookup", "Find a word.")
    # the SDK passes a declaration's fields as named (the API takes both spellings)
    schema = declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema"))
    assert schema == LOOKUP.parameters
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    config = body["generationConfig"]
    assert (config["temperature"], config["maxOutputTokens"], config["stopSequences"],
            config["seed"]) == (0.5, 64, ["END"], 7)
    exchange = server.exchanges[-1]
    assert exchange.headers["x-goog-api-key"] == "[redacted]"
    assert KEY not in exchange.query  # the key travels in a header, not in the URL


async def test_gemini_structured_output_asks_for_json() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    body, _ = await sent("gemini", ModelRequest(messages=(Message.user("n?"),),
                                                response_schema=schema))
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert body["generationConfig"]["responseJsonSchema"] == schema


async def test_ollama_body() -> None:
    body, _ = await sent("ollama")
    assert body["stream"] is False
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool",
                                                    "user"]
    assert body["messages"][1] == {"role": "user", "content": "What is this?", "images": [PIXEL]}
    assert body["messages"][2]["tool_calls"] == [
        {"function": {"name": "lookup", "arguments": {"word": "plait"}}}]
    assert body["messages"][3] == {"role": "tool", "content": "a braid", "tool_name": "lookup"}
    assert body["tools"][0]["function"]["name"] == "lookup"
    assert body["options"] == {"temperature": 0.5, "num_predict": 64, "stop": ["END"],
                               "seed": 7}


async def test_ollama_refuses_an_image_it_would_have_to_fetch() -> None:
    request = ModelRequest(messages=(Message.user("see", ImagePart(url="https://x/y.png")),))
    with pytest.raises(UsageError, match="base64"):
        await sent("ollama", request)


async def test_tgi_body() -> None:
    request = ModelRequest(messages=CONVERSATION.messages, temperature=0.5, max_tokens=64,
                           stop=("END",), seed=7,
                           response_schema={"type": "object"})
    body, server = await sent("huggingface-tgi", request)
    assert body["inputs"] == chatml(CONVERSATION.messages)
    assert body["parameters"] == {
        "details": True, "return_full_text": False, "temperature": 0.5, "do_sample": True,
        "max_new_tokens": 64, "seed": 7, "stop": ["END"],
        "grammar": {"type": "json", "value": {"type": "object"}}}
    assert server.exchanges[-1].headers["authorization"] == "[redacted]"


def test_chatml_renders_the_conversation_and_opens_the_assistant_turn() -> None:
    text = chatml(CONVERSATION.messages)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n")
    assert f"![](data:image/png;base64,{PIXEL})" in text
    assert '"name": "lookup"' in text
    assert "a braid" in text
    assert text.endswith("<|im_start|>assistant\n")


async def test_tgi_has_no_tool_calling() -> None:
    with pytest.raises(UsageError, match="/v1"):
        await sent("huggingface-tgi")


async def test_tgi_greedy_when_temperature_is_zero() -> None:
    body, _ = await sent("huggingface-tgi", ModelRequest(messages=(Message.user("hi"),),
                                                         temperature=0))
    assert "temperature" not in body["parameters"]
    assert "do_sample" not in body["parameters"]


async def test_huggingface_chat_speaks_openai_at_v1() -> None:
    body, _ = await sent("huggingface-chat")
    assert body["tool_choice"] == "required"
    assert body["messages"][3]["tool_call_id"] == "call_1"
