"""plait's engine side by side with LangGraph and GraphBit, in one run.

    python -m bench.engine                 # full run, ~10 minutes on 2 cores
    python -m bench.engine --quick         # smoke run, a few seconds
    python -m bench.engine --only chain3 --only burst10k --rounds 3

Every (row, scenario) is measured in a fresh subprocess (``bench.worker``), once per round;
rounds interleave all jobs in a shuffled order, so drift on the machine hits every framework
alike. Ratios are taken per round (peer / plait, both from the same round) and summarised as a
geometric mean with a 95 % confidence interval. GraphBit needs a model server: a mock Ollama
(``python -m plait.testing``) is started on 127.0.0.1:11434 for the run.

Writes ``bench/results/engine.json`` (every raw measurement) and ``engine.md`` (the tables the
docs quote); ``--quick`` and ``--only`` write ``engine-quick.*`` / ``engine-partial.*``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, report
from bench.harness import OLLAMA_PORT, RESULTS
from bench.scenarios import QUICK_BUDGET, QUICK_ROWS, QUICK_SCENARIOS, ROWS, SCENARIOS

JOB_TIMEOUT = {"latency": 120.0, "burst": 300.0, "hooks": 120.0}

# the shared machinery lives in bench.harness; these names stay for callers of bench.engine
ROOT = harness.ROOT
_env = harness.env
_port_free = harness.port_free
_plait_source = harness.plait_source


def mock_server(port: int) -> contextlib.AbstractContextManager[tuple[str, int]]:
    """The mock Ollama (``python -m plait.testing``) in its own process, on CPU 1."""
    return harness.mock_process(port)


def run_worker(job: dict[str, Any]) -> dict[str, Any]:
    return harness.run_subprocess("bench.worker", job, JOB_TIMEOUT[job["kind"]])


def plan(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    scenarios = [s for group in args.only or [] for s in group.split(",") if s]
    if not scenarios:
        scenarios = list(QUICK_SCENARIOS if args.quick else SCENARIOS)
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    rows = [r for group in args.rows or [] for r in group.split(",") if r]
    if not rows:
        rows = list(QUICK_ROWS if args.quick else ROWS)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise SystemExit(f"unknown row(s) {unknown}; choose from {list(ROWS)}")
    return scenarios, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; quick 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--only", action="append", metavar="SCENARIO", help=f"{list(SCENARIOS)}")
    parser.add_argument("--rows", action="append", metavar="ROW", help=f"{list(ROWS)}")
    parser.add_argument("--out", type=Path, help="output stem (default bench/results/engine)")
    parser.add_argument("--seed", type=int, default=2, help="shuffles the job order per round")
    parser.add_argument(
        "--plait-src", type=Path, help="measure the plait package under this folder (default src/)"
    )
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only rewrite the .md next to this .json"
    )
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(report.markdown(result))
        print(f"wrote {args.render.with_suffix('.md')}")
        return 0
    if args.plait_src:
        harness.set_plait_src(args.plait_src)
    source = _plait_source()
    scenarios, rows = plan(args)
    rounds = args.rounds or (1 if args.quick else 5)
    partial = bool(args.only or args.rows) and not args.quick
    stem = args.out or RESULTS / (
        "engine-quick" if args.quick else "engine-partial" if partial else "engine"
    )

    skipped: dict[tuple[str, str], str] = {}
    jobs: list[dict[str, Any]] = []
    for name in scenarios:
        scenario = SCENARIOS[name]
        for row in rows:
            if row in scenario.skip:
                skipped[(name, row)] = scenario.skip[row]
            if row not in scenario.rows:
                continue
            jobs.append(
                {
                    "row": row,
                    "scenario": name,
                    "kind": scenario.kind,
                    "shape": scenario.shape,
                    "n": scenario.n,
                    "count": scenario.quick_count if args.quick else scenario.count,
                    "budget": QUICK_BUDGET if args.quick else scenario.budget,
                    "max_runs": scenario.max_runs,
                    "pin": scenario.kind == "burst",
                }
            )

    needs_mock = any(ROWS[j["row"]].needs_mock for j in jobs)
    graphbit_port_busy = needs_mock and not _port_free(OLLAMA_PORT)
    mock_cm = (
        mock_server(0 if graphbit_port_busy else OLLAMA_PORT)
        if needs_mock
        else contextlib.nullcontext(None)
    )
    records: list[dict[str, Any]] = []
    started = time.time()
    print(f"bench.engine: {len(jobs)} jobs x {rounds} rounds -> {stem}.json/.md", flush=True)
    with mock_cm as mock:
        for job in jobs:
            job["mock"] = list(mock) if mock and ROWS[job["row"]].needs_mock else None
        for rnd in range(rounds):
            order = list(jobs)
            random.Random(args.seed * 1000 + rnd).shuffle(order)
            for job in order:
                if graphbit_port_busy and job["row"].startswith("graphbit/"):
                    outcome = {
                        "ok": False,
                        "unsupported": True,
                        "error": f"port {OLLAMA_PORT} is taken by another process; GraphBit "
                        "reaches Ollama only there",
                    }
                else:
                    outcome = run_worker(job)
                records.append(
                    {"round": rnd, "row": job["row"], "scenario": job["scenario"], **outcome}
                )
                status = harness.status_word(outcome)
                print(
                    f"  round {rnd + 1}/{rounds}  {job['scenario']:<13} {job['row']:<19} "
                    f"{status:<4} {report.headline(job, outcome)}",
                    flush=True,
                )
    elapsed = time.time() - started
    result = report.build(
        records=records,
        jobs=jobs,
        skipped=skipped,
        rounds=rounds,
        quick=args.quick,
        argv=argv if argv is not None else sys.argv[1:],
        elapsed=elapsed,
        plait_source=source,
    )
    return harness.finish(stem, result, report.markdown(result), records, elapsed)


if __name__ == "__main__":
    raise SystemExit(main())
