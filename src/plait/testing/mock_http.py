"""The HTTP/1.1 layer of :class:`~plait.testing.MockLLMServer`; it knows nothing of models.

Requests with a ``Content-Length`` or chunked body, keep-alive connections, JSON responses,
chunked streams (NDJSON or server-sent events), and a :class:`Router` from ``(method, path)``
to a handler. A protocol module (``mock_ollama``, ``mock_openai``, ...) registers its handlers
on the router, each with the function that shapes an error body the way that API does.

The responder also carries out the faults that live at the byte level, so protocol handlers
stay linear: a stream cut after *n* chunks (:class:`StreamCut`), a body or first stream event
that is not valid JSON, and a request that is never answered (:meth:`HTTPResponder.hang`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote

if TYPE_CHECKING:
    from plait.testing.mock_llm import MockLLMServer
    from plait.testing.mock_turn import Exchange

__all__ = [
    "REASONS",
    "BadRequest",
    "ErrorFormat",
    "HTTPRequest",
    "HTTPResponder",
    "Handler",
    "JSONObject",
    "Route",
    "Router",
    "SSEStyle",
    "StreamCut",
    "StreamEnded",
    "plain_error",
    "read_request",
]

JSONObject = dict[str, object]

REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    424: "Failed Dependency",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}
MAX_BODY: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    params: Mapping[str, str] = field(default_factory=dict)
    """Values of the ``{name}`` segments of the route that matched."""

    def json(self) -> JSONObject:
        """The body as a JSON object; raises ``ValueError`` on anything else."""
        value = json.loads(self.body or b"{}")
        if not isinstance(value, dict):
            raise ValueError("the request body must be a JSON object")
        return value

    def query_value(self, name: str) -> str | None:
        for pair in self.query.split("&"):
            key, _, value = pair.partition("=")
            if key == name:
                return unquote(value)
        return None


class StreamCut(ConnectionError):
    """Raised inside a handler when the responder cut the connection on purpose."""


class StreamEnded(Exception):
    """Raised inside a handler when the responder ended a stream early with an error event."""


@dataclass(frozen=True, slots=True)
class SSEStyle:
    """How an API frames server-sent events: ``data:`` then a space or not, and the line end."""

    space: bool = True
    eol: bytes = b"\n"


class HTTPResponder:
    """Writes one response: a whole body, or a chunked stream of NDJSON lines or SSE events.

    ``cut_after`` (a count of body chunks), ``malformed`` and ``error_after`` (a count of
    stream events, then ``error_body`` as one more event in the stream's own framing) are set
    by fault injection before the handler writes anything; ``exchange`` receives the
    response's accounting.
    """

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        *,
        keep_alive: bool,
        reader: asyncio.StreamReader | None = None,
        errors: ErrorFormat | None = None,
        exchange: Exchange | None = None,
    ) -> None:
        self._writer = writer
        self._reader = reader
        self.keep_alive = keep_alive
        self.errors: ErrorFormat = errors or plain_error
        self.exchange = exchange
        self.status: int | None = None
        self.cut_after: int | None = None
        self.malformed = False
        self.error_after: int | None = None
        self.error_body: object = None
        self._chunks = 0

    def _head(self, status: int, headers: Sequence[tuple[str, str]]) -> bytes:
        self.status = status
        if self.exchange is not None:
            self.exchange.status = status
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append("Connection: " + ("keep-alive" if self.keep_alive else "close"))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _finished(self) -> None:
        """Stamp the accounting before the last byte leaves, so a client never sees it late."""
        if self.exchange is not None and self.exchange.elapsed is None:
            self.exchange.elapsed = time.perf_counter() - self.exchange.received_at

    def dump(self, payload: object) -> bytes:
        """JSON bytes of ``payload``; the first payload is broken when ``malformed`` is set."""
        data = json.dumps(payload, separators=(",", ":")).encode()
        if self.malformed:
            self.malformed = False
            return data[: max(1, len(data) // 2)] + b"\x00<oops"
        return data

    async def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        head = self._head(
            status,
            [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers],
        )
        if self.cut_after is not None:  # promise the whole body, send half of it
            self._writer.write(head + body[: len(body) // 2])
            await self._cut()
        self._finished()
        self._writer.write(head + body)
        await self._writer.drain()

    async def send_json(
        self, status: int, payload: object, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        await self.send_body(status, self.dump(payload), "application/json", headers)

    async def start_stream(
        self,
        status: int = 200,
        content_type: str = "application/x-ndjson",
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        head = self._head(
            status, [("Content-Type", content_type), ("Transfer-Encoding", "chunked"), *headers]
        )
        self._writer.write(head)
        await self._writer.drain()

    async def send_chunk(self, data: bytes) -> None:
        if not data:
            return
        if self.cut_after is not None and self._chunks >= self.cut_after:
            await self._cut()
        self._chunks += 1
        self._writer.write(b"%x\r\n%b\r\n" % (len(data), data))
        await self._writer.drain()

    def _error_due(self) -> bool:
        return self.error_after is not None and self._chunks >= self.error_after

    async def _end_with(self, chunk: bytes) -> None:
        self.error_after = None
        await self.send_chunk(chunk)
        await self.end_stream()
        raise StreamEnded("the mock server ended the stream with an error on purpose")

    async def send_ndjson(self, payload: object) -> None:
        if self._error_due():
            await self._end_with(self.dump(self.error_body) + b"\n")
        await self.send_chunk(self.dump(payload) + b"\n")

    async def send_sse(
        self, payload: object, *, event: str | None = None, style: SSEStyle = SSEStyle()
    ) -> None:
        """One event; a ``str`` payload is sent as is (``[DONE]``), anything else as JSON."""
        if self._error_due():  # an API that names its events names this one "error"
            await self._end_with(self._sse(self.error_body, "error" if event else None, style))
        await self.send_chunk(self._sse(payload, event, style))

    def _sse(self, payload: object, event: str | None, style: SSEStyle) -> bytes:
        data = payload.encode() if isinstance(payload, str) else self.dump(payload)
        eol = style.eol
        frame = b"event: %b%b" % (event.encode(), eol) if event else b""
        frame += b"data: " if style.space else b"data:"
        return frame + data + eol + eol

    async def end_stream(self) -> None:
        self._finished()
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    async def _cut(self) -> None:
        self._finished()
        await self._writer.drain()
        self._writer.close()
        self.keep_alive = False
        raise StreamCut("the mock server cut the response on purpose")

    async def hang(self) -> None:
        """Answer nothing until the client gives up (closes) or the server stops."""
        self.keep_alive = False
        if self._reader is None:
            await asyncio.Event().wait()
            return
        while await self._reader.read(65536):
            pass


Handler = Callable[["MockLLMServer", HTTPRequest, HTTPResponder], Awaitable[None]]
ErrorFormat = Callable[[int, str], JSONObject]
"""``(status, message) -> body``: an API's own shape of an error."""


def plain_error(status: int, message: str) -> JSONObject:
    return {"error": message}


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    errors: ErrorFormat = plain_error
    when: Callable[[HTTPRequest], bool] | None = None
    pattern: re.Pattern[str] | None = None


_PARAM: Final = re.compile(r"\{(\w+)\}")


class Router:
    """``(method, path)`` -> handler. Protocols add their routes; the server asks here.

    A path may hold ``{name}`` segments (``/v1beta/models/{model}:generateContent``); their
    values reach the handler as ``HTTPRequest.params``. ``when`` lets two APIs share a path
    (OpenAI's and Anthropic's ``GET /v1/models``): the first route whose test passes wins.
    """

    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], list[Route]] = {}
        self._patterns: list[Route] = []

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        errors: ErrorFormat = plain_error,
        when: Callable[[HTTPRequest], bool] | None = None,
    ) -> None:
        method = method.upper()
        if _PARAM.search(path):
            regex = "".join(
                f"(?P<{part}>[^/]+?)" if i % 2 else re.escape(part)
                for i, part in enumerate(_PARAM.split(path))
            )
            route = Route(method, path, handler, errors, when, re.compile(regex))
            self._patterns.append(route)
        else:
            self._exact.setdefault((method, path), []).append(
                Route(method, path, handler, errors, when)
            )

    def resolve(self, request: HTTPRequest) -> tuple[Route, dict[str, str]] | None:
        """The route for ``request`` and its path parameters, or ``None``."""
        for route in self._exact.get((request.method, request.path), ()):
            if route.when is None or route.when(request):
                return route, {}
        for route in self._patterns:
            if route.method != request.method or route.pattern is None:
                continue
            match = route.pattern.fullmatch(request.path)
            if match and (route.when is None or route.when(request)):
                return route, match.groupdict()
        return None

    def route(self, method: str, path: str) -> Handler | None:
        found = self.resolve(HTTPRequest(method.upper(), path, "", {}, b""))
        return found[0].handler if found else None

    def allows(self, path: str) -> bool:
        """Whether any method is served at ``path`` (a 405 rather than a 404)."""
        if any(p == path for _, p in self._exact):
            return True
        return any(r.pattern is not None and r.pattern.fullmatch(path) for r in self._patterns)

    @property
    def paths(self) -> list[str]:
        routes = [(m, p) for m, p in self._exact] + [(r.method, r.path) for r in self._patterns]
        return sorted({f"{m} {p}" for m, p in routes})


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None = None
) -> HTTPRequest | None:
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
    if writer is not None and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            try:
                size = int((await reader.readline()).split(b";")[0], 16)
            except ValueError:
                raise BadRequest("malformed chunked body") from None
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(parts)
    else:
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            raise BadRequest("malformed Content-Length") from None
        if length > MAX_BODY:
            raise BadRequest("request body too large")
        body = await reader.readexactly(length) if length else b""
    path, _, query = target.partition("?")
    return HTTPRequest(method.upper(), unquote(path), query, headers, body)


def with_params(request: HTTPRequest, params: Mapping[str, str]) -> HTTPRequest:
    return dataclasses.replace(request, params=params) if params else request


class BadRequest(Exception):
    pass
