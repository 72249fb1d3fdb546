"""The base of the hosted embedders: ``httpx`` clients per event loop, batches sent a few at
a time, retries of retryable failures, and HTTP failures mapped onto plait's model errors.

=================================================  ===========================================
what happened                                      error
=================================================  ===========================================
HTTP 429                                           ``RateLimited`` (``retry_after`` from
                                                   ``retry-after-ms`` or ``Retry-After``)
HTTP 5xx, 408, 409; timeouts; connection errors;   ``ProviderUnavailable``
a 200 that is not JSON (a proxy's HTML page)
other 4xx (auth, unknown model, batch too large)   ``ProviderRejected``
a body that is not valid JSON or lacks vectors     ``OutputInvalid``
=================================================  ===========================================

The first two are retried ``max_retries`` times before they are raised. Error messages quote
the provider, with the API key blanked out.

(The same mapping serves the chat models in ``plait.llm.providers.failures``; ``plait.rag``
may not import ``plait.llm``, so the few lines it needs live here too.)
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

import httpx
import numpy as np

from plait.errors import (
    ModelError,
    OutputInvalid,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    UsageError,
)
from plait.rag.embeddings.base import (
    EmbedderConfig,
    EmbedKind,
    as_vectors,
    check_texts,
    check_width,
    split_batches,
)

if TYPE_CHECKING:
    from plait.rag.types import Vectors

__all__ = ["HTTPEmbedder", "parse_retry_after"]

logger = logging.getLogger(__name__)

_MAX_WAIT = 60.0
"""A ``Retry-After`` longer than this is not waited for: the error is raised."""
_MAX_MESSAGE = 400

JSONObject = dict[str, object]


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    lower = {k.lower(): v.strip() for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lower.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                continue
            seconds = when.timestamp() - time.time()
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def _said(content: bytes) -> str:
    """The human part of an error body in any provider's shape, shortened."""
    text = content.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:_MAX_MESSAGE]
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, str):
            return error[:_MAX_MESSAGE]
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_MAX_MESSAGE]
    return text[:_MAX_MESSAGE]


@dataclass(slots=True)
class _LoopState:
    client: httpx.AsyncClient
    slots: asyncio.Semaphore


class HTTPEmbedder:
    """An embedding model behind an HTTP API. A subclass says where (``path``), what to send
    (``body``) and how to read the reply (``parse``); this class does the rest.

    Safe to share between tasks and between event loops (one connection pool per loop).
    """

    provider: ClassVar[str]
    default_base_url: ClassVar[str]
    default_batch_size: ClassVar[int]
    max_batch_size: ClassVar[int | None] = None
    """The API's own limit of texts per request, if it has one."""
    default_max_batch_chars: ClassVar[int | None] = None

    def __init__(self, model: str, config: EmbedderConfig | None = None) -> None:
        if not model:
            raise UsageError(f"{self.provider} needs a model name")
        self.model = model
        self.config = config = config or EmbedderConfig()
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        self.batch_size = config.batch_size or self.default_batch_size
        if self.max_batch_size is not None and self.batch_size > self.max_batch_size:
            raise UsageError(f"{self.provider} takes at most {self.max_batch_size} texts per "
                             f"request, not batch_size={self.batch_size}")
        self.max_batch_chars = config.max_batch_chars or self.default_max_batch_chars
        self._dim: int | None = config.dimensions
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r}, base_url={self.base_url!r})"

    # -- the Embedder protocol

    @property
    def model_id(self) -> str:
        """``provider:model``, plus ``@dimensions`` when a size was asked for."""
        suffix = f"@{self.config.dimensions}" if self.config.dimensions else ""
        return f"{self.provider}:{self.model}{suffix}"

    @property
    def dim(self) -> int | None:
        """The configured ``dimensions``, or the size of the first reply (None before)."""
        return self._dim

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "document") -> Vectors:
        items = check_texts(texts, kind)
        if not items:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        batches = list(split_batches(items, self.batch_size, self.max_batch_chars))
        parts: list[Vectors | None] = [None] * len(batches)
        state = self._state()

        async def one(i: int, batch: Sequence[str]) -> None:
            async with state.slots:
                parts[i] = await self._embed_batch(state.client, batch, kind)

        try:
            async with asyncio.TaskGroup() as group:
                for i, (_, batch) in enumerate(batches):
                    group.create_task(one(i, batch))
        except ExceptionGroup as failed:  # one batch failed: raise its error, not a group
            raise failed.exceptions[0] from None
        done = [p for p in parts if p is not None]
        return done[0] if len(done) == 1 else np.vstack(done)

    async def aclose(self) -> None:
        """Close the current event loop's connections."""
        state = self._states.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- what a provider defines

    def path(self) -> str:
        raise NotImplementedError

    def body(self, texts: Sequence[str], kind: EmbedKind) -> JSONObject:
        raise NotImplementedError

    def parse(self, data: object, count: int) -> Sequence[Sequence[float] | Vectors]:
        """The vectors of one reply, in input order; raise ``ValueError`` when the reply has
        none (it becomes :class:`~plait.errors.OutputInvalid`)."""
        raise NotImplementedError

    def auth_headers(self) -> dict[str, str]:
        key = self.config.api_key
        return {"Authorization": f"Bearer {key.get_secret_value()}"} if key else {}

    # -- the machinery

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            client = httpx.AsyncClient(
                base_url=self.base_url, timeout=self.config.timeout,
                headers={**self.config.headers, **self.auth_headers()},
                limits=httpx.Limits(max_connections=max(8, self.config.concurrency)))
            state = self._states[loop] = _LoopState(
                client, asyncio.Semaphore(self.config.concurrency))
        return state

    async def _embed_batch(self, client: httpx.AsyncClient, batch: Sequence[str],
                           kind: EmbedKind) -> Vectors:
        attempt = 0
        while True:
            try:
                data = await self._post(client, self.body(batch, kind))
                try:
                    rows = self.parse(data, len(batch))
                    vectors = as_vectors(rows, normalize=self.config.normalize)
                except (ValueError, TypeError, KeyError, IndexError) as err:
                    raise OutputInvalid(f"the reply holds no usable vectors: {err}",
                                        provider=self.provider) from None
                if vectors.shape[0] != len(batch):
                    raise OutputInvalid(f"{len(batch)} texts sent, {vectors.shape[0]} vectors "
                                        "returned", provider=self.provider)
                break
            except (RateLimited, ProviderUnavailable) as err:
                wait = (err.retry_after if err.retry_after is not None
                        else self.config.retry_backoff * 2 ** attempt)
                if attempt >= self.config.max_retries or wait > _MAX_WAIT:
                    raise
                attempt += 1
                logger.info("embedding request failed; retrying", extra={
                    "provider": self.provider, "model": self.model, "attempt": attempt,
                    "wait": wait, "error": type(err).__name__})
                await asyncio.sleep(wait)
        why = (f"dimensions={self.config.dimensions}" if self.config.dimensions
               else "the size of its earlier replies")
        self._dim = check_width(vectors, self._dim, model_id=self.model_id, why=why)
        return vectors

    async def _post(self, client: httpx.AsyncClient, body: JSONObject) -> object:
        try:
            response = await client.post(self.path(), json=body)
        except httpx.TransportError as err:
            kind = "timed out" if isinstance(err, httpx.TimeoutException) else "connection failed"
            raise ProviderUnavailable(f"{kind} ({type(err).__name__}) at {self.base_url}",
                                      provider=self.provider) from None
        status = response.status_code
        if status >= 400:
            raise self._status_error(status, response)
        if response.headers.get("content-type", "").startswith("text/html"):
            raise ProviderUnavailable("expected JSON, got an HTML page: something other than "
                                      "the model answered", provider=self.provider)
        try:
            return json.loads(response.content)
        except ValueError as err:
            raise OutputInvalid(f"the reply is not valid JSON: {err}",
                                provider=self.provider) from None

    def _status_error(self, status: int, response: httpx.Response) -> ModelError:
        said = self._redact(_said(response.content))
        message = f"HTTP {status}: {said}" if said else f"HTTP {status}"
        retry_after = parse_retry_after(response.headers)
        if status == 429:
            return RateLimited(message, provider=self.provider, status=status,
                               retry_after=retry_after)
        if status >= 500 or status in (408, 409):
            return ProviderUnavailable(message, provider=self.provider, status=status,
                                       retry_after=retry_after)
        return ProviderRejected(message, provider=self.provider, status=status)

    def _redact(self, text: str) -> str:
        key = self.config.api_key
        value = key.get_secret_value() if key is not None else ""
        return text.replace(value, "***") if len(value) >= 4 else text
