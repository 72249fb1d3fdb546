"""A deterministic mock LLM server: real HTTP on loopback, standard library only.

It speaks the APIs plait's providers call: OpenAI chat completions, models and embeddings
(``/v1/...``, also what vLLM, LM Studio, llama.cpp, Ollama's ``/v1`` and Hugging Face's TGI
serve), Anthropic messages, Ollama's native API, Google Gemini, TGI's ``/generate`` and TEI's
``/embed``. Each answers whole or streamed exactly in its API's shape, so a client that only
reaches a model over HTTP (plait's providers, GraphBit's Python binding) runs with no model
and no network::

    from plait.testing import MockLLMServer, Reply, ToolCall

    with MockLLMServer(["first answer", Reply.calling(ToolCall("add", {"a": 1}))]) as server:
        ...  # POST f"{server.url}/v1/chat/completions"; server.exchanges records what arrived

The pieces:

- a :class:`Router` maps ``(method, path)`` to a handler; a protocol is a module with a
  function that registers its handlers and its error shape (``mock_openai``, ...);
- every model call is normalised into an :class:`LLMRequest`, and a :class:`Script` turns it
  into a :class:`Reply` (text, tool calls, latency, a fault);
- :meth:`MockLLMServer.begin` applies faults (the ``faults=`` schedule, the ``x-mock-fault``
  header, or the reply's own) and returns a :class:`Turn` that paces the tokens;
- the HTTP layer (:mod:`plait.testing.mock_http`) knows nothing about models.

Latency: ``ttft`` seconds before the first token, then ``token_delay`` seconds between tokens
(a reply that is not streamed arrives when its last token would have). Replies come from the
script in order; when it runs out (or with no script) the reply is ``"mock reply <8 hex
digits>"``, a hash of the prompt.

Run it standalone with ``python -m plait.testing --port 11434`` (Ollama's own address).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

from plait.testing.mock_anthropic import register_anthropic
from plait.testing.mock_faults import Fault, FaultRule
from plait.testing.mock_gemini import register_gemini
from plait.testing.mock_http import (
    REASONS,
    BadRequest,
    Handler,
    HTTPRequest,
    HTTPResponder,
    JSONObject,
    Router,
    StreamCut,
    StreamEnded,
    read_request,
    with_params,
)
from plait.testing.mock_ollama import register_ollama
from plait.testing.mock_openai import register_openai
from plait.testing.mock_script import (
    LLMRequest,
    Message,
    Reply,
    Responder,
    Script,
    ScriptItem,
    ToolCall,
    hash_reply,
    tokenize,
)
from plait.testing.mock_tgi import register_tgi
from plait.testing.mock_turn import Exchange, Turn
from plait.testing.mock_vectors import DEFAULT_DIMS

__all__ = [
    "PROTOCOLS",
    "Exchange",
    "HTTPRequest",
    "HTTPResponder",
    "Handler",
    "JSONObject",
    "LLMRequest",
    "Message",
    "MockLLMServer",
    "Reply",
    "Router",
    "Script",
    "ToolCall",
    "Turn",
    "hash_reply",
    "tokenize",
]

_HTML: Final = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>mock proxy page</p></body></html>"
)


# --------------------------------------------------------------------------- server


REGISTRIES: Final[dict[str, Callable[[Router], None]]] = {
    "ollama": register_ollama,
    "openai": register_openai,
    "anthropic": register_anthropic,
    "gemini": register_gemini,
    "tgi": register_tgi,
}
PROTOCOLS: Final = ("ollama", "openai", "anthropic", "gemini", "tgi")


@dataclass(slots=True)
class _Stats:
    requests: list[LLMRequest] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    http_requests: int = 0
    calls: int = 0


class MockLLMServer:
    """A loopback HTTP server answering model calls from a :class:`Script`.

    ``with MockLLMServer() as s:`` serves from a background thread (its own event loop);
    ``async with MockLLMServer() as s:`` serves on the running loop. ``port=0`` picks a free
    port; read it back from :attr:`port` or :attr:`url`.

    ``script``: a :class:`Script`, a list of replies, or a function of the request.
    ``faults``: a list consumed one per model call (``None`` = no fault), or a function of the
    request. ``protocols``: names (``"openai"``, ...) or register functions; all by default.
    ``api_key``: when set, calls must carry it the way their API does. ``record=False`` keeps
    no history (long benchmark runs).
    """

    def __init__(
        self,
        script: Script | Iterable[ScriptItem] | Responder | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ttft: float = 0.0,
        token_delay: float = 0.0,
        models: Sequence[str] = ("mock",),
        protocols: Sequence[Callable[[Router], None] | str] | None = None,
        record: bool = True,
        faults: Iterable[Fault | None] | FaultRule | None = None,
        api_key: str | None = None,
        embedding_dims: int = DEFAULT_DIMS,
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
        self.api_key = api_key
        self.embedding_dims = embedding_dims
        self._fault_rule: FaultRule | None = faults if callable(faults) else None
        self._fault_list: list[Fault | None] = (
            [] if faults is None or callable(faults) else [*faults]
        )
        self.router = Router()
        for protocol in PROTOCOLS if protocols is None else protocols:
            if isinstance(protocol, str) and protocol not in REGISTRIES:
                raise ValueError(f"unknown protocol {protocol!r}: one of {', '.join(PROTOCOLS)}")
            register = REGISTRIES[protocol] if isinstance(protocol, str) else protocol
            register(self.router)
        self._requested_port = port
        self._stats = _Stats()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
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
    def exchanges(self) -> list[Exchange]:
        """Every HTTP request received and its accounting, in arrival order (``record``)."""
        return list(self._stats.exchanges)

    def calls(self, path: str | None = None) -> list[Exchange]:
        """The exchanges that were model calls, optionally only those to ``path``."""
        return [
            x
            for x in self._stats.exchanges
            if x.request is not None and (path is None or x.path == path)
        ]

    @property
    def http_request_count(self) -> int:
        return self._stats.http_requests

    # -- what handlers call

    def reply_for(self, request: LLMRequest) -> Reply:
        """Record ``request`` and take its reply from the script (no faults, no pacing)."""
        if self.record:
            self._stats.requests.append(request)
        return self.script.next_reply(request)

    def delays(self, reply: Reply) -> tuple[float, float]:
        ttft = self.ttft if reply.ttft is None else reply.ttft
        per_token = self.token_delay if reply.token_delay is None else reply.token_delay
        return ttft, per_token

    def _scheduled_fault(self, request: LLMRequest, http: HTTPRequest) -> Fault | None:
        header = http.headers.get("x-mock-fault")
        if header:
            return Fault.parse(header)
        if self._fault_rule is not None:
            return self._fault_rule(request)
        if request.index < len(self._fault_list):
            return self._fault_list[request.index]
        return None

    async def begin(
        self, request: LLMRequest, http: HTTPRequest, out: HTTPResponder, *, scripted: bool = True
    ) -> Turn | None:
        """Record a model call, apply any fault, and return the turn to deliver (or ``None``).

        ``scripted=False`` (embeddings) leaves the script alone: only scheduled faults apply.
        A scheduled fault that still sends content (a cut stream, malformed JSON) shows the
        reply the script would give next without using it up, so a retry gets that reply.
        """
        request = dataclasses.replace(request, index=self._stats.calls)
        self._stats.calls += 1
        if self.record:
            self._stats.requests.append(request)
        x = out.exchange
        if x is not None:
            x.request = request
        fault = self._scheduled_fault(request, http)
        if not scripted:
            reply = Reply()
        elif fault is None:
            reply = self.script.next_reply(request)
            fault = reply.effective_fault
        else:
            reply = self.script.peek(request) if fault.needs_content else Reply()
        if fault is not None and fault.needs_content and not (reply.text or reply.tool_calls):
            reply = hash_reply(request)  # a bare fault: break some content all the same
        if x is not None:
            x.reply, x.fault = reply, fault
        if fault is not None:
            if fault.kind == "status" or (fault.kind == "stream_error" and not request.stream):
                body = out.errors(fault.status, fault.message)
                await out.send_json(fault.status, body, fault.retry_headers())
                return None
            if fault.kind == "timeout":
                await out.hang()
                return None
            if fault.kind == "content_type":
                await out.send_body(200, _HTML, "text/html; charset=utf-8")
                return None
            if fault.kind == "malformed":
                out.malformed = True
            elif fault.kind == "stream_error":
                out.error_after, out.error_body = (
                    fault.after,
                    out.errors(fault.status, fault.message),
                )
            else:
                out.cut_after = fault.after
        ttft, token_delay = self.delays(reply)
        return Turn(request, reply, ttft, token_delay, x)

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
        """Stop listening and end every connection, hanging ones included."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)

    async def _shutdown(self) -> None:
        """Close, then cancel whatever still runs on the thread's loop (the loop ends)."""
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
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the background thread promptly, even with requests hanging or streaming."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
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
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            if self._server is not None:
                raise
            # our own shutdown: end quietly (asyncio <3.12 logs cancelled connection tasks)
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection stays open for another."""
        try:
            request = await read_request(reader, writer)
        except BadRequest as exc:
            await HTTPResponder(writer, keep_alive=False).send_json(400, {"error": str(exc)})
            return False
        if request is None:
            return False
        self._stats.http_requests += 1
        exchange = Exchange.of(request) if self.record else None
        if exchange is not None:
            self._stats.exchanges.append(exchange)
        keep_alive = request.headers.get("connection", "").lower() != "close"
        found = self.router.resolve(request)
        if found is None:
            status = 405 if self.router.allows(request.path) else 404
            responder = HTTPResponder(writer, keep_alive=keep_alive, exchange=exchange)
            message = f"{request.method} {request.path}: {REASONS[status]}"
            await responder.send_json(status, {"error": message})
            return keep_alive
        route, params = found
        responder = HTTPResponder(
            writer, keep_alive=keep_alive, reader=reader, errors=route.errors, exchange=exchange
        )
        try:
            await route.handler(self, with_params(request, params), responder)
        except StreamCut:
            return False
        except StreamEnded:
            return responder.keep_alive
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            raise
        except Exception as exc:
            if responder.status is not None:  # mid-response: nothing sane left to say
                return False
            status = 400 if isinstance(exc, ValueError) else 500
            await responder.send_json(status, route.errors(status, str(exc)))
        return responder.keep_alive
