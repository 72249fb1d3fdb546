"""The mock LLM server answers real HTTP on loopback like Ollama does."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from plait.testing import LLMRequest, MockLLMServer, Reply, Script
from plait.testing.mock_http import HTTPRequest, HTTPResponder, Router
from plait.testing.mock_llm import hash_reply, tokenize


def call(url: str, path: str, body: object | None = None, method: str | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        payload: bytes = response.read()
        return payload


def call_json(url: str, path: str, body: object | None = None) -> dict[str, object]:
    value = json.loads(call(url, path, body))
    assert isinstance(value, dict)
    return value


def ndjson(url: str, path: str, body: object) -> list[dict[str, object]]:
    return [json.loads(line) for line in call(url, path, body).splitlines() if line.strip()]


def chat(content: str, **extra: object) -> dict[str, object]:
    return {"model": "mock", "messages": [{"role": "user", "content": content}], **extra}


@pytest.fixture
def server() -> Iterator[MockLLMServer]:
    with MockLLMServer() as running:
        yield running


def test_tags_lists_the_configured_models() -> None:
    with MockLLMServer(models=("mock", "tiny:q4")) as s:
        tags = call_json(s.url, "/api/tags")
    names = [m["name"] for m in tags["models"]]  # type: ignore[attr-defined]
    assert names == ["mock:latest", "tiny:q4"]


def test_chat_without_stream_returns_one_deterministic_message(server: MockLLMServer) -> None:
    first = call_json(server.url, "/api/chat", chat("hello", stream=False))
    again = call_json(server.url, "/api/chat", chat("hello", stream=False))
    other = call_json(server.url, "/api/chat", chat("goodbye", stream=False))

    assert first["done"] is True
    assert first["done_reason"] == "stop"
    message = first["message"]
    assert isinstance(message, dict)
    assert message["role"] == "assistant"
    assert message["content"].startswith("mock reply ")
    assert first["message"] == again["message"] != other["message"]
    assert [r.prompt for r in server.requests] == ["user: hello"] * 2 + ["user: goodbye"]
    assert server.requests[0] == LLMRequest(
        "ollama", "chat", "mock", "user: hello", False, chat("hello", stream=False)
    )


def test_chat_streams_ndjson_when_asked_or_by_default(server: MockLLMServer) -> None:
    expected = call_json(server.url, "/api/chat", chat("hi", stream=False))["message"]
    for body in (chat("hi", stream=True), chat("hi")):
        lines = ndjson(server.url, "/api/chat", body)
        assert len(lines) >= 3
        assert all(line["done"] is False for line in lines[:-1])
        assert lines[-1]["done"] is True
        assert lines[-1]["eval_count"] == len(lines) - 1
        text = "".join(line["message"]["content"] for line in lines)  # type: ignore[index]
        assert text == expected["content"]  # type: ignore[index]


def test_generate_answers_in_the_response_field(server: MockLLMServer) -> None:
    body = {"model": "mock", "prompt": "why?", "system": "be brief"}
    whole = call_json(server.url, "/api/generate", {**body, "stream": False})
    streamed = ndjson(server.url, "/api/generate", {**body, "stream": True})

    assert whole["done"] is True
    assert whole["context"] == []
    assert "".join(str(line["response"]) for line in streamed) == whole["response"]
    assert server.requests[0].prompt == "system: be brief\nwhy?"
    assert server.requests[0].endpoint == "generate"


def test_script_replies_in_order_then_falls_back_to_the_hash() -> None:
    with MockLLMServer(["one", Reply("two words")]) as s:
        replies = [
            call_json(s.url, "/api/chat", chat("q", stream=False))["message"]["content"]  # type: ignore[index]
            for _ in range(3)
        ]
        assert s.script.used == 2
    assert replies[:2] == ["one", "two words"]
    assert replies[2] == hash_reply(LLMRequest("ollama", "chat", "mock", "user: q", False, {})).text


def test_script_can_cycle_or_answer_from_a_callable() -> None:
    script = Script(["a", "b"], cycle=True)
    request = LLMRequest("ollama", "chat", "m", "p", False, {})
    assert [script.next_reply(request).text for _ in range(5)] == ["a", "b", "a", "b", "a"]

    with MockLLMServer(lambda r: r.prompt.upper()) as s:
        body = {"model": "m", "prompt": "shout", "stream": False}
        assert call_json(s.url, "/api/generate", body)["response"] == "SHOUT"


def test_a_reply_with_an_error_status_is_an_http_error() -> None:
    with MockLLMServer([Reply("overloaded", status=503)]) as s:
        with pytest.raises(urllib.error.HTTPError) as caught:
            call(s.url, "/api/chat", chat("x", stream=False))
        assert caught.value.code == 503
        assert json.loads(caught.value.read()) == {"error": "overloaded"}
        # the next call is fine again
        assert call_json(s.url, "/api/chat", chat("x", stream=False))["done"] is True


@pytest.mark.parametrize(
    ("path", "body", "method", "status"),
    [
        ("/nowhere", None, "GET", 404),
        ("/api/chat", None, "GET", 405),
        ("/api/chat", {"messages": []}, "POST", 400),
        ("/api/chat", {"model": "m", "messages": "no"}, "POST", 400),
        ("/api/generate", [1, 2], "POST", 400),
    ],
)
def test_bad_requests_get_json_errors(
    server: MockLLMServer, path: str, body: object, method: str, status: int
) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        call(server.url, path, body, method=method)
    assert caught.value.code == status
    assert "error" in json.loads(caught.value.read())


def test_malformed_json_is_a_400(server: MockLLMServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/api/chat", body=b"{not json")
    response = conn.getresponse()
    assert response.status == 400
    assert "error" in json.loads(response.read())
    conn.close()


def test_latency_delays_the_first_token_and_each_next_one() -> None:
    with MockLLMServer(["a b c"], ttft=0.05, token_delay=0.02) as s:
        started = time.perf_counter()
        lines = ndjson(s.url, "/api/chat", chat("x", stream=True))
        elapsed = time.perf_counter() - started
    assert [line["message"]["content"] for line in lines] == ["a", " b", " c", ""]  # type: ignore[index]
    assert elapsed >= 0.05 + 2 * 0.02


def test_a_reply_overrides_the_server_latency() -> None:
    with MockLLMServer([Reply("slow", ttft=0.05)], ttft=5.0) as s:
        started = time.perf_counter()
        call_json(s.url, "/api/chat", chat("x", stream=False))
        assert 0.05 <= time.perf_counter() - started < 5.0


def test_one_connection_serves_several_requests(server: MockLLMServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    for _ in range(3):
        conn.request("POST", "/api/chat", body=json.dumps(chat("k", stream=False)))
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Connection") == "keep-alive"
        json.loads(response.read())
    conn.request("POST", "/api/chat", body=json.dumps(chat("k", stream=True)))
    response = conn.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read().count(b"\n") >= 2
    conn.close()
    assert server.http_request_count == 4


def test_port_zero_picks_distinct_free_ports() -> None:
    with MockLLMServer() as a, MockLLMServer() as b:
        assert a.port != b.port
        assert a.url == f"http://127.0.0.1:{a.port}"
        assert call_json(b.url, "/api/version")["version"]


def test_pull_and_show_answer_client_probes(server: MockLLMServer) -> None:
    assert ndjson(server.url, "/api/pull", {"model": "mock"})[-1] == {"status": "success"}
    assert call_json(server.url, "/api/pull", {"model": "mock", "stream": False}) == {
        "status": "success"
    }
    assert "details" in call_json(server.url, "/api/show", {"model": "mock"})


def test_a_protocol_is_a_function_that_adds_routes() -> None:
    async def echo(server: MockLLMServer, http: HTTPRequest, out: HTTPResponder) -> None:
        request = LLMRequest("echo", "echo", "m", http.body.decode(), False, {})
        await out.send_json(200, {"text": server.reply_for(request).text})

    def register_echo(router: Router) -> None:
        router.add("POST", "/v1/echo", echo)

    with MockLLMServer(["pong"], protocols=[register_echo]) as s:
        assert call_json(s.url, "/v1/echo", {"ping": 1}) == {"text": "pong"}
        with pytest.raises(urllib.error.HTTPError):
            call(s.url, "/api/tags")
        assert s.requests[0].protocol == "echo"


async def test_it_also_serves_on_the_running_loop() -> None:
    async with MockLLMServer(["async"]) as s:
        body = chat("x", stream=False)
        reply = await asyncio.to_thread(call_json, s.url, "/api/chat", body)
    assert reply["message"] == {"role": "assistant", "content": "async"}


def test_tokenize_keeps_the_whitespace() -> None:
    assert tokenize("a  b\nc") == ["a", "  b", "\nc"]
    assert "".join(tokenize(" lead and trail ")) == " lead and trail "
    assert tokenize("") == [""]


def test_it_runs_from_the_command_line() -> None:
    command = [sys.executable, "-m", "plait.testing", "--port", "0", "--reply", "cli"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().rsplit(" ", 1)[-1].strip()
            assert url.startswith("http://127.0.0.1:")
            assert call_json(url, "/api/chat", chat("x", stream=False))["message"] == {
                "role": "assistant",
                "content": "cli",
            }
        finally:
            proc.terminate()


def test_stopping_mid_stream_closes_cleanly() -> None:
    server = MockLLMServer(["a b c d"], token_delay=0.5).start_in_thread()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/api/chat", body=json.dumps(chat("x", stream=True)))
    response = conn.getresponse()
    assert response.status == 200
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    conn.close()


def test_ollama_embed_and_the_older_embeddings(server: MockLLMServer) -> None:
    from plait.testing import hash_embedding

    many = call_json(server.url, "/api/embed", {"model": "e", "input": ["a b", "c"]})
    one = call_json(server.url, "/api/embed", {"model": "e", "input": "a b", "dimensions": 4})
    old = call_json(server.url, "/api/embeddings", {"model": "e", "prompt": "a b"})
    assert many["model"] == "e"
    assert many["embeddings"] == [hash_embedding("a b"), hash_embedding("c")]
    assert one["embeddings"] == [hash_embedding("a b", 4)]
    assert old == {"embedding": hash_embedding("a b")}
    assert [r.endpoint for r in server.requests] == ["embed"] * 3


def test_the_command_line_takes_faults_and_protocols() -> None:
    command = [
        sys.executable,
        "-m",
        "plait.testing",
        "--port",
        "0",
        "--protocol",
        "openai",
        "--fault",
        "429:3",
        "--reply",
        "ok",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().rsplit(" ", 1)[-1].strip()
            body = chat("x", stream=False)
            with pytest.raises(urllib.error.HTTPError) as caught:
                call(url, "/v1/chat/completions", body)
            assert caught.value.code == 429
            assert caught.value.headers["Retry-After"] == "3"
            answer = call_json(url, "/v1/chat/completions", body)
            assert answer["choices"][0]["message"]["content"] == "ok"  # type: ignore[index]
            with pytest.raises(urllib.error.HTTPError) as missing:
                call(url, "/api/tags")
            assert missing.value.code == 404
        finally:
            proc.terminate()
