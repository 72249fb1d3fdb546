"""What the server records, its own latency accounting, and concurrent clients."""

from __future__ import annotations

import math
import threading

from plait.testing import MockLLMServer, Reply, ToolCall

from .client import ANTHROPIC, anthropic, call, chat

CHAT = "/v1/chat/completions"


def test_requests_are_recorded_without_secrets() -> None:
    with MockLLMServer() as s:
        call(s.url, CHAT, chat("x"), headers={"Authorization": "Bearer sk-secret", "X-Trace": "t1"})
        call(s.url, "/v1/messages", anthropic("y"), headers=ANTHROPIC)
        call(s.url, "/api/tags")
        call(s.url, "/nowhere", b"not json", method="POST")
        first, second, tags, nowhere = s.exchanges
    assert (first.method, first.path) == ("POST", CHAT)
    assert first.headers["authorization"] == "[redacted]"
    assert first.headers["x-trace"] == "t1"
    assert first.body == chat("x")
    assert first.request is not None
    assert first.request.prompt == "user: x"
    assert first.status == 200
    assert second.headers["x-api-key"] == "[redacted]"
    assert second.headers["anthropic-version"] == "2023-06-01"
    assert tags.request is None
    assert tags.status == 200
    assert nowhere.body == "not json"
    assert nowhere.status == 404
    assert "sk-secret" not in repr(s.exchanges)
    assert "sk-ant-test" not in repr(s.exchanges)
    assert [x.path for x in s.calls()] == [CHAT, "/v1/messages"]
    assert [x.path for x in s.calls("/v1/messages")] == ["/v1/messages"]


def test_record_off_keeps_nothing() -> None:
    with MockLLMServer(record=False) as s:
        call(s.url, CHAT, chat("x"))
        assert s.exchanges == []
        assert s.requests == []
        assert s.http_request_count == 1


def test_the_server_accounts_for_the_configured_stream_delays() -> None:
    with MockLLMServer(["a b c d"], ttft=0.05, token_delay=0.01) as s:
        call(s.url, CHAT, chat("x", stream=True))
        [x] = s.calls()
    assert (x.ttft, x.token_delay, x.tokens) == (0.05, 0.01, 4)
    assert x.first_token is not None
    assert x.elapsed is not None
    assert x.first_token >= 0.05 - 0.002  # asyncio timers may fire a hair early
    assert x.elapsed >= 0.05 + 3 * 0.01 - 0.002
    assert x.elapsed >= x.first_token


def test_a_whole_answer_waits_as_long_as_its_stream_would() -> None:
    tool = ToolCall("f", {"q": "a long enough argument"})
    quick = Reply.calling(tool, text="x y", ttft=0.0, token_delay=0.0)
    with MockLLMServer(
        [Reply("a b c", ttft=0.03, token_delay=0.01), quick], ttft=5.0, token_delay=0.005
    ) as s:
        call(s.url, "/api/chat", chat("x", stream=False))
        call(s.url, "/v1/messages", anthropic("x"), headers=ANTHROPIC)
        plain, tools = s.calls()
    assert (plain.ttft, plain.token_delay, plain.tokens) == (0.03, 0.01, 3)
    assert plain.elapsed is not None
    assert plain.elapsed >= 0.03 + 2 * 0.01 - 0.002
    assert (tools.ttft, tools.token_delay) == (0.0, 0.0)
    # two text tokens, then the arguments' JSON in pieces of 8 characters
    assert tools.tokens == 2 + math.ceil(len(tool.arguments_json) / 8)


def test_a_reply_without_latency_falls_back_to_the_server() -> None:
    with MockLLMServer([Reply("a", ttft=0.0)], ttft=0.02) as s:
        call(s.url, CHAT, chat("x"))
        call(s.url, CHAT, chat("x"))
        first, second = s.calls()
    assert first.ttft == 0.0
    assert second.ttft == 0.02


def test_concurrent_clients_are_served_at_once() -> None:
    n = 12
    barrier = threading.Barrier(n)
    results: list[int] = []

    def client(url: str, i: int) -> None:
        barrier.wait()
        path, body = [(CHAT, chat(f"q{i}", stream=True)), ("/api/chat", chat(f"q{i}"))][i % 2]
        results.append(call(url, path, body).status)

    with MockLLMServer(ttft=0.2) as s:
        threads = [threading.Thread(target=client, args=(s.url, i)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        spans = [(x.received_at, x.received_at + (x.elapsed or 0)) for x in s.calls()]
    assert results == [200] * n
    assert len(spans) == n
    # every call was in flight while every other one was: they all overlapped
    assert max(start for start, _ in spans) < min(end for _, end in spans)
    assert len({r.prompt for r in s.requests}) == n
