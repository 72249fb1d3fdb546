"""Fault injection: error statuses in each API's shape, hangs, broken bodies, cut streams."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from collections.abc import Callable

import pytest

from plait.testing import Fault, MockLLMServer, Reply, Script, every, sometimes

from .client import ANTHROPIC, anthropic, call, chat, gemini, parse_sse

GEN = "/v1beta/models/g:generateContent"

# protocol -> (path, whole body, streamed path, streamed body, headers)
CALLS: dict[str, tuple[str, dict[str, object], str, dict[str, object], dict[str, str]]] = {
    "openai": (
        "/v1/chat/completions",
        chat("x"),
        "/v1/chat/completions",
        chat("x", stream=True),
        {},
    ),
    "anthropic": (
        "/v1/messages",
        anthropic("x"),
        "/v1/messages",
        anthropic("x", stream=True),
        ANTHROPIC,
    ),
    "gemini": (GEN, gemini("x"), "/v1beta/models/g:streamGenerateContent?alt=sse", gemini("x"), {}),
    "ollama": ("/api/chat", chat("x", stream=False), "/api/chat", chat("x"), {}),
    "tgi": ("/generate", {"inputs": "x"}, "/generate_stream", {"inputs": "x"}, {}),
}


def rate_limit_body(protocol: str, message: str) -> dict[str, object]:
    return {
        "openai": {
            "error": {
                "message": message,
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
        "anthropic": {
            "type": "error",
            "error": {"type": "rate_limit_error", "message": message},
            "request_id": "req_plaitmock",
        },
        "gemini": {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED"}},
        "ollama": {"error": message},
        "tgi": {"error": message, "error_type": "overloaded"},
    }[protocol]


@pytest.mark.parametrize("protocol", sorted(CALLS))
def test_first_two_calls_rate_limited_then_the_script_answers(protocol: str) -> None:
    path, body, _, _, headers = CALLS[protocol]
    with MockLLMServer(["scripted"], faults=[Fault.rate_limit(2.5)] * 2) as s:
        failures = [call(s.url, path, body, headers=headers) for _ in range(2)]
        success = call(s.url, path, body, headers=headers)
        recorded = s.calls()
    for failure in failures:
        assert failure.status == 429
        assert failure.headers["retry-after"] == "3"
        assert failure.headers["retry-after-ms"] == "2500"
        assert failure.headers["content-type"] == "application/json"
        assert failure.json() == rate_limit_body(protocol, "mock: rate limit exceeded, retry later")
    assert success.status == 200
    assert b"scripted" in success.body  # the faults did not use up the script
    assert [x.fault.kind if x.fault else None for x in recorded] == ["status", "status", None]
    assert [x.status for x in recorded] == [429, 429, 200]


@pytest.mark.parametrize(
    ("protocol", "status", "expected"),
    [
        ("openai", 500, ("error", "type", "server_error")),
        ("openai", 503, ("error", "type", "server_error")),
        ("anthropic", 500, ("error", "type", "api_error")),
        ("anthropic", 529, ("error", "type", "overloaded_error")),
        ("gemini", 503, ("error", "status", "UNAVAILABLE")),
        ("gemini", 500, ("error", "status", "INTERNAL")),
    ],
)
def test_server_errors_take_the_api_shape(
    protocol: str, status: int, expected: tuple[str, str, str]
) -> None:
    path, body, _, _, headers = CALLS[protocol]
    with MockLLMServer(faults=[Fault.error(status)]) as s:
        response = call(s.url, path, body, headers=headers)
    assert response.status == status
    outer, key, value = expected
    assert response.json()[outer][key] == value  # type: ignore[index]
    assert "retry-after" not in response.headers


def test_a_timeout_hangs_until_the_client_gives_up() -> None:
    with MockLLMServer(["after"], faults=[Fault.timeout()]) as s:
        with pytest.raises(TimeoutError):
            call(s.url, "/v1/chat/completions", chat("x"), timeout=0.2)
        answer = call(s.url, "/v1/chat/completions", chat("x")).json()
        hung = s.calls()[0]
    assert answer["choices"][0]["message"]["content"] == "after"  # type: ignore[index]
    assert hung.fault == Fault.timeout()
    assert hung.status is None


def _wait_for(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def _raw_request(path: str, body: dict[str, object], port: int, fault: str) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"x-mock-fault: {fault}\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


def test_stopping_with_a_hanging_request_is_prompt() -> None:
    server = MockLLMServer().start_in_thread()
    thread = server._thread
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(_raw_request("/api/chat", chat("x"), server.port, "timeout"))
        _wait_for(lambda: bool(server.calls()))
        started = time.monotonic()
        server.stop()
        stopped = time.monotonic() - started
        assert sock.recv(100) == b""  # the server closed the connection without answering
    assert thread is not None
    assert not thread.is_alive()
    assert stopped < 2.5  # stop() would give up waiting at 5 s; a clean stop is immediate


async def test_closing_on_the_running_loop_with_a_hanging_request_is_prompt() -> None:
    server = await MockLLMServer().start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(_raw_request("/v1/chat/completions", chat("x"), server.port, "timeout"))
    await writer.drain()
    while not server.calls():  # noqa: ASYNC110  (the server offers no event to wait on)
        await asyncio.sleep(0.005)
    await asyncio.wait_for(server.aclose(), 2.5)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()


@pytest.mark.parametrize("protocol", sorted(CALLS))
def test_malformed_json_whole_and_streamed(protocol: str) -> None:
    path, body, stream_path, stream_body, headers = CALLS[protocol]
    with MockLLMServer(faults=[Fault.malformed_json()] * 2) as s:
        whole = call(s.url, path, body, headers=headers)
        streamed = call(s.url, stream_path, stream_body, headers=headers)
    assert whole.status == streamed.status == 200
    assert whole.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(whole.body)
    if protocol == "ollama":
        first, *rest = streamed.body.splitlines()
    else:
        first, *rest = (d.encode() for _, d in parse_sse(streamed.body))
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)
    assert rest
    assert all(line == b"[DONE]" or json.loads(line) for line in rest)


def _read_cut(url: str, path: str, body: dict[str, object], headers: dict[str, str]) -> bytes:
    port = int(url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", path, json.dumps(body), headers=headers)
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    conn.close()
    return caught.value.partial


@pytest.mark.parametrize("protocol", sorted(CALLS))
def test_a_cut_stream_closes_after_n_chunks(protocol: str) -> None:
    path, body, stream_path, stream_body, headers = CALLS[protocol]
    with MockLLMServer(["a b c d e f"], faults=[Fault.cut_stream(after=2)] * 2) as s:
        partial = _read_cut(s.url, stream_path, stream_body, headers)
        half = _read_cut(s.url, path, body, headers)
        complete = call(s.url, path, body, headers=headers)
        cut = s.calls()[0]
    if protocol == "ollama":
        assert len(partial.splitlines()) == 2
    else:
        assert len(parse_sse(partial)) == 2
    assert half  # half of the promised body arrived
    assert complete.status == 200
    assert b"a b c d e f" in complete.body  # the faults did not use up the script
    assert cut.fault == Fault.cut_stream(2)
    assert cut.elapsed is not None


def test_a_wrong_content_type_is_an_html_page() -> None:
    with MockLLMServer(faults=[Fault.wrong_content_type()]) as s:
        response = call(s.url, "/v1/chat/completions", chat("x"))
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.body.startswith(b"<!DOCTYPE html>")


def test_the_x_mock_fault_header_fails_one_request() -> None:
    with MockLLMServer() as s:
        failed = call(
            s.url, "/api/chat", chat("x", stream=False), headers={"x-mock-fault": "503:1"}
        )
        fine = call(s.url, "/api/chat", chat("x", stream=False))
    assert failed.status == 503
    assert failed.headers["retry-after"] == "1"
    assert fine.status == 200


def test_faults_in_a_script_use_up_their_turn() -> None:
    script = Script([Fault.rate_limit(), Reply("boom", status=500), "ok"])
    with MockLLMServer(script) as s:
        statuses = [call(s.url, "/v1/chat/completions", chat("x")).status for _ in range(3)]
        last = s.calls()[-1]
    assert statuses == [429, 500, 200]
    assert last.reply == Reply("ok")
    assert s.exchanges[1].fault == Fault.error(500, "boom")


def test_a_scheduled_content_fault_shows_the_next_scripted_reply() -> None:
    with MockLLMServer(["x y z"], faults=[Fault.malformed_json()]) as s:
        broken = call(s.url, "/api/chat", chat("x", stream=False))
        fixed = call(s.url, "/api/chat", chat("x", stream=False)).json()
    assert broken.body.endswith(b"\x00<oops")
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.body)
    assert fixed["message"]["content"] == "x y z"  # type: ignore[index]


def test_embeddings_get_scheduled_faults_too() -> None:
    with MockLLMServer(faults=[Fault.rate_limit()]) as s:
        limited = call(s.url, "/v1/embeddings", {"model": "e", "input": "x"})
        fine = call(s.url, "/api/embed", {"model": "e", "input": "x"})
    assert limited.status == 429
    assert fine.status == 200


def test_rules_fail_every_nth_or_a_seeded_fraction() -> None:
    with MockLLMServer(faults=every(3, Fault.unavailable())) as s:
        statuses = [call(s.url, "/api/chat", chat("x", stream=False)).status for _ in range(6)]
    assert statuses == [200, 200, 503, 200, 200, 503]

    def failed(seed: int) -> list[int]:
        with MockLLMServer(faults=sometimes(0.5, Fault.server_error(), seed=seed)) as s:
            return [
                i
                for i in range(20)
                if call(s.url, "/api/chat", chat("x", stream=False)).status == 500
            ]

    assert failed(1) == failed(1)
    assert 3 <= len(failed(1)) <= 17


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("429", Fault.rate_limit(1.0)),
        ("429:2", Fault.rate_limit(2.0)),
        ("500", Fault.error(500)),
        ("503:4", Fault.error(503, retry_after=4.0)),
        ("timeout", Fault.timeout()),
        ("malformed", Fault.malformed_json()),
        ("cut", Fault.cut_stream(2)),
        ("cut:5", Fault.cut_stream(5)),
        ("content-type", Fault.wrong_content_type()),
        ("stream-error", Fault.stream_error(after=2)),
        ("stream-error:0", Fault.stream_error(after=0)),
    ],
)
def test_fault_specs_parse(spec: str, fault: Fault) -> None:
    assert Fault.parse(spec) == fault


@pytest.mark.parametrize("spec", ["", "teapot", "200", "cut:x", "cut:-1"])
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Fault.parse(spec)


def test_a_content_fault_in_a_script_breaks_its_own_reply() -> None:
    script = Script(
        [Reply("kept words here", fault=Fault.cut_stream(after=1)), Fault.cut_stream(1)]
    )
    with MockLLMServer(script) as s:
        own = _read_cut(s.url, "/api/chat", chat("x"), {})
        bare = _read_cut(s.url, "/api/chat", chat("x"), {})
    assert json.loads(own)["message"]["content"] == "kept"
    assert json.loads(bare)["message"]["content"] == "mock"  # the prompt hash's first token


@pytest.mark.parametrize("protocol", sorted(CALLS))
def test_a_stream_error_is_an_error_event_in_the_stream(protocol: str) -> None:
    path, body, stream_path, stream_body, headers = CALLS[protocol]
    fault = Fault.stream_error(529 if protocol == "anthropic" else 500, "boom", after=2)
    with MockLLMServer(["a b c d e f"], faults=[fault, fault]) as s:
        streamed = call(s.url, stream_path, stream_body, headers=headers)
        whole = call(s.url, path, body, headers=headers)
    assert streamed.status == 200  # the stream had started: the error comes inside it
    if protocol == "ollama":
        *events, error = [(None, line.decode()) for line in streamed.body.splitlines()]
    else:
        *events, error = parse_sse(streamed.body)
    assert len(events) == 2
    expected = call_error_body(protocol, fault)
    assert json.loads(error[1]) == expected
    assert error[0] == ("error" if protocol == "anthropic" else None)
    assert whole.status == fault.status  # not streamed: a plain HTTP error
    assert whole.json() == expected


def call_error_body(protocol: str, fault: Fault) -> dict[str, object]:
    from plait.testing.mock_anthropic import anthropic_error
    from plait.testing.mock_gemini import gemini_error
    from plait.testing.mock_http import plain_error
    from plait.testing.mock_openai import openai_error
    from plait.testing.mock_tgi import tgi_error

    shape = {
        "openai": openai_error,
        "anthropic": anthropic_error,
        "gemini": gemini_error,
        "ollama": plain_error,
        "tgi": tgi_error,
    }[protocol]
    return shape(fault.status, fault.message)
