"""``python -m plait.testing``: serve the mock LLM (Ollama API) until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from plait.testing.mock_llm import MockLLMServer, Script


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m plait.testing", description="Serve a deterministic mock LLM (Ollama API)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434, help="0 picks a free port")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds to the first token")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument(
        "--reply",
        action="append",
        default=[],
        help="a scripted reply (repeatable, cycled); default: a prompt hash",
    )
    parser.add_argument("--model", action="append", default=[], help="a model for /api/tags")
    args = parser.parse_args(argv)
    server = MockLLMServer(
        Script(args.reply, cycle=True),
        host=args.host,
        port=args.port,
        ttft=args.ttft,
        token_delay=args.token_delay,
        models=args.model or ("mock",),
        record=False,
    )

    async def serve() -> None:
        async with server:
            print(f"mock LLM listening on {server.url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
