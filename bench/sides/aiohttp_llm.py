"""A second floor: one keep-alive ``aiohttp.ClientSession`` making the same calls.

Not a row the issue names: it is here because ``httpx`` (the named floor) slows down sharply
with many requests in flight on one client (its connection pool's bookkeeping), so under
concurrency the ``httpx`` floor is no floor. ``variant`` is the API (``openai`` or
``ollama``); asyncio orders the calls wave by wave; the connector has no connection limit.
"""

from __future__ import annotations

import aiohttp

from bench.llm_common import LlmTarget, Unsupported, run_shape
from bench.llm_scenarios import Shape


def build(variant: str, shape: Shape, mock: tuple[str, int]) -> LlmTarget:
    if variant not in ("openai", "ollama"):
        raise Unsupported(f"no aiohttp variant {variant!r}")
    base = f"http://{mock[0]}:{mock[1]}"
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=600)
    )
    path = "/v1/chat/completions" if variant == "openai" else "/api/chat"

    async def call(prompt: str) -> str:
        body = {"model": "mock", "messages": [{"role": "user", "content": prompt}]}
        if variant == "ollama":
            body["stream"] = False
        async with session.post(base + path, json=body) as response:
            response.raise_for_status()
            data = await response.json()
        if variant == "openai":
            text: str = data["choices"][0]["message"]["content"]
        else:
            text = data["message"]["content"]
        return text

    return LlmTarget(lambda task: run_shape(shape, call, task), aclose=session.close)
