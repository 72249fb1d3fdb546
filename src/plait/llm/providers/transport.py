"""HTTP for the providers plait speaks to directly (Ollama, Hugging Face TGI): keep-alive
``httpx`` clients, one per event loop, JSON in and JSON / NDJSON / SSE out, failures mapped.

A connection pool belongs to the event loop that opened it, so :class:`PerLoop` keeps one
client per loop: a model object can serve ``asyncio.run`` after ``asyncio.run`` (and the
official SDK clients of the other providers are kept the same way).
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import httpx
from pydantic import SecretStr

from plait.llm.providers.failures import (
    TRANSPORT_ERRORS,
    invalid_json,
    not_json,
    status_error,
    transport_error,
)

__all__ = ["JSONTransport", "PerLoop", "html_guard", "sdk_http_client", "sse_data",
           "ssl_context"]

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One object per running event loop, made on first use by ``factory``."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary())

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._items[loop] = self._factory()
        return item

    def pop(self) -> T | None:
        """Forget (and return) the current loop's object, for the caller to close."""
        return self._items.pop(asyncio.get_running_loop(), None)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once: loading the CA bundle takes some 25 ms, which
    every new client (one per event loop, so one per ``run_sync``) would pay again."""
    return httpx.create_ssl_context()


@functools.cache
def _sdk_ssl_context() -> ssl.SSLContext:
    try:
        import httpx2  # the official SDKs' HTTP client, with its own default trust store
    except ImportError:
        return ssl_context()
    return httpx2.create_ssl_context()


def sdk_http_client(sdk: Any) -> Any:
    """An official SDK's (``openai``, ``anthropic``) default async HTTP client, with the TLS
    context built once per process."""
    return sdk.DefaultAsyncHttpxClient(verify=_sdk_ssl_context())


class JSONTransport:
    """POST JSON to ``base_url``; read one JSON reply or a stream of lines."""

    def __init__(self, provider: str, base_url: str, *, timeout: float,
                 headers: Mapping[str, str] | None = None,
                 secrets: tuple[SecretStr | None, ...] = ()) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._secrets = secrets
        self._clients = PerLoop(lambda: httpx.AsyncClient(
            base_url=self.base_url, headers=dict(headers or {}), timeout=timeout,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            verify=ssl_context(), event_hooks={"response": [html_guard(provider)]}))

    async def post(self, path: str, body: Mapping[str, object]) -> tuple[object, httpx.Headers]:
        """The reply's JSON and headers."""
        try:
            response = await self._clients.get().post(path, json=body)
        except TRANSPORT_ERRORS as err:
            raise transport_error(self.provider, err, secrets=self._secrets) from None
        if response.status_code >= 400:
            raise status_error(self.provider, response.status_code, response.content,
                               response.headers, secrets=self._secrets)
        try:
            return json.loads(response.content), response.headers
        except ValueError as err:
            raise invalid_json(self.provider, "the reply", err) from None

    async def lines(self, path: str, body: Mapping[str, object],
                    headers_seen: Callable[[httpx.Headers], None] | None = None,
                    ) -> AsyncGenerator[str, None]:
        """The reply's non-empty lines as they arrive (NDJSON, SSE). Close it (``aclosing``)
        to end the request early."""
        try:
            async with self._clients.get().stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise status_error(self.provider, response.status_code, response.content,
                                       response.headers, secrets=self._secrets)
                if headers_seen is not None:
                    headers_seen(response.headers)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield line
        except TRANSPORT_ERRORS as err:
            raise transport_error(self.provider, err, secrets=self._secrets) from None

    async def aclose(self) -> None:
        client = self._clients.pop()
        if client is not None:
            await client.aclose()


def html_guard(provider: str) -> Callable[[httpx.Response], Awaitable[None]]:
    """An ``httpx`` response hook refusing a successful reply that is an HTML page (a proxy's
    or a captive portal's) before anyone tries to read it as JSON."""

    async def guard(response: httpx.Response) -> None:
        content_type = response.headers.get("content-type", "")
        if response.is_success and content_type.startswith("text/html"):
            raise not_json(provider, content_type)

    return guard


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The ``data:`` payloads of a server-sent event stream (one per line, as LLM APIs send)."""
    async for line in lines:
        if line.startswith("data:"):
            yield line[5:].strip()
