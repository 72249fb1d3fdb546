"""One (row, scenario) of the LLM-workflow benchmark in a fresh process:
``python -m bench.llm_worker '<job as JSON>'``; prints one ``BENCH-RESULT {json}`` line.

The process pins itself to CPU 0 (the mock server runs on CPU 1) before importing anything
heavy, imports the row's side (``bench.sides.<framework>_llm``), builds the workflow once and
warms it up at 0 ms latency (at least 3 runs and 0.15 s; a concurrent scenario: one burst of
up to 100). Then, for each latency in turn (0 ms, 50 ms, 300 ms), with the peak-RSS mark
reset (``/proc/self/clear_refs``):

- one workflow at a time: runs one after the other until the latency's time budget is spent
  and its minimum count ran (at most its maximum); the makespan is the median run;
- N concurrent workflows: ``asyncio.gather`` of N runs, as many bursts as the latency
  allows; the makespan is the median burst (start to last finish).

Every workflow's own latency is kept (p50/p95/p99), failures are counted, not raised.

A job of kind ``interleaved`` instead builds every row's workflow in this one process and
times them at 0 ms in round-robin batches (see :func:`_interleaved`): the ratios the 0 ms
targets are judged on, robust to load from other processes on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.llm_scenarios import LATENCIES, QUICK_LIMITS, ROWS, SCENARIOS, SHAPES, Latency, task
from bench.worker import _cpu, _peak_rss_mb, _rss_mb, report_outcome

WARM_SECONDS = 0.15
WARM_BURST = 100


def _reset_peak_rss() -> bool:
    """Set the peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _peak_rss_mb()


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "min": None, "max": None}
    ordered = sorted(values)

    def pick(q: float) -> float:  # nearest rank
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]

    return {
        "p50": statistics.median(ordered),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
    }


class Phase:
    """What one latency's measurement collects."""

    def __init__(self) -> None:
        self.latencies: list[float] = []  # seconds, successful workflows
        self.errors: list[str] = []
        self.makespans: list[float] = []

    async def one(self, target: Any, check: Any, text: str) -> None:
        started = time.perf_counter()
        try:
            check(await target.arun(text))
        except Exception as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        else:
            self.latencies.append(time.perf_counter() - started)


async def _run_phase(
    target: Any, check: Any, concurrency: int, latency: Latency, limits: dict[str, Any]
) -> dict[str, Any]:
    phase = Phase()
    budget = limits.get("budget", latency.budget)
    min_runs = limits.get("min_runs", latency.min_runs)
    if target.prepare is not None:
        target.prepare(task(0, latency))
    gc.collect()
    hwm = _reset_peak_rss()
    rss0, cpu0, wall0 = _rss_mb(), _cpu(), time.perf_counter()
    index = 0
    limit = 120.0 + 40 * budget
    timed_out = False
    try:
        async with asyncio.timeout(limit):
            if concurrency:
                bursts = limits.get("bursts", latency.bursts.get(concurrency, 1))
                for _ in range(bursts):
                    t = time.perf_counter()
                    await asyncio.gather(
                        *(
                            phase.one(target, check, task(index + i, latency))
                            for i in range(concurrency)
                        )
                    )
                    phase.makespans.append(time.perf_counter() - t)
                    index += concurrency
            else:
                deadline = wall0 + budget
                while index < latency.max_runs and (
                    index < min_runs or time.perf_counter() < deadline
                ):
                    await phase.one(target, check, task(index, latency))
                    index += 1
    except TimeoutError:
        timed_out = True
        phase.errors.append(f"phase timed out after {limit:.0f} s")
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    workflows = index
    ms = [v * 1e3 for v in phase.latencies]
    if concurrency:
        makespan = statistics.median(phase.makespans) if phase.makespans else None
    else:
        makespan = statistics.median(phase.latencies) if phase.latencies else None
    return {
        "makespan_ms": makespan * 1e3 if makespan is not None else None,
        "makespans_ms": [m * 1e3 for m in phase.makespans],
        "latency_ms": _percentiles(ms),
        "workflows": workflows,
        "errors": len(phase.errors) if not timed_out else max(len(phase.errors), 1),
        "error_rate": len(phase.errors) / workflows if workflows else 1.0,
        "first_errors": sorted(set(phase.errors))[:3],
        "cpu_ms_per_workflow": cpu / workflows * 1e3 if workflows else None,
        "cpu_s": cpu,
        "wall_s": wall,
        "peak_rss_mb": _hwm_mb() if hwm else _peak_rss_mb(),
        "peak_rss_is_phase": hwm,
        "rss_before_mb": rss0,
        "timed_out": timed_out,
    }


async def _measure(job: dict[str, Any], side: Any) -> dict[str, Any]:
    from bench.llm_common import check_result

    row, scenario = ROWS[job["row"]], SCENARIOS[job["scenario"]]
    shape = SHAPES[scenario.shape]
    variant = row.name.split("/", 1)[1]
    target = side.build(variant, shape, tuple(job["mock"]))
    limits = job.get("limits") or {}
    out: dict[str, Any] = {"phases": {}}
    try:
        zero = LATENCIES["0ms"]
        if target.prepare is not None:
            target.prepare(task(0, zero))

        def check_zero(result: object) -> None:
            check_result(result, shape, zero.tag)

        started = time.perf_counter()
        if scenario.concurrency:
            width = min(scenario.concurrency, WARM_BURST)
            await asyncio.gather(*(target.arun(task(i, zero)) for i in range(width)))
        else:
            n = 0
            while n < 3 or time.perf_counter() - started < WARM_SECONDS:
                check_zero(await target.arun(task(n, zero)))
                n += 1
        out["warmup_s"] = time.perf_counter() - started
        for name in job["latencies"]:
            latency = LATENCIES[name]

            def check(result: object, tag: str = latency.tag) -> None:
                check_result(result, shape, tag)

            phase = await _run_phase(target, check, scenario.concurrency, latency, limits)
            phase["bound_ms"] = scenario.bound(latency) * 1e3
            out["phases"][name] = phase
    finally:
        if target.aclose is not None:
            with contextlib.suppress(Exception):
                await target.aclose()
    return out


async def _interleaved(job: dict[str, Any]) -> dict[str, Any]:
    """Every row's workflow in this one process at 0 ms, batches taken round-robin (the
    order rotating each cycle) until the budget is spent: per cycle, each row's mean time per
    workflow; ratios between rows from the same cycle, so load from outside hits both.

    A batch is at least 3 runs and about 30 ms (sized from warm runs), after one untimed run:
    the first run after another framework's batch pays for the caches that batch evicted,
    a cost no single-framework process has."""
    from bench.llm_common import check_result

    scenario = SCENARIOS[job["scenario"]]
    shape, zero = SHAPES[scenario.shape], LATENCIES["0ms"]
    width = scenario.concurrency or 1
    targets: dict[str, Any] = {}
    for row in job["rows"]:
        side = importlib.import_module(f"bench.sides.{row.split('/', 1)[0]}_llm")
        targets[row] = side.build(row.split("/", 1)[1], shape, tuple(job["mock"]))
    counter = 0

    async def once(target: Any) -> None:
        nonlocal counter
        outs = await asyncio.gather(*(target.arun(task(counter + i, zero)) for i in range(width)))
        counter += width
        for out in outs:
            check_result(out, shape, zero.tag)

    try:
        sizes: dict[str, int] = {}
        for row, target in targets.items():
            if target.prepare is not None:
                target.prepare(task(0, zero))
            started, each = time.perf_counter(), []
            while len(each) < 5 or time.perf_counter() - started < 0.1:
                t = time.perf_counter()
                await once(target)
                each.append(time.perf_counter() - t)
            per = statistics.median(each[len(each) // 2 :])  # warm runs only
            sizes[row] = max(3, int(job.get("batch_seconds", 0.03) / per))
        rows = list(targets)
        times: dict[str, list[float]] = {r: [] for r in rows}
        cpus: dict[str, list[float]] = {r: [] for r in rows}
        gc.collect()
        deadline = time.perf_counter() + job["budget"]
        cycle = 0
        while cycle < 5 or time.perf_counter() < deadline:
            k = cycle % len(rows)
            for row in rows[k:] + rows[:k]:
                target, size = targets[row], sizes[row]
                await once(target)  # untimed: the first run after another row's batch
                c, t = _cpu(), time.perf_counter()
                for _ in range(size):
                    await once(target)
                times[row].append((time.perf_counter() - t) / size)
                cpus[row].append((_cpu() - c) / size / width)
            cycle += 1
    finally:
        for target in targets.values():
            if target.aclose is not None:
                with contextlib.suppress(Exception):
                    await target.aclose()
    out: dict[str, Any] = {"cycles": cycle, "batch": sizes, "rows": {}, "ratios": {}}
    for row in rows:
        out["rows"][row] = {
            "ms": statistics.median(times[row]) * 1e3,
            "cpu_ms": statistics.median(cpus[row]) * 1e3,
        }
    out["cpu_ratios"] = {}
    for row in rows:
        for other in rows:
            if other != row:
                per_cycle = [a / b for a, b in zip(times[row], times[other], strict=True)]
                out["ratios"][f"{row}|{other}"] = statistics.median(per_cycle)
                per_cycle = [a / b for a, b in zip(cpus[row], cpus[other], strict=True)]
                out["cpu_ratios"][f"{row}|{other}"] = statistics.median(per_cycle)
    return out


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    if (os.cpu_count() or 1) > 1 and job.get("pin", True):
        os.sched_setaffinity(0, {0})
    if job.get("kind") == "interleaved":
        metrics = asyncio.run(_interleaved(job))
        metrics["peak_rss_mb"] = _peak_rss_mb()
        return metrics
    rss_start = _rss_mb()
    framework = job["row"].split("/", 1)[0]
    side = importlib.import_module(f"bench.sides.{framework}_llm")
    import_rss = _rss_mb()
    metrics = asyncio.run(_measure(job, side))
    metrics["rss_start_mb"] = rss_start
    metrics["rss_after_import_mb"] = import_rss
    metrics["peak_rss_mb"] = _peak_rss_mb()
    return metrics


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    if job.get("quick"):
        job["limits"] = dict(QUICK_LIMITS)
        job["budget"] = min(job.get("budget", 0.3), 0.3)
    return report_outcome(lambda: run_job(job), traceback_limit=8)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
