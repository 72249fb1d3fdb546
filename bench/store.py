"""Durable execution measured: checkpoints, state, storage per step, sessions and the event
bus, with LangGraph's checkpointers side by side, in one run.

    python -m bench.store              # full run (3 rounds), ~25 minutes on 2 loaded cores
    python -m bench.store --quick      # smoke run, about two minutes
    python -m bench.store --only chain --rounds 1

Every job runs in a fresh subprocess (``bench.store_worker``), once per round; rounds
interleave all jobs in a shuffled order, so drift on the machine hits every side alike. A
``chain`` job measures one side and backend in all three durability modes and without a
store, interleaved run by run in one process. Ratios (LangGraph ÷ plait) are taken per round
and summarised as a geometric mean with a 95 % confidence interval. PostgreSQL jobs run on a
throwaway cluster (``plait.testing.postgres``), skipped when PostgreSQL is not installed.

Writes ``bench/results/store.json`` (every raw measurement) and ``store.md`` (the tables the
docs quote); ``--quick`` and ``--only`` write ``store-quick.*`` / ``store-partial.*``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, store_report
from bench.harness import RESULTS

KINDS = ("chain", "state", "storage", "session", "bus")
SIZES = {"1KB": 1024, "100KB": 102_400, "1MB": 1_048_576}
TIMEOUT = 600.0


def jobs(quick: bool, kinds: list[str], pg: bool) -> list[dict[str, Any]]:
    sizes = ["1KB"] if quick else list(SIZES)
    out: list[dict[str, Any]] = []
    backends = ["memory", "sqlite", *(["postgres"] if pg else [])]
    for kind in kinds:
        if kind == "chain":
            for size in sizes:
                for side, side_backends in (("plait", backends),
                                            ("langgraph", ["memory", "sqlite", "sqlite-full"])):
                    for backend in side_backends:
                        out.append({"kind": kind, "side": side, "backend": backend,
                                    "size": SIZES[size], "label": size, "n": 20,
                                    "budget": 0.5 if quick else 3.0, "quick": quick})
        elif kind == "state":
            for size in sizes:
                for backend in backends:
                    out.append({"kind": kind, "side": "plait", "backend": backend,
                                "size": SIZES[size], "label": size,
                                "count": 20 if quick else 200})
        elif kind == "storage":
            for side, log in (("plait", False), ("plait", True), ("langgraph", False)):
                out.append({"kind": kind, "side": side, "run_log": log, "size": 1024,
                            "runs": 1 if quick else 5,
                            "backend": "sqlite" + ("+runlog" if log else "")})
        elif kind == "session":
            for backend in backends[1:]:
                out.append({"kind": kind, "side": "plait", "backend": backend,
                            "count": 20 if quick else 300})
        elif kind == "bus":
            for k in (1, 10):
                out.append({"kind": kind, "side": "plait", "subscribers": k,
                            "events": 20_000 if quick else 200_000,
                            "repeat": 1 if quick else 5, "backend": f"{k} subscriber(s)"})
    return out


def key(job: dict[str, Any]) -> str:
    parts = [job["kind"], job["side"], job.get("backend", ""), job.get("label", "")]
    return "/".join(p for p in parts if p)


@contextlib.contextmanager
def postgres(wanted: bool) -> Iterator[Any]:
    if not wanted:
        yield None
        return
    from plait.testing.postgres import ThrowawayPostgres, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        print(f"PostgreSQL skipped: {reason}", flush=True)
        yield None
        return
    with ThrowawayPostgres() as cluster:
        yield cluster


def _load() -> dict[str, str]:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return {}
    return {"load_1m": f"{one:.2f}", "load_5m": f"{five:.2f}", "load_15m": f"{fifteen:.2f}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; quick 1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--only", action="append", metavar="KIND", help=f"{list(KINDS)}")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--out", type=Path, help="output stem (default bench/results/store)")
    parser.add_argument("--seed", type=int, default=5, help="shuffles the job order per round")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="only rewrite the .md next to this .json")
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(store_report.markdown(result))
        print(f"wrote {args.render.with_suffix('.md')}")
        return 0
    kinds = [k for group in args.only or [] for k in group.split(",") if k] or list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise SystemExit(f"unknown kind(s) {unknown}; choose from {list(KINDS)}")
    rounds = args.rounds or (1 if args.quick else 3)
    partial = bool(args.only) and not args.quick
    stem = args.out or RESULTS / ("store-quick" if args.quick else
                                  "store-partial" if partial else "store")
    source = harness.plait_source()
    records: list[dict[str, Any]] = []
    started = time.time()
    load_before = _load()
    with postgres(not args.no_postgres) as cluster:
        planned = jobs(args.quick, kinds, cluster is not None)
        print(f"bench.store: {len(planned)} jobs x {rounds} rounds -> {stem}.json/.md "
              f"(load {load_before.get('load_1m', '?')})", flush=True)
        databases = 0
        for rnd in range(rounds):
            order = list(planned)
            random.Random(args.seed * 1000 + rnd).shuffle(order)
            for job in order:
                run = dict(job)
                if job.get("backend") == "postgres":
                    databases += 1
                    run["pg_url"] = cluster.create_database(f"bench_{databases}")
                outcome = harness.run_subprocess("bench.store_worker", run, TIMEOUT)
                records.append({"round": rnd, "key": key(job), "job": job, **outcome})
                print(f"  round {rnd + 1}/{rounds}  {key(job):<40} "
                      f"{harness.status_word(outcome):<4} {store_report.headline(job, outcome)}",
                      flush=True)
    elapsed = time.time() - started
    result = store_report.build(records=records, rounds=rounds, quick=args.quick,
                                argv=argv if argv is not None else sys.argv[1:],
                                elapsed=elapsed, plait_source=source,
                                load={"before": load_before, "after": _load()})
    stem.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    Path(f"{stem}.md").write_text(store_report.markdown(result))
    print(f"done in {elapsed:.0f} s: {stem}.json, {stem}.md", flush=True)
    failed = sorted({r["key"] for r in records if not r["ok"]})
    if failed:
        print(f"failed jobs: {failed} (see {stem}.json)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
