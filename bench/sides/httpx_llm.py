"""The floor: one keep-alive ``httpx.AsyncClient`` making the same calls, nothing else.

``variant`` is the API: ``openai`` (``POST /v1/chat/completions``) or ``ollama``
(``POST /api/chat`` with ``"stream": false``). asyncio orders the calls wave by wave; the
pool has no connection limit, so the floor never queues.
"""

from __future__ import annotations

import httpx

from bench.llm_common import LlmTarget, Unsupported, run_shape
from bench.llm_scenarios import Shape


def build(variant: str, shape: Shape, mock: tuple[str, int]) -> LlmTarget:
    if variant not in ("openai", "ollama"):
        raise Unsupported(f"no httpx variant {variant!r}")
    client = httpx.AsyncClient(
        base_url=f"http://{mock[0]}:{mock[1]}",
        timeout=600,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
    )
    if variant == "openai":

        async def call(prompt: str) -> str:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": "mock", "messages": [{"role": "user", "content": prompt}]},
            )
            response.raise_for_status()
            text: str = response.json()["choices"][0]["message"]["content"]
            return text

    else:

        async def call(prompt: str) -> str:
            response = await client.post(
                "/api/chat",
                json={
                    "model": "mock",
                    "messages": [{"role": "user", "content": prompt}],
                    "stream": False,
                },
            )
            response.raise_for_status()
            text: str = response.json()["message"]["content"]
            return text

    return LlmTarget(lambda task: run_shape(shape, call, task), aclose=client.aclose)
