"""Scripts: replies in order, functions of the request, and the stateless agent script."""

from __future__ import annotations

import json

import pytest

from plait.testing import (
    Fault,
    LLMRequest,
    Message,
    MockLLMServer,
    Reply,
    Script,
    ToolCall,
    hash_reply,
)
from plait.testing.mock_script import as_reply

from .client import call, chat

CHAT = "/v1/chat/completions"
ADD = ToolCall("add", {"a": 1, "b": 2})


def _request(*messages: Message) -> LLMRequest:
    return LLMRequest("openai", "chat", "m", "p", False, {}, messages)


def test_items_become_replies() -> None:
    assert as_reply("hi") == Reply("hi")
    assert as_reply(ADD) == Reply(tool_calls=(ADD,))
    assert as_reply([ADD, ADD]) == Reply.calling(ADD, ADD)
    assert as_reply(Fault.timeout()) == Reply(fault=Fault.timeout())
    assert Reply(tool_calls=[ADD]).tool_calls == (ADD,)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        as_reply([1, 2])  # type: ignore[list-item]


def test_peek_and_remaining_do_not_use_replies_up() -> None:
    script = Script(["a", "b"])
    request = _request()
    assert script.peek(request) == Reply("a")
    assert script.remaining == 2
    assert script.next_reply(request) == Reply("a")
    assert (script.used, script.remaining) == (1, 1)
    script.next_reply(request)
    assert script.peek(request) == hash_reply(request)
    assert script.remaining == 0


def test_agent_script_decides_from_the_conversation() -> None:
    script = Script.agent(
        ADD,
        [ToolCall("mul", {"x": 3}), ToolCall("neg", {"x": 3})],
        answer=lambda r: f"{len(r.tool_results)} results",
    )
    user = Message("user", "go")
    round_one = Message("assistant", tool_calls=(ADD,))
    round_two = Message("assistant", tool_calls=(ToolCall("mul"), ToolCall("neg")))
    result = Message("tool", "3", tool_call_id="c1")

    assert script.next_reply(_request(user)) == Reply(tool_calls=(ADD,))
    assert script.next_reply(_request(user, round_one, result)).tool_calls[1].name == "neg"
    final = _request(user, round_one, result, round_two, result, result)
    assert script.next_reply(final) == Reply("3 results")
    assert script.next_reply(_request(user)) == Reply(tool_calls=(ADD,))  # stateless


def test_a_multi_turn_agent_over_openai() -> None:
    """A hand-written agent loop: call the tools the model asks for until it answers."""
    tools_run: list[str] = []
    script = Script.agent(ADD, [ToolCall("mul", {"a": 3, "b": 4}), ToolCall("add", {"a": 5})])
    with MockLLMServer(script) as s:
        messages: list[dict[str, object]] = [{"role": "user", "content": "compute"}]
        for _ in range(5):
            body = call(s.url, CHAT, {"model": "m", "messages": messages}).json()
            message = body["choices"][0]["message"]  # type: ignore[index]
            messages.append(message)
            if not message.get("tool_calls"):
                break
            for tool_call in message["tool_calls"]:
                args = json.loads(tool_call["function"]["arguments"])
                tools_run.append(tool_call["function"]["name"])
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": tool_call["id"],
                        "content": str(sum(args.values())),
                    }
                )
        requests = s.requests
    assert tools_run == ["add", "mul", "add"]
    assert messages[-1]["content"] == "done: 3; 7; 5"
    assert [r.tool_rounds for r in requests] == [0, 1, 2]
    ids = {m.tool_call_id for m in requests[-1].tool_results}
    assert len(ids) == 3
    assert all(i and i.startswith("call_") for i in ids)


def test_an_agent_over_ollama_with_parallel_calls() -> None:
    script = Script.agent([ToolCall("a"), ToolCall("b", {"k": "v"})], answer="finished")
    with MockLLMServer(script) as s:
        first = call(s.url, "/api/chat", chat("go", stream=False)).json()
        message = first["message"]
        assert isinstance(message, dict)
        calls = message["tool_calls"]
        assert [c["function"]["name"] for c in calls] == ["a", "b"]
        assert [c["function"]["index"] for c in calls] == [0, 1]
        assert calls[1]["function"]["arguments"] == {"k": "v"}
        body = chat("go", stream=False)
        body["messages"] = [
            *body["messages"],
            message,  # type: ignore[list-item]
            {"role": "tool", "tool_name": "a", "content": "A"},
            {"role": "tool", "tool_name": "b", "content": "B"},
        ]
        final = call(s.url, "/api/chat", body).json()
        streamed = call(s.url, "/api/chat", chat("go")).lines()
        request = s.requests[1]
    assert final["message"]["content"] == "finished"  # type: ignore[index]
    assert [m.name for m in request.tool_results] == ["a", "b"]
    with_calls = [line for line in streamed if line["message"].get("tool_calls")]  # type: ignore[union-attr]
    assert len(with_calls) == 1  # Ollama sends the calls whole, in one chunk
    assert streamed[-1]["done"] is True


def test_a_function_script_sees_the_normalised_request() -> None:
    seen: list[LLMRequest] = []

    def respond(request: LLMRequest) -> str:
        seen.append(request)
        return f"#{request.index} {request.last_user_text}"

    tools = [{"type": "function", "function": {"name": "search"}}]
    with MockLLMServer(respond) as s:
        one = call(s.url, CHAT, chat("first", tools=tools, max_tokens=9)).json()
        two = call(s.url, "/api/generate", {"model": "m", "prompt": "second", "stream": False})
    assert one["choices"][0]["message"]["content"] == "#0 first"  # type: ignore[index]
    assert two.json()["response"] == "#1 second"
    assert seen[0].tools == ("search",)
    assert seen[0].max_tokens == 9
    assert seen[0].messages == (Message("user", "first"),)


def test_explicit_tool_call_ids_are_kept_everywhere() -> None:
    reply = Reply.calling(ToolCall("t", {}, id="fixed-id"))
    with MockLLMServer([reply] * 2) as s:
        openai = call(s.url, CHAT, chat("x")).json()
        ollama = call(s.url, "/api/chat", chat("x", stream=False)).json()
    assert openai["choices"][0]["message"]["tool_calls"][0]["id"] == "fixed-id"  # type: ignore[index]
    assert ollama["message"]["tool_calls"][0]["id"] == "fixed-id"  # type: ignore[index]


def test_a_text_and_tools_reply_over_ollama_streams_both() -> None:
    with MockLLMServer([Reply.calling(ADD, text="one moment")]) as s:
        lines = call(s.url, "/api/chat", chat("x")).lines()
    text = "".join(line["message"]["content"] for line in lines)  # type: ignore[index]
    assert text == "one moment"
    assert lines[-2]["message"]["tool_calls"][0]["function"]["name"] == "add"  # type: ignore[index]
