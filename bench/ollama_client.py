"""A minimal keep-alive HTTP/1.1 client for Ollama's ``/api/chat`` (asyncio streams only).

The plait "HTTP node" rows use it so that plait's nodes do what GraphBit's agent nodes do:
one POST to the mock LLM server per node. It is a benchmark fixture, not plait's provider.
"""

from __future__ import annotations

import asyncio
import json


class OllamaChat:
    def __init__(self, host: str, port: int, *, model: str = "mock", pool: int = 64) -> None:
        self._host, self._port, self._model = host, port, model
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._limit = asyncio.Semaphore(pool)

    async def chat(self, prompt: str) -> str:
        body = json.dumps(
            {
                "model": self._model,
                "messages": [{"role": "user", "content": prompt}],
                "stream": False,
            }
        ).encode()
        head = (
            f"POST /api/chat HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        async with self._limit:
            if self._idle:
                reader, writer = self._idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self._host, self._port)
            writer.write(head + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
            self._idle.append((reader, writer))
        if b" 200 " not in status:
            raise RuntimeError(f"mock LLM answered {status!r}: {payload!r}")
        content: str = json.loads(payload)["message"]["content"]
        return content

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()
