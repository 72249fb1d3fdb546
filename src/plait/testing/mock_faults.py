"""Faults the mock LLM server can inject, and schedules that say when.

A :class:`Fault` is a value: put one in a script (``Script([Fault.rate_limit(), "ok"])``) to
fail that turn, pass a list as the server's ``faults=`` schedule (``[Fault.rate_limit()] * 2``:
the first two model calls fail, then the script answers), a function of the request
(:func:`every`, :func:`sometimes`, or your own), or send the ``x-mock-fault`` request header
(``x-mock-fault: 429``) from a client you cannot script. Error bodies take the shape of the API
that was called (OpenAI's ``{"error": {...}}``, Anthropic's ``{"type": "error", ...}``, ...).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from plait.testing.mock_script import LLMRequest

__all__ = ["Fault", "FaultKind", "FaultRule", "every", "sometimes"]

FaultKind = Literal["status", "timeout", "malformed", "cut", "stream_error", "content_type"]

_MESSAGES: Final = {
    400: "mock: bad request",
    401: "mock: invalid API key",
    404: "mock: not found",
    429: "mock: rate limit exceeded, retry later",
    500: "mock: internal server error",
    502: "mock: bad gateway",
    503: "mock: service unavailable",
    529: "mock: overloaded",
}


@dataclass(frozen=True, slots=True)
class Fault:
    """What goes wrong with one model call. Build one with the class methods.

    - ``status``: an HTTP error (``status``, ``message``, ``Retry-After`` when ``retry_after``);
    - ``timeout``: the request is read and never answered until the client gives up;
    - ``malformed``: status 200, but the body (or a stream's first event) is not valid JSON;
    - ``cut``: the response stops after ``after`` stream chunks (half the body if not
      streamed) and the connection closes;
    - ``stream_error``: a stream sends ``after`` events, then an error event in the API's
      shape (``event: error`` for Anthropic, ``data: {"error": ...}`` for OpenAI) and ends; a
      call that is not streamed gets the plain HTTP error ``status``;
    - ``content_type``: status 200 with an HTML page, like a captive portal or a proxy.
    """

    kind: FaultKind
    status: int = 200
    message: str = ""
    retry_after: float | None = None
    after: int = 2

    @classmethod
    def error(
        cls, status: int = 500, message: str | None = None, *, retry_after: float | None = None
    ) -> Fault:
        """An HTTP error status with the API's error body."""
        if not 400 <= status <= 599:
            raise ValueError(f"an error status is 4xx or 5xx, not {status}")
        text = message if message is not None else _MESSAGES.get(status, f"mock: error {status}")
        return cls("status", status, text, retry_after)

    @classmethod
    def rate_limit(cls, retry_after: float = 1.0, message: str | None = None) -> Fault:
        """429 Too Many Requests with a ``Retry-After`` header (whole seconds, rounded up)."""
        return cls.error(429, message, retry_after=retry_after)

    @classmethod
    def server_error(cls, message: str | None = None) -> Fault:
        return cls.error(500, message)

    @classmethod
    def unavailable(cls, message: str | None = None, *, retry_after: float | None = None) -> Fault:
        return cls.error(503, message, retry_after=retry_after)

    @classmethod
    def timeout(cls) -> Fault:
        return cls("timeout")

    @classmethod
    def malformed_json(cls) -> Fault:
        return cls("malformed", 200)

    @classmethod
    def cut_stream(cls, after: int = 2) -> Fault:
        if after < 0:
            raise ValueError("after must be >= 0")
        return cls("cut", 200, after=after)

    @classmethod
    def stream_error(
        cls, status: int = 500, message: str | None = None, *, after: int = 2
    ) -> Fault:
        if after < 0:
            raise ValueError("after must be >= 0")
        error = cls.error(status, message)
        return cls("stream_error", error.status, error.message, after=after)

    @classmethod
    def wrong_content_type(cls) -> Fault:
        return cls("content_type", 200)

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """``"429"``, ``"429:2"`` (Retry-After 2 s), ``"500"``, ``"timeout"``, ``"malformed"``,
        ``"cut"``, ``"cut:3"``, ``"stream-error"``, ``"stream-error:3"``, ``"content-type"``: the
        CLI's and ``x-mock-fault``'s syntax."""
        name, _, arg = spec.strip().lower().partition(":")
        try:
            if name.isdigit():
                status = int(name)
                if status == 429:
                    return cls.rate_limit(float(arg) if arg else 1.0)
                return cls.error(status, retry_after=float(arg) if arg else None)
            if name == "timeout":
                return cls.timeout()
            if name in ("malformed", "malformed-json"):
                return cls.malformed_json()
            if name in ("cut", "cut-stream"):
                return cls.cut_stream(int(arg) if arg else 2)
            if name == "stream-error":
                return cls.stream_error(after=int(arg) if arg else 2)
            if name in ("content-type", "wrong-content-type", "html"):
                return cls.wrong_content_type()
        except ValueError:
            pass
        raise ValueError(
            f"unknown fault {spec!r}: use a status (429, 429:2, 500, 503), timeout, malformed, "
            "cut, cut:N, stream-error, stream-error:N or content-type"
        )

    @property
    def needs_content(self) -> bool:
        """Whether the response still carries a (broken) reply."""
        return self.kind in ("malformed", "cut", "stream_error")

    def retry_headers(self) -> list[tuple[str, str]]:
        if self.retry_after is None:
            return []
        return [
            ("Retry-After", str(max(0, math.ceil(self.retry_after)))),
            ("retry-after-ms", str(round(self.retry_after * 1000))),
        ]


FaultRule = Callable[["LLMRequest"], Fault | None]
"""A fault schedule as a function of the request (``request.index`` is the call number)."""


def every(n: int, fault: Fault, *, offset: int = 0) -> FaultRule:
    """Fail every ``n``-th model call (calls ``n-1+offset``, ``2n-1+offset``, ...)."""
    if n < 1:
        raise ValueError("n must be >= 1")

    def rule(request: LLMRequest) -> Fault | None:
        k = request.index - offset
        return fault if k >= 0 and k % n == n - 1 else None

    return rule


def sometimes(rate: float, fault: Fault, *, seed: int = 0) -> FaultRule:
    """Fail a deterministic pseudo-random ``rate`` of the calls (same seed, same calls)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError("rate is between 0 and 1")

    def rule(request: LLMRequest) -> Fault | None:
        digest = hashlib.blake2b(f"{seed}:{request.index}".encode(), digest_size=8).digest()
        return fault if int.from_bytes(digest, "big") / 2**64 < rate else None

    return rule
