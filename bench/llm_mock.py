"""The mock LLM of the LLM-workflow benchmark: ``python -m bench.llm_mock --port N``.

plait's :class:`~plait.testing.MockLLMServer` (OpenAI and Ollama APIs, no recording) with a
script that reads the latency tag of each prompt (see :mod:`bench.llm_scenarios`) and answers
with a six-token reply that echoes it, paced at that latency: ``ttft`` before the first token,
``token_delay`` between tokens (a whole, non-streamed reply arrives when its last token would).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.llm_scenarios import REPLY_TOKENS, latency_of
from plait.testing import LLMRequest, MockLLMServer, Reply, Script, tokenize

MODELS = ("mock", "mock:latest")  # GraphBit pulls a model whose exact name is not listed


def reply(request: LLMRequest) -> Reply:
    latency = latency_of(request.prompt)
    digest = hashlib.sha256(f"{request.model}\n{request.prompt}".encode()).hexdigest()
    words = " ".join(digest[i : i + 8] for i in range(0, 32, 8))
    return Reply(f"reply {words} {latency.tag}", ttft=latency.ttft, token_delay=latency.token_delay)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.llm_mock", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sample = reply(LLMRequest("openai", "chat", "mock", "x", False, {}))
    assert len(tokenize(sample.text)) == REPLY_TOKENS, sample.text
    server = MockLLMServer(
        Script(fallback=reply),
        host=args.host,
        port=args.port,
        models=MODELS,
        protocols=("openai", "ollama"),
        record=False,
    )

    async def serve() -> None:
        async with server:
            print(f"bench mock LLM listening on {server.url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
