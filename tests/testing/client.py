"""A tiny HTTP client for the mock server's tests: http.client, SSE and NDJSON parsing."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        value = json.loads(self.body)
        assert isinstance(value, dict), value
        return value

    def events(self) -> list[tuple[str | None, str]]:
        """Server-sent events as (event name, data), parsed the way the SSE spec says."""
        return parse_sse(self.body)

    def data(self) -> list[object]:
        """The JSON data of every SSE event, ``[DONE]`` kept as the string."""
        return [d if d == "[DONE]" else json.loads(d) for _, d in self.events()]

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


def parse_sse(raw: bytes) -> list[tuple[str | None, str]]:
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    text = raw.decode().replace("\r\n", "\n").replace("\r", "\n")
    for line in text.split("\n"):
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events


def call(
    url: str,
    path: str,
    body: object | None = None,
    *,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Response:
    """One request on a new connection; never raises on an HTTP error status."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        data = None if body is None else body if isinstance(body, bytes) else json.dumps(body)
        sent = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method or ("GET" if body is None else "POST"), path, body=data, headers=sent)
        response = conn.getresponse()
        payload = response.read()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
    finally:
        conn.close()


ANTHROPIC = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def chat(content: str, **extra: object) -> dict[str, object]:
    return {"model": "mock", "messages": [{"role": "user", "content": content}], **extra}


def anthropic(content: str, **extra: object) -> dict[str, object]:
    return {
        "model": "claude-mock",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": content}],
        **extra,
    }


def gemini(content: str, **extra: object) -> dict[str, object]:
    return {"contents": [{"role": "user", "parts": [{"text": content}]}], **extra}
