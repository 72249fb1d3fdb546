"""The HTTP/1.1 layer of :class:`~plait.testing.MockLLMServer`; it knows nothing of models.

Requests with a ``Content-Length`` or chunked body, keep-alive connections, JSON responses and
chunked NDJSON streams, and a :class:`Router` from ``(method, path)`` to a handler. A protocol
module (``mock_ollama``; later OpenAI's and Anthropic's) registers its handlers on the router.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from plait.testing.mock_llm import MockLLMServer

__all__ = [
    "REASONS",
    "BadRequest",
    "HTTPRequest",
    "HTTPResponder",
    "Handler",
    "JSONObject",
    "Router",
    "read_request",
]

JSONObject = dict[str, object]

REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
MAX_BODY: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> JSONObject:
        """The body as a JSON object; raises ``ValueError`` on anything else."""
        value = json.loads(self.body or b"{}")
        if not isinstance(value, dict):
            raise ValueError("the request body must be a JSON object")
        return value


class HTTPResponder:
    """Writes one response: a whole JSON body, or a chunked NDJSON stream."""

    def __init__(self, writer: asyncio.StreamWriter, *, keep_alive: bool) -> None:
        self._writer = writer
        self.keep_alive = keep_alive
        self.status: int | None = None

    def _head(self, status: int, headers: Sequence[tuple[str, str]]) -> bytes:
        self.status = status
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append("Connection: " + ("keep-alive" if self.keep_alive else "close"))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send_json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        head = self._head(
            status,
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        self._writer.write(head + body)
        await self._writer.drain()

    async def start_stream(
        self, status: int = 200, content_type: str = "application/x-ndjson"
    ) -> None:
        self._writer.write(
            self._head(status, [("Content-Type", content_type), ("Transfer-Encoding", "chunked")])
        )
        await self._writer.drain()

    async def send_chunk(self, data: bytes) -> None:
        if data:
            self._writer.write(b"%x\r\n%b\r\n" % (len(data), data))
            await self._writer.drain()

    async def send_ndjson(self, payload: object) -> None:
        await self.send_chunk(json.dumps(payload).encode() + b"\n")

    async def end_stream(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()


Handler = Callable[["MockLLMServer", HTTPRequest, HTTPResponder], Awaitable[None]]


class Router:
    """``(method, path)`` -> handler. Protocols add their routes; the server asks here."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def route(self, method: str, path: str) -> Handler | None:
        return self._routes.get((method.upper(), path))

    def allows(self, path: str) -> bool:
        return any(p == path for _, p in self._routes)

    @property
    def paths(self) -> list[str]:
        return sorted({f"{m} {p}" for m, p in self._routes})


async def read_request(reader: asyncio.StreamReader) -> HTTPRequest | None:
    line = await reader.readline()
    if not line.strip():
        return None
    try:
        method, target, _version = line.decode("latin-1").split()
    except ValueError:
        raise BadRequest("malformed request line") from None
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(parts)
    else:
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY:
            raise BadRequest("request body too large")
        body = await reader.readexactly(length) if length else b""
    path, _, query = target.partition("?")
    return HTTPRequest(method.upper(), path, query, headers, body)


class BadRequest(Exception):
    pass
