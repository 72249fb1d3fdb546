"""The mock server answers Anthropic's Messages API, whole and as named SSE events."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from plait.testing import MockLLMServer, Reply, Script, ToolCall

from .client import ANTHROPIC, anthropic, call, chat

MESSAGES = "/v1/messages"


@pytest.fixture
def server() -> Iterator[MockLLMServer]:
    with MockLLMServer() as running:
        yield running


@pytest.mark.parametrize(
    ("headers", "body", "status", "kind", "message"),
    [
        (
            {"anthropic-version": "2023-06-01"},
            anthropic("x"),
            401,
            "authentication_error",
            "x-api-key header is required",
        ),
        (
            {"x-api-key": "k"},
            anthropic("x"),
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ),
        (
            ANTHROPIC,
            {"model": "m", "messages": []},
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ),
        (
            ANTHROPIC,
            {"model": "m", "max_tokens": 5},
            400,
            "invalid_request_error",
            "'messages' must be a list",
        ),
    ],
)
def test_headers_and_required_fields_are_checked(
    server: MockLLMServer,
    headers: dict[str, str],
    body: dict[str, object],
    status: int,
    kind: str,
    message: str,
) -> None:
    response = call(server.url, MESSAGES, body, headers=headers)
    assert response.status == status
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"] == {"type": kind, "message": message}
    assert server.requests == []


def test_a_whole_message_has_the_api_shape(server: MockLLMServer) -> None:
    body = anthropic("hello", system="be brief")
    response = call(server.url, MESSAGES, body, headers=ANTHROPIC)
    message = response.json()

    assert response.status == 200
    assert response.headers["request-id"]
    assert str(message["id"]).startswith("msg_")
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["model"] == "claude-mock"
    [block] = message["content"]  # type: ignore[misc]
    assert block["type"] == "text"
    assert block["text"].startswith("mock reply ")
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None
    usage = message["usage"]
    assert isinstance(usage, dict)
    assert usage["output_tokens"] == 3
    assert usage["input_tokens"] > 0
    assert server.requests[0].prompt == "system: be brief\nuser: hello"


def test_a_stream_is_the_named_event_sequence(server: MockLLMServer) -> None:
    whole = call(server.url, MESSAGES, anthropic("hi"), headers=ANTHROPIC).json()
    response = call(server.url, MESSAGES, anthropic("hi", stream=True), headers=ANTHROPIC)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.body.startswith(b"event: message_start\ndata: {")
    events = response.events()
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(d) for _, d in events]
    assert all(d["type"] == name for d, name in zip(data, names, strict=True))
    start = data[0]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert data[1]["content_block"] == {"type": "text", "text": ""}
    text = "".join(d["delta"]["text"] for d in data if d["type"] == "content_block_delta")
    assert text == whole["content"][0]["text"]  # type: ignore[index]
    assert data[-2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert data[-2]["usage"] == {"output_tokens": 3}


def test_tool_use_whole_and_streamed() -> None:
    args = {"city": "Paris", "days": 3, "units": "metric"}
    reply = Reply.calling(ToolCall("weather", args), ToolCall("add", {"a": 1}), text="Checking.")
    with MockLLMServer([reply, reply]) as s:
        tools = [{"name": "weather", "input_schema": {"type": "object"}}]
        whole = call(s.url, MESSAGES, anthropic("w", tools=tools), headers=ANTHROPIC).json()
        events = call(
            s.url, MESSAGES, anthropic("w", tools=tools, stream=True), headers=ANTHROPIC
        ).events()
        assert s.requests[0].tools == ("weather",)

    assert whole["stop_reason"] == "tool_use"
    text, first, second = whole["content"]  # type: ignore[misc]
    assert text == {"type": "text", "text": "Checking."}
    assert first["type"] == "tool_use"
    assert first["id"].startswith("toolu_")
    assert first["input"] == args
    assert second["name"] == "add"

    data = [json.loads(d) for _, d in events]
    starts = [d for d in data if d["type"] == "content_block_start"]
    assert [s["index"] for s in starts] == [0, 1, 2]
    assert starts[1]["content_block"] == {
        "type": "tool_use",
        "id": first["id"],
        "name": "weather",
        "input": {},
    }
    partial = "".join(
        d["delta"]["partial_json"]
        for d in data
        if d["type"] == "content_block_delta" and d["index"] == 1
    )
    assert json.loads(partial) == args
    assert len([d for d in data if d.get("index") == 1]) > 3  # the input came in pieces
    assert data[-2]["delta"]["stop_reason"] == "tool_use"


def test_tool_results_reach_the_script_as_tool_messages() -> None:
    script = Script.agent(
        ToolCall("add", {"a": 1, "b": 2}), answer=lambda r: "sum is " + r.tool_results[-1].text
    )
    with MockLLMServer(script) as s:
        first = call(s.url, MESSAGES, anthropic("add 1 and 2"), headers=ANTHROPIC).json()
        tool_use = first["content"][0]  # type: ignore[index]
        follow_up = anthropic("add 1 and 2")
        follow_up["messages"] = [
            {"role": "user", "content": "add 1 and 2"},
            {"role": "assistant", "content": first["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "3"}],
            },
        ]
        second = call(s.url, MESSAGES, follow_up, headers=ANTHROPIC).json()
        request = s.requests[-1]
    assert second["content"] == [{"type": "text", "text": "sum is 3"}]
    assert second["stop_reason"] == "end_turn"
    assert [m.role for m in request.messages] == ["user", "assistant", "tool"]
    assert request.messages[1].tool_calls == (ToolCall("add", {"a": 1, "b": 2}, tool_use["id"]),)
    assert request.tool_results[0].tool_call_id == tool_use["id"]


def test_models_share_the_path_with_openai_by_header() -> None:
    with MockLLMServer(models=("claude-mock",)) as s:
        ours = call(s.url, "/v1/models", headers=ANTHROPIC).json()
        theirs = call(s.url, "/v1/models").json()
    assert ours["data"] == [
        {
            "type": "model",
            "id": "claude-mock",
            "display_name": "claude-mock",
            "created_at": "2024-01-01T00:00:00Z",
        }
    ]
    assert ours["has_more"] is False
    assert theirs["object"] == "list"


def test_count_tokens(server: MockLLMServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "one two three"}]}
    counted = call(server.url, "/v1/messages/count_tokens", body, headers=ANTHROPIC).json()
    assert counted == {"input_tokens": 4}  # "user:", " one", " two", " three"


def test_a_wrong_key_is_refused_when_the_server_has_one() -> None:
    with MockLLMServer(api_key="sk-right") as s:
        wrong = call(s.url, MESSAGES, anthropic("x"), headers=ANTHROPIC)
        right = call(
            s.url, MESSAGES, anthropic("x"), headers={**ANTHROPIC, "x-api-key": "sk-right"}
        )
        openai = call(
            s.url, "/v1/chat/completions", chat("x"), headers={"Authorization": "Bearer sk-right"}
        )
    assert wrong.status == 401
    assert wrong.json()["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert right.status == openai.status == 200


def test_a_bearer_token_is_a_key_too() -> None:
    """Recent SDKs send the key as ``Authorization: Bearer``."""
    with MockLLMServer(api_key="sk-right") as s:
        headers = {"anthropic-version": "2023-06-01"}
        right = call(
            s.url, MESSAGES, anthropic("x"), headers={**headers, "Authorization": "Bearer sk-right"}
        )
        wrong = call(
            s.url, MESSAGES, anthropic("x"), headers={**headers, "Authorization": "Bearer nope"}
        )
    assert right.status == 200
    assert wrong.status == 401
