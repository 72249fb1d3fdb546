"""The mock server answers Google Gemini's API and Hugging Face TGI's native API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from plait.testing import MockLLMServer, Reply, Script, ToolCall

from .client import call, gemini

GEN = "/v1beta/models/gemini-mock:generateContent"
STREAM = "/v1beta/models/gemini-mock:streamGenerateContent"


@pytest.fixture
def server() -> Iterator[MockLLMServer]:
    with MockLLMServer(models=("gemini-mock",)) as running:
        yield running


def test_generate_content_has_the_api_shape(server: MockLLMServer) -> None:
    body = gemini("hello", systemInstruction={"parts": [{"text": "be brief"}]})
    answer = call(server.url, GEN, body).json()

    [candidate] = answer["candidates"]  # type: ignore[misc]
    assert candidate["content"]["role"] == "model"
    [part] = candidate["content"]["parts"]
    assert part["text"].startswith("mock reply ")
    assert candidate["finishReason"] == "STOP"
    usage = answer["usageMetadata"]
    assert isinstance(usage, dict)
    assert usage["candidatesTokenCount"] == 3
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + 3
    assert answer["modelVersion"] == "gemini-mock"
    request = server.requests[0]
    assert (request.protocol, request.model) == ("gemini", "gemini-mock")
    assert request.prompt == "system: be brief\nuser: hello"


def test_stream_with_alt_sse_uses_crlf_events_and_no_done(server: MockLLMServer) -> None:
    whole = call(server.url, GEN, gemini("hi")).json()
    response = call(server.url, STREAM + "?alt=sse", gemini("hi"))

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.body.startswith(b"data: {")
    assert response.body.endswith(b"}\r\n\r\n")
    data = response.data()
    assert "[DONE]" not in data
    chunks = [d for d in data if isinstance(d, dict)]
    assert len(chunks) == 3
    texts = [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks]  # type: ignore[index]
    assert "".join(texts) == whole["candidates"][0]["content"]["parts"][0]["text"]  # type: ignore[index]
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])  # type: ignore[index]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"  # type: ignore[index]
    assert chunks[-1]["usageMetadata"] == whole["usageMetadata"]


def test_stream_without_alt_sse_is_one_json_array(server: MockLLMServer) -> None:
    response = call(server.url, STREAM, gemini("hi"))
    assert response.headers["content-type"] == "application/json"
    array = json.loads(response.body)
    assert isinstance(array, list)
    assert len(array) == 3
    assert array[-1]["candidates"][0]["finishReason"] == "STOP"


def test_function_calls_and_responses() -> None:
    script = Script.agent([ToolCall("add", {"a": 1}), ToolCall("mul", {"b": 2})])
    with MockLLMServer(script) as s:
        tools = [{"functionDeclarations": [{"name": "add"}, {"name": "mul"}]}]
        first = call(s.url, GEN, gemini("go", tools=tools)).json()
        streamed = call(s.url, STREAM + "?alt=sse", gemini("go", tools=tools)).data()
        parts = first["candidates"][0]["content"]["parts"]  # type: ignore[index]
        follow = gemini("go", tools=tools)
        follow["contents"] = [
            *follow["contents"],  # type: ignore[list-item]
            {"role": "model", "parts": parts},
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "add", "response": {"result": 1}}},
                    {"functionResponse": {"name": "mul", "response": {"result": 2}}},
                ],
            },
        ]
        final = call(s.url, GEN, follow).json()
        request = s.requests[-1]
    assert parts == [
        {"functionCall": {"name": "add", "args": {"a": 1}}},
        {"functionCall": {"name": "mul", "args": {"b": 2}}},
    ]
    assert first["candidates"][0]["finishReason"] == "STOP"  # type: ignore[index]
    streamed_parts = [p for c in streamed for p in c["candidates"][0]["content"]["parts"]]  # type: ignore[index]
    assert streamed_parts == parts  # each call arrives whole
    assert s.requests[0].tools == ("add", "mul")
    assert [m.name for m in request.tool_results] == ["add", "mul"]
    assert final["candidates"][0]["content"]["parts"] == [  # type: ignore[index]
        {"text": 'done: {"result": 1}; {"result": 2}'}
    ]


def test_embed_and_batch_embed(server: MockLLMServer) -> None:
    base = "/v1beta/models/text-embedding-mock"
    one = call(
        server.url,
        base + ":embedContent",
        {"content": {"parts": [{"text": "hi"}]}, "outputDimensionality": 16},
    ).json()
    batch = call(
        server.url,
        base + ":batchEmbedContents",
        {
            "requests": [
                {
                    "model": "models/text-embedding-mock",
                    "content": {"parts": [{"text": "hi"}]},
                    "outputDimensionality": 16,
                },
                {"model": "models/text-embedding-mock", "content": {"parts": [{"text": "yo"}]}},
            ]
        },
    ).json()
    assert len(one["embedding"]["values"]) == 16  # type: ignore[index]
    first, second = batch["embeddings"]  # type: ignore[misc]
    assert first == one["embedding"]
    assert len(second["values"]) == 384


def test_models_and_count_tokens(server: MockLLMServer) -> None:
    models = call(server.url, "/v1beta/models").json()
    assert models["models"][0]["name"] == "models/gemini-mock"  # type: ignore[index]
    assert call(server.url, "/v1beta/models/gemini-mock").json()["displayName"] == "gemini-mock"
    assert call(server.url, "/v1beta/models/nope").status == 404
    count = call(server.url, "/v1beta/models/gemini-mock:countTokens", gemini("a b")).json()
    assert count == {"totalTokens": 3}


def test_the_key_goes_in_a_header_or_the_query() -> None:
    with MockLLMServer(api_key="AIza-test") as s:
        header = call(s.url, GEN, gemini("x"), headers={"x-goog-api-key": "AIza-test"})
        query = call(s.url, GEN + "?key=AIza-test", gemini("x"))
        wrong = call(s.url, GEN + "?key=nope", gemini("x"))
        missing = call(s.url, GEN, gemini("x"))
        recorded = s.exchanges[1]
    assert header.status == query.status == 200
    assert wrong.status == 400
    assert wrong.json()["error"]["status"] == "INVALID_ARGUMENT"  # type: ignore[index]
    assert missing.status == 403
    assert missing.json()["error"] == {  # type: ignore[comparison-overlap]
        "code": 403,
        "status": "PERMISSION_DENIED",
        "message": "Method doesn't allow unregistered callers. Please use an API key.",
    }
    assert recorded.query == "key=[redacted]"
    assert s.exchanges[0].headers["x-goog-api-key"] == "[redacted]"


def test_missing_contents_is_invalid_argument(server: MockLLMServer) -> None:
    response = call(server.url, GEN, {"generationConfig": {}})
    assert response.status == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"  # type: ignore[index]


def test_the_v1_paths_work_too(server: MockLLMServer) -> None:
    answer = call(server.url, "/v1/models/gemini-mock:generateContent", gemini("x"))
    assert answer.status == 200


# --------------------------------------------------------------------------- TGI


def test_tgi_generate_with_and_without_details() -> None:
    with MockLLMServer(["one two three"] * 3, models=("tgi-mock",)) as s:
        plain = call(s.url, "/generate", {"inputs": "q"}).json()
        detailed = call(
            s.url,
            "/generate",
            {"inputs": "q", "parameters": {"details": True, "max_new_tokens": 2}},
        )
        assert s.requests[0].model == "tgi-mock"
    assert plain == {"generated_text": "one two three"}
    details = detailed.json()
    assert details["generated_text"] == "one two"
    assert details["details"]["finish_reason"] == "length"  # type: ignore[index]
    assert details["details"]["generated_tokens"] == 2  # type: ignore[index]
    assert [t["text"] for t in details["details"]["tokens"]] == ["one", " two"]  # type: ignore[index]


def test_tgi_compat_route_answers_a_list() -> None:
    with MockLLMServer(["ok"]) as s:
        response = call(s.url, "/", {"inputs": "q"})
    assert json.loads(response.body) == [{"generated_text": "ok"}]


def test_tgi_stream_is_token_events_without_a_space() -> None:
    with MockLLMServer(["one two three"]) as s:
        response = call(s.url, "/generate_stream", {"inputs": "q"})
    assert response.body.startswith(b"data:{")
    data = response.data()
    assert [d["index"] for d in data] == [1, 2, 3]  # type: ignore[index]
    assert [d["token"]["text"] for d in data] == ["one", " two", " three"]  # type: ignore[index]
    assert all(d["token"]["special"] is False for d in data)  # type: ignore[index]
    assert [d["generated_text"] for d in data] == [None, None, "one two three"]  # type: ignore[index]
    last = data[-1]["details"]  # type: ignore[index]
    assert last == {
        "finish_reason": "eos_token",
        "generated_tokens": 3,
        "seed": None,
        "input_length": 1,
    }


def test_tgi_info_health_and_errors() -> None:
    with MockLLMServer([Reply("busy", status=429)], models=("tgi-mock",)) as s:
        info = call(s.url, "/info").json()
        health = call(s.url, "/health")
        busy = call(s.url, "/generate", {"inputs": "q"})
        invalid = call(s.url, "/generate", {"inputs": 3})
    assert info["model_id"] == "tgi-mock"
    assert health.status == 200
    assert busy.status == 429
    assert busy.json() == {"error": "busy", "error_type": "overloaded"}
    assert invalid.status == 400
    assert invalid.json()["error_type"] == "validation"


def test_tgi_renders_tool_calls_as_json_text() -> None:
    with MockLLMServer([ToolCall("add", {"a": 1})]) as s:
        text = call(s.url, "/generate", {"inputs": "q"}).json()["generated_text"]
    assert json.loads(str(text)) == [{"name": "add", "arguments": {"a": 1}}]
