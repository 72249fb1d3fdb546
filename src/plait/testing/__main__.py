"""``python -m plait.testing``: serve the mock LLM (every API it speaks) until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from plait.testing.mock_faults import Fault, FaultRule, sometimes
from plait.testing.mock_llm import PROTOCOLS, MockLLMServer
from plait.testing.mock_script import Script


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m plait.testing",
        description="Serve a deterministic mock LLM (OpenAI, Anthropic, Ollama, Gemini, TGI).",
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
    parser.add_argument("--model", action="append", default=[], help="a model to list")
    parser.add_argument(
        "--protocol", action="append", choices=PROTOCOLS, help="serve only these APIs"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=Fault.parse,
        help="fail the next model call: 429, 429:SECONDS, 500, 503, timeout, malformed, cut, "
        "cut:N, stream-error, stream-error:N, content-type (repeatable, in order)",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="instead, fail this fraction of calls (deterministic) with --fault's first kind "
        "(503 by default)",
    )
    parser.add_argument("--api-key", default=None, help="require this key")
    parser.add_argument("--embedding-dims", type=int, default=384)
    args = parser.parse_args(argv)
    faults: list[Fault | None] | FaultRule = list(args.fault)
    if args.fault_rate:
        faults = sometimes(args.fault_rate, args.fault[0] if args.fault else Fault.unavailable())
    server = MockLLMServer(
        Script(args.reply, cycle=True),
        host=args.host,
        port=args.port,
        ttft=args.ttft,
        token_delay=args.token_delay,
        models=args.model or ("mock",),
        protocols=args.protocol,
        record=False,
        faults=faults,
        api_key=args.api_key,
        embedding_dims=args.embedding_dims,
    )

    async def serve() -> None:
        async with server:
            print(f"mock LLM listening on {server.url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
