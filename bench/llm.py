"""LLM workflows: plait, LangGraph and GraphBit against a mock LLM, side by side, in one run.

    python -m bench.llm                      # full run: 3 interleaved rounds, ~10 minutes
    python -m bench.llm --quick              # smoke run, ~30 s; writes results/llm-quick.*
    python -m bench.llm --only diamond5 --latency 0ms --rounds 2   # writes llm-partial.*

GraphBit's six scenarios (simple, sequential 4, parallel 4, a diamond of 5, a ~19 KB prompt,
10/100/1000 concurrent workflows) at three mock latencies (0 ms; 50 ms to the first token;
300 ms + 20 ms/token), for plait (``llm`` nodes through ``OpenAIModel`` and through
``OllamaModel``), LangGraph with ``ChatOpenAI``, GraphBit (its ``Workflow``/``Executor``, and
its raw ``LlmClient``) and a bare keep-alive ``httpx`` client making the same calls (the
floor). The mock (``bench.llm_mock``) runs in its own process on ``127.0.0.1:11434``, the only
address GraphBit reaches; if that port is taken the GraphBit rows are recorded as not measured.

Every (row, scenario) is measured in a fresh subprocess (``bench.llm_worker``) once per
round, all latencies in that process; rounds interleave the jobs in a shuffled order. Writes
``bench/results/llm.json`` (every raw measurement) and ``llm.md`` (the tables).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, llm_report
from bench.harness import OLLAMA_PORT, RESULTS
from bench.llm_scenarios import (
    INTERLEAVED,
    INTERLEAVED_BUDGET,
    LATENCIES,
    QUICK_INTERLEAVED,
    QUICK_LATENCIES,
    QUICK_SCENARIOS,
    ROWS,
    SCENARIOS,
)

JOB_TIMEOUT = 300.0


def _names(groups: list[str] | None, known: dict[str, Any], what: str) -> list[str]:
    names = [n for g in groups or [] for n in g.split(",") if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what}(s) {unknown}; choose from {list(known)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llm", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; quick 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about 30 s")
    parser.add_argument("--only", action="append", metavar="SCENARIO", help=f"{list(SCENARIOS)}")
    parser.add_argument("--rows", action="append", metavar="ROW", help=f"{list(ROWS)}")
    parser.add_argument("--latency", action="append", metavar="L", help=f"{list(LATENCIES)}")
    parser.add_argument("--out", type=Path, help="output stem (default bench/results/llm)")
    parser.add_argument("--seed", type=int, default=3, help="shuffles the job order per round")
    parser.add_argument("--note", default="", help="a line for the report (e.g. machine load)")
    parser.add_argument(
        "--plait-src", type=Path, help="measure the plait package under this folder (default src/)"
    )
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only rewrite the .md next to this .json"
    )
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(llm_report.markdown(result))
        print(f"wrote {args.render.with_suffix('.md')}")
        return 0
    if args.plait_src:
        harness.set_plait_src(args.plait_src)
    source = harness.plait_source()
    scenarios = _names(args.only, SCENARIOS, "scenario") or list(
        QUICK_SCENARIOS if args.quick else SCENARIOS
    )
    rows = _names(args.rows, ROWS, "row") or list(ROWS)
    latencies = _names(args.latency, LATENCIES, "latency") or list(
        QUICK_LATENCIES if args.quick else LATENCIES
    )
    latencies = [lat for lat in LATENCIES if lat in latencies]  # always 0 -> 50 -> 300
    rounds = args.rounds or (1 if args.quick else 3)
    partial = bool(args.only or args.rows or args.latency) and not args.quick
    stem = args.out or RESULTS / (
        "llm-quick" if args.quick else "llm-partial" if partial else "llm"
    )

    port_busy = not harness.port_free(OLLAMA_PORT)
    skipped: dict[tuple[str, str], str] = {}
    jobs = []
    for name in scenarios:
        scenario = SCENARIOS[name]
        for row in rows:
            if row in scenario.skip:
                skipped[(name, row)] = scenario.skip[row]
                continue
            lats = [lat for lat in latencies if lat in scenario.row_latencies.get(row, latencies)]
            if lats != latencies:
                skipped[(name, row)] = scenario.skip_latency_reason
            if lats:
                jobs.append({"row": row, "scenario": name, "latencies": lats, "quick": args.quick})
    if "0ms" in latencies:
        for name in scenarios:
            if name not in (QUICK_INTERLEAVED if args.quick else INTERLEAVED):
                continue
            together = [
                r
                for r in rows
                if r not in SCENARIOS[name].skip and not (port_busy and ROWS[r].needs_ollama_port)
            ]
            if len(together) > 1:
                jobs.append(
                    {
                        "kind": "interleaved",
                        "row": "(all)",
                        "rows": together,
                        "scenario": name,
                        "budget": INTERLEAVED_BUDGET,
                        "quick": args.quick,
                    }
                )
    records: list[dict[str, Any]] = []
    load_start = os.getloadavg()
    started = time.time()
    print(
        f"bench.llm: {len(jobs)} jobs x {rounds} rounds, latencies {latencies} -> {stem}.json/.md",
        flush=True,
    )
    with harness.mock_process(0 if port_busy else OLLAMA_PORT, "bench.llm_mock") as mock:
        for job in jobs:
            job["mock"] = list(mock)
        for rnd in range(rounds):
            order = list(jobs)
            random.Random(args.seed * 1000 + rnd).shuffle(order)
            for job in order:
                if rnd >= (SCENARIOS[job["scenario"]].max_rounds or rounds):
                    continue
                if port_busy and job["row"] in ROWS and ROWS[job["row"]].needs_ollama_port:
                    reason = (
                        f"port {OLLAMA_PORT} is taken by another process; GraphBit reaches "
                        "Ollama only there"
                    )
                    skipped[(job["scenario"], job["row"])] = reason
                    continue
                outcome = harness.run_subprocess("bench.llm_worker", job, JOB_TIMEOUT)
                records.append(
                    {
                        "round": rnd,
                        "kind": job.get("kind", "phases"),
                        "row": job["row"],
                        "scenario": job["scenario"],
                        **outcome,
                    }
                )
                status = harness.status_word(outcome)
                print(
                    f"  round {rnd + 1}/{rounds}  {job['scenario']:<14} {job['row']:<17} "
                    f"{status:<4} {outcome['seconds']:5.1f} s  {llm_report.headline(outcome)}",
                    flush=True,
                )
    elapsed = time.time() - started
    result = llm_report.build(
        records=records,
        jobs=jobs,
        skipped=skipped,
        rounds=rounds,
        quick=args.quick,
        argv=argv if argv is not None else sys.argv[1:],
        elapsed=elapsed,
        plait_source=source,
        note=args.note,
        load=(load_start, os.getloadavg()),
    )
    return harness.finish(stem, result, llm_report.markdown(result), records, elapsed)


if __name__ == "__main__":
    raise SystemExit(main())
