"""Vector search at 100K x 384: plait's stores side by side with the libraries under them,
Chroma, pgvector and exact NumPy search, in one run (issue 4, "Measure").

    python -m bench.rag                    # full run: 100K vectors, random and MiniLM, ~1 hour
    python -m bench.rag --quick            # smoke run at 10K vectors; writes results/rag-quick.*
    python -m bench.rag --datasets random --sides plait/embedded,faiss/hnsw --rounds 3
    python -m bench.rag --render bench/results/rag.json    # redraw the tables

For each data set (random unit vectors; all-MiniLM-L6-v2 vectors of short texts from SciFact
and NFCorpus, embedded once and cached in ``bench/data/``), every side is built in a fresh
process (``bench.rag_worker`` ``build``: bulk load, then 1K-vector upserts, each timed until
its vectors come back from a search; RSS delta; persisted), then one process reopens them all
(``query``): exact ground truth, an efSearch sweep per side and filter to the smallest value
reaching recall@10 0.95 (and 0.99), then interleaved rounds of single-query latency (shuffled
order per round; per-round ratios plait / raw library with a 95 % interval). Then the
embedding model's speed (plait vs ``SentenceTransformer``) and an end-to-end ingestion of a
10 MB corpus through ``Ingestor`` into the embedded store.

Writes ``bench/results/rag.json`` (every raw measurement) and ``rag.md`` (the tables the docs
quote); ``--quick`` writes ``rag-quick.*``, a partial run (``--datasets``/``--sides``/``--no-*``)
``rag-partial.*``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, rag_report
from bench.harness import RESULTS, ROOT
from bench.rag_sides import SIDES
from bench.worker import MARKER

DATASETS = ("random", "minilm")
HNSW = {"m": 16, "ef_search": 64}
"""M 16 for every graph index; efConstruction is each plait store's default, and the raw
library under it gets the same (``Side.ef_construction_default``); efSearch is swept."""


def run_job(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """``python -m bench.rag_worker JOB`` with its progress lines passed through."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench.rag_worker", json.dumps(job)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=harness.env(), cwd=ROOT)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    outcome: dict[str, Any] | None = None
    tail: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(MARKER):
                outcome = json.loads(line[len(MARKER):])
            elif line.strip():
                tail = [*tail[-20:], line.rstrip()]
                print("    " + line.rstrip(), flush=True)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:  # interrupted: do not leave the worker behind
            proc.kill()
            proc.wait()
    if outcome is None:
        why = f"killed after {timeout:.0f} s" if proc.returncode == -9 else \
            f"exit {proc.returncode}"
        outcome = {"ok": False, "error": f"{why}: " + " | ".join(tail[-3:])}
    outcome["seconds"] = time.perf_counter() - started
    return outcome


@contextlib.contextmanager
def postgres(needed: bool) -> Iterator[Any]:
    """A throwaway cluster with room for the index in shared buffers, or None."""
    if not needed:
        yield None
        return
    from plait.testing.postgres import ThrowawayPostgres, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        print(f"pgvector sides skipped: {reason}", flush=True)
        yield None
        return
    pg = ThrowawayPostgres().start()
    try:
        # 100K x 384 is ~400 MB of table and index: PostgreSQL's default 128 MB of shared
        # buffers would measure the OS page cache. ThrowawayPostgres has no option for server
        # settings, so set them and restart it by hand.
        url = pg.url
        _psql(pg, "ALTER SYSTEM SET shared_buffers = '1GB'")
        _psql(pg, "ALTER SYSTEM SET max_parallel_maintenance_workers = 1")
        assert pg._dir is not None
        from plait.testing.postgres import PG_BIN

        pg._run(str(PG_BIN / "pg_ctl"), "-D", str(pg._dir / "data"), "-w", "-t", "60",
                "-l", str(pg._dir / "log"), "restart")
        print(f"throwaway PostgreSQL at {url} (shared_buffers 1GB)", flush=True)
        yield pg
    finally:
        pg.stop()


def _psql(pg: Any, sql: str, db: str = "postgres") -> str:
    from plait.testing.postgres import PG_BIN

    done = pg._run(str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.user,
                   "-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql)
    return str(done.stdout).strip()


def embedded_available() -> str | None:
    try:
        import plait.rag.stores.embedded  # noqa: F401
    except ImportError as exc:
        return f"plait.rag.stores.embedded is not importable: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rag",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10K vectors, 1 round, minutes")
    parser.add_argument("--n", type=int, help="vectors per data set (default 100000; quick 10000)")
    parser.add_argument("--queries", type=int, help="queries (default 1000; quick 200)")
    parser.add_argument("--rounds", type=int, help="latency rounds (default 5; quick 2)")
    parser.add_argument("--datasets", help=f"comma-separated, of {list(DATASETS)}")
    parser.add_argument("--sides", help=f"comma-separated, of {list(SIDES)}")
    parser.add_argument("--no-encode", action="store_true", help="skip the encoding speed")
    parser.add_argument("--no-ingest", action="store_true", help="skip the 10 MB ingestion")
    parser.add_argument("--ingest-mb", type=float, help="corpus size (default 10; quick 0.5)")
    parser.add_argument("--out", type=Path, help="output stem (default bench/results/rag)")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="only rewrite the .md next to this .json")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like an exception: the throwaway cluster and temp files are removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.render:
        result = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(rag_report.markdown(result))
        print(f"wrote {args.render.with_suffix('.md')}")
        return 0

    quick = args.quick
    n = args.n or (10_000 if quick else 100_000)
    q = args.queries or (200 if quick else 1000)
    rounds = args.rounds or (2 if quick else 5)
    datasets = args.datasets.split(",") if args.datasets else list(DATASETS)
    sides = args.sides.split(",") if args.sides else list(SIDES)
    bad = [d for d in datasets if d not in DATASETS] + [s for s in sides if s not in SIDES]
    if bad:
        raise SystemExit(f"unknown data set or side {bad}")
    partial = bool(args.datasets or args.sides or args.no_encode or args.no_ingest
                   or args.n) and not quick
    stem = args.out or RESULTS / ("rag-quick" if quick else "rag-partial" if partial else "rag")
    batches = 2 if quick else 10
    batch = 1000
    skipped: dict[str, str] = {}
    reason = embedded_available()
    if reason:
        skipped["plait/embedded"] = reason
        sides = [s for s in sides if s != "plait/embedded"]
    load_start = os.getloadavg()
    started = time.time()
    result: dict[str, Any] = {
        "benchmark": "rag", "quick": quick, "argv": argv if argv is not None else sys.argv[1:],
        "n": n, "queries": q, "rounds": rounds, "batch": batch, "batches": batches,
        "hnsw": HNSW, "datasets": datasets, "sides": sides, "builds": {}, "query": {},
        "plait_source": harness.plait_source(), "loadavg_start": load_start}
    pg_sides = [s for s in sides if SIDES[s].server]
    with postgres(bool(pg_sides)) as pg, \
            tempfile.TemporaryDirectory(prefix="plait-rag-bench-") as tmp:
        if pg is None and pg_sides:
            for s in pg_sides:
                skipped[s] = "PostgreSQL with pgvector is not available here"
            sides = [s for s in sides if s not in pg_sides]
        if pg is not None:
            result["postgres"] = {
                "version": _psql(pg, "SHOW server_version"),
                "pgvector": _psql(pg, "SELECT extversion FROM pg_extension "
                                  "WHERE extname = 'vector'", db=pg.database),
                "shared_buffers": _psql(pg, "SHOW shared_buffers")}
        for dataset in datasets:
            params = dict(HNSW, capacity=n)
            if pg is not None:
                params["pg_url"] = pg.create_database(f"bench_{dataset}")
            folders = {s: str(Path(tmp) / dataset / s.replace("/", "-")) for s in sides}
            builds: dict[str, Any] = {}
            for s in sides:
                print(f"[{dataset}] build {s}", flush=True)
                job = {"kind": "build", "side": s, "dataset": dataset, "n": n, "q": q,
                       "bulk": n - batches * batch, "batch": batch, "batches": batches,
                       "folder": folders[s], "params": params}
                builds[s] = run_job(job, 3600)
                print(f"  -> {rag_report.build_line(builds[s])}", flush=True)
            result["builds"][dataset] = builds
            reopened: dict[str, Any] = {}
            for s in sides:
                if builds[s].get("ok") and not SIDES[s].server:
                    print(f"[{dataset}] reopen {s}", flush=True)
                    reopened[s] = run_job({"kind": "reopen", "side": s, "dataset": dataset,
                                           "n": n, "q": q, "folder": folders[s],
                                           "params": params}, 1800)
                    if reopened[s].get("ok"):
                        print(f"  -> RSS +{reopened[s]['rss_delta'] / 1e6:.0f} MB, opened in "
                              f"{reopened[s]['open_s']:.1f} s", flush=True)
            result.setdefault("reopen", {})[dataset] = reopened
            ready = {s: folders[s] for s in sides if builds[s].get("ok")}
            if not ready:
                continue
            print(f"[{dataset}] query {list(ready)}", flush=True)
            job = {"kind": "query", "dataset": dataset, "n": n, "q": q, "folders": ready,
                   "params": params, "tune_queries": q, "latency_queries": min(q, 500),
                   "warmup": 20, "rounds": rounds, "top_recall": 0.99, "with_99": True,
                   "sweep_budget": 20.0, "block_budget": 8.0}
            result["query"][dataset] = run_job(job, 4 * 3600)
            if not result["query"][dataset].get("ok"):
                print(f"  query failed: {result['query'][dataset].get('error')}", flush=True)
        if not args.no_encode:
            print("encoding speed", flush=True)
            result["encode"] = run_job({"kind": "encode", "sentences": 200 if quick else 1000,
                                        "passages": 30 if quick else 150,
                                        "rounds": 1 if quick else 3}, 3600)
        if not args.no_ingest:
            if reason:
                result["ingest"] = {"ok": False, "error": reason}
            else:
                mb = args.ingest_mb or (0.5 if quick else 10.0)
                print(f"ingestion of {mb} MB", flush=True)
                result["ingest"] = run_job({"kind": "ingest", "megabytes": mb, "tmp": tmp},
                                           4 * 3600)
    result["skipped"] = skipped
    result["loadavg_end"] = os.getloadavg()
    result["elapsed_s"] = time.time() - started
    result["environment"] = rag_report.environment()
    result["summary"] = rag_report.summarize(result)
    stem.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    Path(f"{stem}.md").write_text(rag_report.markdown(result))
    print(f"done in {result['elapsed_s']:.0f} s: {stem}.json, {stem}.md", flush=True)
    failed = [f"{d}/{s}" for d, b in result["builds"].items() for s, o in b.items()
              if not o.get("ok") and s.startswith("plait/")]
    if failed:
        print(f"plait sides failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
