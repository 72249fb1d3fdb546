"""The mock server answers OpenAI's chat completions, completions, embeddings and models."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator

import pytest

from plait.testing import MockLLMServer, Reply, ToolCall, hash_embedding

from .client import call, chat

CHAT = "/v1/chat/completions"


@pytest.fixture
def server() -> Iterator[MockLLMServer]:
    with MockLLMServer() as running:
        yield running


def test_a_whole_completion_has_the_api_shape(server: MockLLMServer) -> None:
    first = call(server.url, CHAT, chat("hello"))
    again = call(server.url, CHAT, chat("hello")).json()
    body = first.json()

    assert first.status == 200
    assert first.headers["content-type"].startswith("application/json")
    assert body["object"] == "chat.completion"
    assert str(body["id"]).startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "mock"
    [choice] = body["choices"]  # type: ignore[misc]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith("mock reply ")
    assert "tool_calls" not in choice["message"]
    usage = body["usage"]
    assert isinstance(usage, dict)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == 3
    assert again["choices"] == body["choices"]  # deterministic
    [req, _] = server.requests
    assert (req.protocol, req.endpoint, req.model, req.prompt) == (
        "openai",
        "chat",
        "mock",
        "user: hello",
    )


def test_a_stream_is_sse_chunks_then_done(server: MockLLMServer) -> None:
    whole = call(server.url, CHAT, chat("hi")).json()
    response = call(server.url, CHAT, chat("hi", stream=True))

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.body.startswith(b"data: {")
    assert response.body.endswith(b"data: [DONE]\n\n")
    data = response.data()
    assert data[-1] == "[DONE]"
    chunks = [d for d in data[:-1] if isinstance(d, dict)]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert all("usage" not in c for c in chunks)  # only with stream_options.include_usage
    deltas = [c["choices"][0]["delta"] for c in chunks]  # type: ignore[index]
    assert deltas[0] == {"role": "assistant", "content": "", "refusal": None}
    assert deltas[-1] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])  # type: ignore[index]
    text = "".join(d.get("content") or "" for d in deltas)
    assert text == whole["choices"][0]["message"]["content"]  # type: ignore[index]


def test_include_usage_adds_a_last_chunk_with_no_choices(server: MockLLMServer) -> None:
    body = chat("hi", stream=True, stream_options={"include_usage": True})
    data = call(server.url, CHAT, body).data()
    chunks = [d for d in data if isinstance(d, dict)]
    *before, last = chunks
    assert all(c["usage"] is None for c in before)
    assert last["choices"] == []
    usage = last["usage"]
    assert isinstance(usage, dict)
    assert usage["completion_tokens"] == 3
    assert data[-1] == "[DONE]"


def test_tool_calls_whole() -> None:
    reply = Reply.calling(ToolCall("add", {"a": 1, "b": 2}), ToolCall("now", id="call_fixed"))
    with MockLLMServer([reply]) as s:
        tools = [{"type": "function", "function": {"name": "add", "parameters": {}}}]
        body = call(s.url, CHAT, chat("sum", tools=tools)).json()
        assert s.requests[0].tools == ("add",)
    [choice] = body["choices"]  # type: ignore[misc]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    first, second = message["tool_calls"]
    assert first["type"] == "function"
    assert first["id"].startswith("call_")
    assert len(first["id"]) == 29
    assert first["function"]["name"] == "add"
    assert json.loads(first["function"]["arguments"]) == {"a": 1, "b": 2}
    assert second["id"] == "call_fixed"
    assert json.loads(second["function"]["arguments"]) == {}


def test_tool_calls_stream_as_indexed_deltas() -> None:
    args = {"city": "Paris", "units": "metric", "days": 3}
    reply = Reply.calling(ToolCall("weather", args), ToolCall("add", {"a": 1}), text="Let me see.")
    with MockLLMServer([reply, reply]) as s:
        whole = call(s.url, CHAT, chat("w")).json()
        data = call(s.url, CHAT, chat("w", stream=True)).data()
    chunks = [d for d in data if isinstance(d, dict)]
    calls: dict[int, dict[str, str]] = {}
    text = ""
    for chunk in chunks:
        delta = chunk["choices"][0]["delta"]  # type: ignore[index]
        text += delta.get("content") or ""
        for piece in delta.get("tool_calls", ()):
            slot = calls.setdefault(piece["index"], {"id": "", "name": "", "arguments": ""})
            if "id" in piece:
                assert piece["type"] == "function"
                slot["id"] = piece["id"]
                slot["name"] = piece["function"]["name"]
            slot["arguments"] += piece["function"].get("arguments", "")
    assert text == "Let me see."
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"  # type: ignore[index]
    assert sorted(calls) == [0, 1]
    assert json.loads(calls[0]["arguments"]) == args
    assert len([c for c in chunks if "tool_calls" in c["choices"][0]["delta"]]) > 4  # type: ignore[index]
    whole_calls = whole["choices"][0]["message"]["tool_calls"]  # type: ignore[index]
    assert [c["id"] for c in whole_calls] == [calls[0]["id"], calls[1]["id"]]  # stable ids
    assert whole["choices"][0]["message"]["content"] == "Let me see."  # type: ignore[index]


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    with MockLLMServer(["one two three four five"] * 2) as s:
        whole = call(s.url, CHAT, chat("x", max_tokens=2)).json()
        chunks = call(s.url, CHAT, chat("x", max_completion_tokens=3, stream=True)).data()
    assert whole["choices"][0]["message"]["content"] == "one two"  # type: ignore[index]
    assert whole["choices"][0]["finish_reason"] == "length"  # type: ignore[index]
    finish = [c["choices"][0]["finish_reason"] for c in chunks if isinstance(c, dict)]  # type: ignore[index]
    assert finish[-1] == "length"


def test_embeddings_are_deterministic_and_sized(server: MockLLMServer) -> None:
    body = {"model": "embed", "input": ["the cat sat", "the cat sat", "stock prices fell"]}
    result = call(server.url, "/v1/embeddings", body).json()
    assert result["object"] == "list"
    data = result["data"]
    assert isinstance(data, list)
    assert [d["index"] for d in data] == [0, 1, 2]
    vectors = [d["embedding"] for d in data]
    assert len(vectors[0]) == server.embedding_dims == 384
    assert vectors[0] == vectors[1] == hash_embedding("the cat sat")
    assert result["usage"] == {"prompt_tokens": 9, "total_tokens": 9}

    small = call(
        server.url, "/v1/embeddings", {"model": "e", "input": "hi", "dimensions": 8}
    ).json()
    assert len(small["data"][0]["embedding"]) == 8  # type: ignore[index]

    packed = call(
        server.url,
        "/v1/embeddings",
        {"model": "e", "input": "hi", "dimensions": 8, "encoding_format": "base64"},
    )
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])  # type: ignore[index]
    decoded = struct.unpack("<8f", raw)
    assert decoded == pytest.approx(small["data"][0]["embedding"], abs=1e-6)  # type: ignore[index]
    assert server.requests[-1].endpoint == "embeddings"


def test_hash_embeddings_rank_shared_words_higher() -> None:
    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    query = hash_embedding("where do cats sleep")
    assert cos(query, hash_embedding("cats sleep on the sofa")) > cos(
        query, hash_embedding("bond yields rose in March")
    )
    assert cos(query, query) == pytest.approx(1.0, abs=1e-5)


def test_models_list_and_retrieve() -> None:
    with MockLLMServer(models=("gpt-mock", "other")) as s:
        listing = call(s.url, "/v1/models").json()
        one = call(s.url, "/v1/models/gpt-mock").json()
        missing = call(s.url, "/v1/models/nope")
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["gpt-mock", "other"]  # type: ignore[attr-defined]
    assert one["object"] == "model"
    assert missing.status == 404
    assert missing.json()["error"]["code"] == "model_not_found"  # type: ignore[index]


def test_legacy_completions_whole_and_streamed() -> None:
    with MockLLMServer(["a b"] * 2) as s:
        whole = call(s.url, "/v1/completions", {"model": "m", "prompt": "p"}).json()
        data = call(s.url, "/v1/completions", {"model": "m", "prompt": "p", "stream": True}).data()
    assert whole["object"] == "text_completion"
    assert whole["choices"][0]["text"] == "a b"  # type: ignore[index]
    pieces = [c["choices"][0]["text"] for c in data if isinstance(c, dict)]  # type: ignore[index]
    assert "".join(pieces) == "a b"
    assert data[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": []}, "you must provide a model parameter"),
        ({"model": "m"}, "Missing required parameter: 'messages'."),
        ({"model": "m", "messages": "hi"}, "'messages' must be a list"),
    ],
)
def test_bad_requests_get_openai_errors(
    server: MockLLMServer, body: dict[str, object], message: str
) -> None:
    response = call(server.url, CHAT, body)
    assert response.status == 400
    error = response.json()["error"]
    assert error == {
        "message": message,
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_an_api_key_is_checked_when_set() -> None:
    with MockLLMServer(api_key="sk-test") as s:
        missing = call(s.url, CHAT, chat("x"))
        wrong = call(s.url, CHAT, chat("x"), headers={"Authorization": "Bearer nope"})
        right = call(s.url, CHAT, chat("x"), headers={"Authorization": "Bearer sk-test"})
        azure = call(s.url, CHAT, chat("x"), headers={"api-key": "sk-test"})
    assert missing.status == wrong.status == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"  # type: ignore[index]
    assert right.status == azure.status == 200
