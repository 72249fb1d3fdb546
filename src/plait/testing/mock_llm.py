"""A deterministic mock LLM server: real HTTP on loopback, standard library only.

It speaks Ollama's protocol today (``/api/chat``, ``/api/generate``, ``/api/tags``, plus the
small ``/api/pull``, ``/api/show`` and ``/api/version`` that clients probe), so code that can
only reach a model over HTTP (GraphBit's Python binding, plait's own providers) runs with no
model and no network::

    from plait.testing import MockLLMServer, Reply

    with MockLLMServer(script=["first answer", Reply("second", ttft=0.05)]) as server:
        ...  # POST f"{server.url}/api/chat"; server.requests records what arrived

Three pieces keep later protocols and faults additive rather than rewrites:

- a :class:`Router` maps ``(method, path)`` to a handler; a protocol is a module with a
  function that registers its handlers (:mod:`plait.testing.mock_ollama`; OpenAI
  ``/v1/chat/completions`` and Anthropic ``/v1/messages`` become two more such modules);
- every model call is normalised into an :class:`LLMRequest`, and a :class:`Script` turns it
  into a :class:`Reply` (text, latency, and an HTTP ``status`` that is the seed of fault
  injection);
- the HTTP layer (:mod:`plait.testing.mock_http`) knows nothing about models: JSON bodies,
  NDJSON streams over chunked transfer encoding, keep-alive connections.

Latency: ``ttft`` seconds before the first token, then ``token_delay`` seconds between tokens
(a non-streamed reply waits for the sum). Replies come from the script in order; when it runs
out (or with no script) the reply is ``"mock reply <8 hex digits>"``, a hash of the prompt.

Run it standalone with ``python -m plait.testing --port 11434`` (Ollama's own address).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

from plait.testing.mock_http import (
    REASONS,
    BadRequest,
    Handler,
    HTTPRequest,
    HTTPResponder,
    JSONObject,
    Router,
    read_request,
)

__all__ = [
    "HTTPRequest",
    "HTTPResponder",
    "Handler",
    "JSONObject",
    "LLMRequest",
    "MockLLMServer",
    "Reply",
    "Router",
    "Script",
    "hash_reply",
    "tokenize",
]

_TOKEN_RE: Final = re.compile(r"\s*\S+|\s+$")


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. ``None`` latencies fall back to the server's settings.

    ``status`` other than 200 answers with an error body in the protocol's shape instead
    of text: the first step of fault injection.
    """

    text: str
    ttft: float | None = None
    token_delay: float | None = None
    status: int = 200


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """A model call as any protocol sees it: what the script decides a reply from."""

    protocol: str
    endpoint: str
    model: str
    prompt: str
    stream: bool
    body: Mapping[str, object]


def tokenize(text: str) -> list[str]:
    """Split ``text`` into word tokens that keep their leading whitespace ("a b" -> "a", " b")."""
    return _TOKEN_RE.findall(text) or [""]


def hash_reply(request: LLMRequest) -> Reply:
    """The default reply: a short, stable hash of the model and prompt."""
    digest = hashlib.sha256(f"{request.model}\n{request.prompt}".encode()).hexdigest()
    return Reply(f"mock reply {digest[:8]}")


Responder = Callable[[LLMRequest], "Reply | str"]


class Script:
    """Replies in order, then ``fallback`` (the prompt hash by default) once they run out.

    ``replies`` may mix strings and :class:`Reply`; ``cycle=True`` repeats them forever.
    Thread-safe: a server may serve several connections at once.
    """

    def __init__(
        self,
        replies: Iterable[Reply | str] = (),
        *,
        cycle: bool = False,
        fallback: Responder = hash_reply,
    ) -> None:
        self._replies = [r if isinstance(r, Reply) else Reply(r) for r in replies]
        self._cycle = cycle and bool(self._replies)
        self._fallback = fallback
        self._index = 0
        self._lock = threading.Lock()

    def next_reply(self, request: LLMRequest) -> Reply:
        with self._lock:
            if self._index < len(self._replies) or self._cycle:
                reply = self._replies[self._index % len(self._replies)]
                self._index += 1
                return reply
        answer = self._fallback(request)
        return answer if isinstance(answer, Reply) else Reply(answer)

    @property
    def used(self) -> int:
        """How many scripted replies were handed out."""
        return self._index


# --------------------------------------------------------------------------- server


@dataclass(slots=True)
class _Stats:
    requests: list[LLMRequest] = field(default_factory=list)
    http_requests: int = 0


class MockLLMServer:
    """A loopback HTTP server answering model calls from a :class:`Script`.

    ``with MockLLMServer() as s:`` serves from a background thread (its own event loop);
    ``async with MockLLMServer() as s:`` serves on the running loop. ``port=0`` picks a free
    port; read it back from :attr:`port` or :attr:`url`.
    """

    def __init__(
        self,
        script: Script | Iterable[Reply | str] | Responder | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ttft: float = 0.0,
        token_delay: float = 0.0,
        models: Sequence[str] = ("mock",),
        protocols: Sequence[Callable[[Router], None]] | None = None,
        record: bool = True,
    ) -> None:
        if callable(script):
            script = Script(fallback=script)
        elif script is None or not isinstance(script, Script):
            script = Script(script or ())
        self.script: Script = script
        self.host = host
        self.ttft = ttft
        self.token_delay = token_delay
        self.models = tuple(models)
        self.record = record
        self.router = Router()
        if protocols is None:
            from plait.testing.mock_ollama import register_ollama  # it imports this module

            protocols = (register_ollama,)
        for register in protocols:
            register(self.router)
        self._requested_port = port
        self._stats = _Stats()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- what the tests read

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the mock server is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[LLMRequest]:
        """Every model call received, in arrival order (when ``record`` is on)."""
        return list(self._stats.requests)

    @property
    def http_request_count(self) -> int:
        return self._stats.http_requests

    # -- what handlers call

    def reply_for(self, request: LLMRequest) -> Reply:
        if self.record:
            self._stats.requests.append(request)
        return self.script.next_reply(request)

    def delays(self, reply: Reply) -> tuple[float, float]:
        ttft = self.ttft if reply.ttft is None else reply.ttft
        per_token = self.token_delay if reply.token_delay is None else reply.token_delay
        return ttft, per_token

    # -- lifecycle on the running loop

    async def start(self) -> Self:
        self._server = await asyncio.start_server(
            self._serve_connection,
            self.host,
            self._requested_port,
            backlog=4096,
            reuse_address=True,
        )
        return self

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for writer in list(self._writers):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def _shutdown(self) -> None:
        """Close, then cancel the connections still being served (the thread's loop ends)."""
        await self.aclose()
        pending = asyncio.all_tasks() - {asyncio.current_task()}
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- lifecycle in a background thread

    def start_in_thread(self) -> Self:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=serve, name="plait-mock-llm", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start_in_thread()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- HTTP

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    request = await read_request(reader)
                except BadRequest as exc:
                    await HTTPResponder(writer, keep_alive=False).send_json(
                        400, {"error": str(exc)}
                    )
                    return
                if request is None:
                    return
                self._stats.http_requests += 1
                keep_alive = request.headers.get("connection", "").lower() != "close"
                responder = HTTPResponder(writer, keep_alive=keep_alive)
                handler = self.router.route(request.method, request.path)
                if handler is None:
                    status = 405 if self.router.allows(request.path) else 404
                    await responder.send_json(
                        status, {"error": f"{request.method} {request.path}: {REASONS[status]}"}
                    )
                else:
                    try:
                        await handler(self, request, responder)
                    except ValueError as exc:  # bad JSON or fields, before any byte was sent
                        if responder.status is not None:
                            raise
                        await responder.send_json(400, {"error": str(exc)})
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
