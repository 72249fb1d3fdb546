"""One measurement in a fresh process: ``python -m bench.worker '<job as JSON>'``.

The orchestrator (``bench.engine``) starts one of these per (row, scenario) per round, so no
framework's imports, caches or garbage leak into another's numbers. The job is measured and
one line ``BENCH-RESULT {json}`` is printed on stdout.

- latency: build once, warm up, then time batches of runs (each batch about 20 ms) for the
  scenario's budget; the figure is the median over batches of the mean time per run.
- burst: pin to CPU 0 *before* importing anything heavy, run one warm-up, then start
  ``count`` runs at once with ``asyncio.gather``; wall time, CPU seconds, peak RSS.
- hooks: one workflow on six plait engines (nothing / idle hook / idle subscriber /
  run-events subscriber / both / a subscriber that unsubscribed), batches interleaved
  round-robin; overhead from the per-cycle ratios against "off".
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import os
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MARKER = "BENCH-RESULT "
BATCH_SECONDS = 0.02
SLOW_RUN_SECONDS = 2.0  # a first run slower than this is the measurement (one cold run)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu() -> float:
    return time.process_time()  # all threads of this process, user + system


def _side(row: str) -> Any:
    framework = row.split("/", 1)[0]
    return importlib.import_module(f"bench.sides.{framework}_side")


def _batch_size(per_run: float) -> int:
    return max(1, int(BATCH_SECONDS / max(per_run, 1e-7)))


def _summarise(batches: list[float], runs: int, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "us": statistics.median(batches) * 1e6,
        "mean_us": wall / runs * 1e6,
        "min_batch_us": min(batches) * 1e6,
        "cpu_us": cpu / runs * 1e6,
        "runs": runs,
        "batches": len(batches),
    }


def _single(first: float, cpu: float) -> dict[str, Any]:
    """A run slower than SLOW_RUN_SECONDS is measured once, cold: warm-up would not pay."""
    return {
        "us": first * 1e6,
        "mean_us": first * 1e6,
        "min_batch_us": first * 1e6,
        "cpu_us": cpu * 1e6,
        "runs": 1,
        "batches": 1,
        "first_us": first * 1e6,
        "cold": True,
    }


def measure_sync(run: Callable[[], object], check: Callable[[object], None], job: dict[str, Any]):
    started, cpu_started = time.perf_counter(), _cpu()
    check(run())
    first, first_cpu = time.perf_counter() - started, _cpu() - cpu_started
    if first >= SLOW_RUN_SECONDS:
        return _single(first, first_cpu)
    warm_until = time.perf_counter() + min(0.2, job["budget"] / 4)
    per_run, warm, min_warm = first, 0, (3 if first < 0.1 else 0)
    while warm < min_warm or time.perf_counter() < warm_until:
        t = time.perf_counter()
        check(run())
        per_run = time.perf_counter() - t
        warm += 1
    size = _batch_size(per_run)
    gc.collect()
    batches: list[float] = []
    runs, cpu0, wall0 = 0, _cpu(), time.perf_counter()
    deadline = wall0 + job["budget"]
    while True:
        t = time.perf_counter()
        for _ in range(size):
            run()
        batches.append((time.perf_counter() - t) / size)
        runs += size
        if time.perf_counter() >= deadline:
            break
        if runs + size > job["max_runs"]:
            break
    out = _summarise(batches, runs, time.perf_counter() - wall0, _cpu() - cpu0)
    out["first_us"] = first * 1e6
    return out


async def measure_async(
    arun: Callable[[], Awaitable[object]], check: Callable[[object], None], job: dict[str, Any]
):
    started, cpu_started = time.perf_counter(), _cpu()
    check(await arun())
    first, first_cpu = time.perf_counter() - started, _cpu() - cpu_started
    if first >= SLOW_RUN_SECONDS:
        return _single(first, first_cpu)
    warm_until = time.perf_counter() + min(0.2, job["budget"] / 4)
    per_run, warm, min_warm = first, 0, (3 if first < 0.1 else 0)
    while warm < min_warm or time.perf_counter() < warm_until:
        t = time.perf_counter()
        check(await arun())
        per_run = time.perf_counter() - t
        warm += 1
    size = _batch_size(per_run)
    gc.collect()
    batches: list[float] = []
    runs, cpu0, wall0 = 0, _cpu(), time.perf_counter()
    deadline = wall0 + job["budget"]
    while True:
        t = time.perf_counter()
        for _ in range(size):
            await arun()
        batches.append((time.perf_counter() - t) / size)
        runs += size
        if time.perf_counter() >= deadline:
            break
        if runs + size > job["max_runs"]:
            break
    out = _summarise(batches, runs, time.perf_counter() - wall0, _cpu() - cpu0)
    out["first_us"] = first * 1e6
    return out


async def measure_burst(target: Any, job: dict[str, Any]) -> dict[str, Any]:
    check(target, await target.arun())
    gc.collect()
    rss0, cpu0, wall0 = _rss_mb(), _cpu(), time.perf_counter()
    results = await asyncio.gather(*(target.arun() for _ in range(job["count"])))
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    peak = _peak_rss_mb()
    for result in results:
        check(target, result)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak,
        "rss_before_mb": rss0,
        "runs": job["count"],
        "per_run_us": wall / job["count"] * 1e6,
    }


def check(target: Any, result: object) -> None:
    target.check(result)


async def measure_hooks(targets: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    for target in targets.values():
        for _ in range(20):
            target.check(await target.arun())
    t = time.perf_counter()
    for _ in range(200):
        await targets["off"].arun()
    size = _batch_size((time.perf_counter() - t) / 200) // 2 or 1
    names = list(targets)
    times: dict[str, list[float]] = {name: [] for name in names}
    gc.collect()
    deadline = time.perf_counter() + job["budget"]
    cycle = 0
    while time.perf_counter() < deadline or cycle < 5:
        order = names[cycle % len(names) :] + names[: cycle % len(names)]
        for name in order:
            arun = targets[name].arun
            t = time.perf_counter()
            for _ in range(size):
                await arun()
            times[name].append((time.perf_counter() - t) / size)
        cycle += 1
    out: dict[str, Any] = {"cycles": cycle, "batch": size}
    for name in names:
        out[f"{name}_us"] = statistics.median(times[name]) * 1e6
        if name != "off":
            ratios = [v / o for v, o in zip(times[name], times["off"], strict=True)]
            out[f"{name}_overhead_pct"] = (statistics.median(ratios) - 1) * 100
    return out


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("pin"):
        os.sched_setaffinity(0, {0})
    rss_start = _rss_mb()
    side = _side(job["row"])
    variant = job["row"].split("/", 1)[1]
    mock = tuple(job["mock"]) if job.get("mock") else None
    import_rss = _rss_mb()
    if job["kind"] == "hooks":
        targets = side.hook_targets(job["shape"], job["n"])
        metrics = asyncio.run(measure_hooks(targets, job))
    else:
        target = side.build(variant, job["shape"], job["n"], mock)
        if job["kind"] == "burst":
            if target.arun is None:
                raise side.Unsupported("no async entry point for a concurrent burst")

            async def burst() -> dict[str, Any]:
                try:
                    return await measure_burst(target, job)
                finally:
                    if target.aclose is not None:
                        await target.aclose()

            metrics = asyncio.run(burst())
        elif target.run is not None:
            metrics = measure_sync(target.run, target.check, job)
        else:

            async def latency() -> dict[str, Any]:
                try:
                    return await measure_async(target.arun, target.check, job)
                finally:
                    if target.aclose is not None:
                        await target.aclose()

            metrics = asyncio.run(latency())
    metrics.setdefault("peak_rss_mb", _peak_rss_mb())
    metrics["rss_start_mb"] = rss_start
    metrics["rss_after_import_mb"] = import_rss
    return metrics


def report_outcome(run: Callable[[], dict[str, Any]], *, traceback_limit: int = 6) -> int:
    """Run one measurement and print its outcome after :data:`MARKER` for the parent.
    An ``Unsupported`` error (a peer that cannot run the scenario) is not a failure."""
    try:
        outcome: dict[str, Any] = {"ok": True, "metrics": run()}
    except Exception as exc:
        unsupported = type(exc).__name__ == "Unsupported"
        outcome = {
            "ok": False,
            "unsupported": unsupported,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": "" if unsupported else traceback.format_exc(limit=traceback_limit),
        }
    sys.stdout.write("\n" + MARKER + json.dumps(outcome) + "\n")
    sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    return report_outcome(lambda: run_job(job))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
