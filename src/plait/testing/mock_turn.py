"""One model call's life in the mock server: its record (:class:`Exchange`) and its delivery.

:class:`Turn` turns a :class:`~plait.testing.Reply` into what a protocol handler sends: text
tokens (cut at the request's ``max_tokens``), tool calls with stable ids and their arguments
in pieces, the finish reason, token usage, and the pacing (``ttft``, then ``token_delay``)
that the server accounts for in the request's :class:`Exchange`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from plait.testing.mock_faults import Fault
from plait.testing.mock_http import HTTPRequest
from plait.testing.mock_script import LLMRequest, Reply, ToolCall, tokenize

__all__ = ["REDACTED", "SECRET_HEADERS", "Exchange", "Finish", "PlannedCall", "Turn"]

SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"}
)
REDACTED: Final = "[redacted]"
Finish = Literal["stop", "length", "tool_calls"]


# --------------------------------------------------------------------------- recording


@dataclass(slots=True)
class Exchange:
    """One HTTP request as received (secrets redacted) and what the server did with it.

    ``ttft``/``token_delay`` are the configured delays, ``tokens`` the number of pieces paced,
    ``first_token`` and ``elapsed`` the seconds from receiving the request to the first token
    and to the end of the response, measured by the server.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: object
    """The JSON body, the raw text if it is not JSON, ``None`` if empty."""
    received_at: float = field(default=0.0, repr=False)
    status: int | None = None
    request: LLMRequest | None = None
    reply: Reply | None = None
    fault: Fault | None = None
    ttft: float = 0.0
    token_delay: float = 0.0
    tokens: int = 0
    first_token: float | None = None
    elapsed: float | None = None

    @classmethod
    def of(cls, http: HTTPRequest) -> Exchange:
        headers = {k: REDACTED if k in SECRET_HEADERS else v for k, v in http.headers.items()}
        query = "&".join(
            f"key={REDACTED}" if pair.startswith("key=") else pair
            for pair in http.query.split("&")
            if pair
        )
        body: object = None
        if http.body:
            try:
                body = http.json()
            except ValueError:
                body = http.body.decode("utf-8", "replace")
        return cls(http.method, http.path, query, headers, body, time.perf_counter())


# --------------------------------------------------------------------------- one turn


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A tool call of the reply with its id and the pieces its arguments stream in."""

    call: ToolCall
    digest: str
    pieces: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def arguments(self) -> Mapping[str, object]:
        return self.call.arguments

    @property
    def arguments_json(self) -> str:
        return self.call.arguments_json

    def id(self, prefix: str = "call_") -> str:
        return self.call.id or prefix + self.digest


class Turn:
    """A reply being delivered: its tokens, tool calls, finish reason, usage and pacing.

    Handlers call :meth:`token` before sending each streamed piece (text tokens, then tool-call
    argument pieces), or :meth:`wait` once before a whole response.
    """

    def __init__(
        self, request: LLMRequest, reply: Reply, ttft: float, token_delay: float, x: Exchange | None
    ) -> None:
        self.request = request
        self.reply = reply
        self.ttft = ttft
        self.token_delay = token_delay
        self._exchange = x
        self._paced = 0
        tokens = tokenize(reply.text) if reply.text or not reply.tool_calls else []
        limit = request.max_tokens
        truncated = limit is not None and limit >= 1 and len(tokens) > limit
        self.tokens: list[str] = tokens[:limit] if truncated else tokens
        self.finish: Finish = (
            "length" if truncated else "tool_calls" if reply.tool_calls else "stop"
        )
        self.calls: list[PlannedCall] = []
        for i, call in enumerate(reply.tool_calls):
            seed = f"{request.prompt}\n{i}\n{call.name}\n{call.arguments_json}"
            digest = hashlib.sha256(seed.encode()).hexdigest()[:24]
            args = call.arguments_json
            pieces = tuple(args[j : j + 8] for j in range(0, len(args), 8)) or ("",)
            self.calls.append(PlannedCall(call, digest, pieces))
        if x is not None:
            x.ttft, x.token_delay = ttft, token_delay

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def input_tokens(self) -> int:
        return len(tokenize(self.request.prompt))

    @property
    def output_tokens(self) -> int:
        return len([t for t in self.tokens if t]) + sum(len(c.pieces) for c in self.calls)

    def id(self, prefix: str) -> str:
        """A response id: ``prefix`` and a digest of the request."""
        seed = f"{self.request.index}\n{self.request.prompt}"
        return prefix + hashlib.sha256(seed.encode()).hexdigest()[:24]

    async def token(self) -> None:
        """Wait for the next streamed piece: ``ttft`` for the first, ``token_delay`` after."""
        delay = self.ttft if self._paced == 0 else self.token_delay
        if delay > 0:
            await asyncio.sleep(delay)
        self._paced += 1
        x = self._exchange
        if x is not None:
            x.tokens = self._paced
            if x.first_token is None:
                x.first_token = time.perf_counter() - x.received_at

    async def wait(self) -> None:
        """Wait as long as streaming all pieces would take (a whole, non-streamed answer)."""
        pieces = len(self.tokens) + sum(len(c.pieces) for c in self.calls)
        delay = self.ttft + self.token_delay * max(0, pieces - 1)
        if delay > 0:
            await asyncio.sleep(delay)
        x = self._exchange
        if x is not None:
            x.tokens = pieces
            x.first_token = time.perf_counter() - x.received_at
