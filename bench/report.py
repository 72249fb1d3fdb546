"""Turns raw per-round records into the summary (``engine.json``) and tables (``engine.md``)."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
from collections.abc import Sequence
from typing import Any

from bench.scenarios import ANCHORS, MOCK_ROWS, PAIRS, PLAIN_ROWS, ROWS, SCENARIOS, TARGETS
from bench.stats import mean_ci, ratio_ci, spread

HOOK_VARIANTS = ("hooks", "events", "run_events", "both", "unsubscribed")

# --------------------------------------------------------------------------- summary


def primary(kind: str, metrics: dict[str, Any]) -> float:
    return float(metrics["wall_s"] if kind == "burst" else metrics["us"])


def headline(job: dict[str, Any], outcome: dict[str, Any]) -> str:
    if not outcome["ok"]:
        return outcome.get("error", "")[:110]
    m = outcome["metrics"]
    if job["kind"] == "burst":
        return f"{m['wall_s']:.3f} s wall, {m['cpu_s']:.3f} s CPU, {m['peak_rss_mb']:.0f} MB peak"
    if job["kind"] == "hooks":
        return ", ".join(f"{v} {m[f'{v}_overhead_pct']:+.1f}%" for v in HOOK_VARIANTS)
    return f"{m['us']:.1f} µs/run ({m['runs']} runs, CPU {m['cpu_us']:.1f} µs/run)"


def _versions(
    dists: Sequence[str] = ("plait", "langgraph", "langchain-core", "graphbit"),
) -> dict[str, str]:
    out = {}
    for dist in dists:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    if out["plait"] == "not installed":
        try:
            from plait.__about__ import __version__

            out["plait"] = f"{__version__} (source tree)"
        except ImportError:
            pass
    return out


def _machine() -> dict[str, Any]:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = None
    try:
        import psutil

        memory = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def build(
    *,
    records: list[dict[str, Any]],
    jobs: list[dict[str, Any]],
    skipped: dict[tuple[str, str], str],
    rounds: int,
    quick: bool,
    argv: Sequence[str],
    elapsed: float,
    plait_source: dict[str, str],
) -> dict[str, Any]:
    kinds = {j["scenario"]: j["kind"] for j in jobs}
    counts = {j["scenario"]: j["count"] for j in jobs}
    by: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for r in records:
        by.setdefault((r["scenario"], r["row"]), {})[r["round"]] = r

    summary: dict[str, dict[str, Any]] = {}
    for (scenario, row), per_round in by.items():
        kind = kinds[scenario]
        ok = [r["metrics"] for r in per_round.values() if r["ok"]]
        bad = [r for r in per_round.values() if not r["ok"]]
        entry: dict[str, Any] = {
            "status": "ok"
            if ok
            else ("unsupported" if bad and bad[0].get("unsupported") else "failed"),
            "errors": sorted({r["error"] for r in bad}),
            "rss_mb": spread([m["peak_rss_mb"] for m in ok]),
        }
        if kind == "hooks":
            for v in HOOK_VARIANTS:
                entry[v] = mean_ci([m[f"{v}_overhead_pct"] for m in ok])
            entry["us"] = {v: spread([m[f"{v}_us"] for m in ok]) for v in ("off", *HOOK_VARIANTS)}
        elif kind == "burst":
            entry["wall_s"] = spread([m["wall_s"] for m in ok])
            entry["cpu_s"] = spread([m["cpu_s"] for m in ok])
            entry["rss_before_mb"] = spread([m["rss_before_mb"] for m in ok])
            entry["runs"] = counts[scenario]
        else:
            entry["us"] = spread([m["us"] for m in ok])
            entry["cpu_us"] = spread([m["cpu_us"] for m in ok])
            entry["runs_per_round"] = spread([m["runs"] for m in ok])
        summary.setdefault(scenario, {})[row] = entry
    for (scenario, row), reason in skipped.items():
        summary.setdefault(scenario, {}).setdefault(
            row, {"status": "not measured", "errors": [reason]}
        )

    ratios: dict[str, dict[str, Any]] = {}
    for scenario, kind in kinds.items():
        if kind == "hooks":
            continue
        for peer, base in PAIRS.items():
            peer_rounds, base_rounds = by.get((scenario, peer)), by.get((scenario, base))
            if not peer_rounds or not base_rounds:
                continue
            pairs = [
                (peer_rounds[i]["metrics"], base_rounds[i]["metrics"])
                for i in sorted(peer_rounds)
                if i in base_rounds and peer_rounds[i]["ok"] and base_rounds[i]["ok"]
            ]
            if not pairs:
                continue
            entry = {
                "vs": base,
                "time": ratio_ci([primary(kind, p) / primary(kind, b) for p, b in pairs]),
            }
            if kind == "burst":
                entry["cpu"] = ratio_ci([p["cpu_s"] / b["cpu_s"] for p, b in pairs])
                entry["rss"] = ratio_ci([p["peak_rss_mb"] / b["peak_rss_mb"] for p, b in pairs])
            else:
                entry["cpu"] = ratio_ci([p["cpu_us"] / b["cpu_us"] for p, b in pairs])
            ratios.setdefault(scenario, {})[peer] = entry

    return {
        "meta": {
            "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": "python -m bench.engine " + " ".join(argv),
            "rounds": rounds,
            "quick": quick,
            "elapsed_s": round(elapsed, 1),
            "machine": _machine(),
            "versions": _versions(),
            "plait_source": plait_source,
        },
        "rows": {name: {"label": r.label, "detail": r.detail} for name, r in ROWS.items()},
        "scenarios": {
            name: {"title": SCENARIOS[name].title, "kind": kinds[name], "count": counts[name]}
            for name in kinds
        },
        "targets": TARGETS,
        "anchors": ANCHORS,
        "summary": summary,
        "ratios": ratios,
        "records": records,
    }


# --------------------------------------------------------------------------- markdown


def _num(x: float | None, digits: int | None = None) -> str:
    if x is None:
        return "-"
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    return f"{x:,.{digits}f}"


def _cell(entry: dict[str, Any] | None, key: str, digits: int | None = None) -> str:
    if not entry:
        return ""
    if entry["status"] != "ok":
        return "n/a" if entry["status"] != "failed" else "failed"
    s = entry[key]
    if s["n"] > 1:
        low, high = _num(s["min"], digits), _num(s["max"], digits)
        return f"{_num(s['median'], digits)} <sub>[{low}, {high}]</sub>"
    return _num(s["median"], digits)


def _ratio(r: dict[str, Any] | None) -> str:
    if not r or r.get("geomean") is None:
        return ""
    g = r["geomean"]
    text = f"**{_num(g)}x**"
    if r["low"] is not None:
        text += f" <sub>[{_num(r['low'])}, {_num(r['high'])}]</sub>"
    return text


def _median(summary: dict[str, Any], scenario: str, row: str, key: str) -> float | None:
    entry = summary.get(scenario, {}).get(row)
    if not entry or entry.get("status") != "ok":
        return None
    return entry[key]["median"]


def _against(value: float | None, limit: float, inclusive: bool, digits: int | None = None) -> str:
    """The value with its verdict against a target."""
    if value is None:
        return "not measured"
    ok = value <= limit if inclusive else value < limit
    return f"{_num(value, digits)} ({'met' if ok else '**missed**'})"


def _targets_table(res: dict[str, Any]) -> list[str]:
    s = res["summary"]
    lines = [
        "| | target | plait, inline sync fns | plait, async fns | LangGraph here "
        "| LangGraph anchor |",
        "|---|---|---|---|---|---|",
    ]
    for scenario, label in (
        ("chain3", "3-node chain, µs per run"),
        ("fanout5", "fan-out 5 + join, µs per run"),
    ):
        if scenario not in s:
            continue
        limit = TARGETS[scenario]
        lines.append(
            f"| {label} | ≤ {limit:.0f} | "
            f"{_against(_median(s, scenario, 'plait/inline', 'us'), limit, True)} | "
            f"{_against(_median(s, scenario, 'plait/async', 'us'), limit, True)} | "
            f"{_num(_median(s, scenario, 'langgraph/invoke', 'us'))} (invoke), "
            f"{_num(_median(s, scenario, 'langgraph/ainvoke', 'us'))} (ainvoke) | "
            f"{_num(ANCHORS[scenario])} |"
        )
    if "burst10k" in s:
        runs = res["scenarios"]["burst10k"]["count"]
        for key, label, target in (
            ("wall_s", f"{runs:,}-run burst, wall s", "burst_wall"),
            ("rss_mb", f"{runs:,}-run burst, peak RSS MB", "burst_rss"),
        ):
            limit, digits = TARGETS[target], 2 if key == "wall_s" else 0
            lines.append(
                f"| {label} | < {limit:g} | "
                f"{_against(_median(s, 'burst10k', 'plait/inline', key), limit, False, digits)} | "
                f"{_against(_median(s, 'burst10k', 'plait/async', key), limit, False, digits)} | "
                f"{_num(_median(s, 'burst10k', 'langgraph/ainvoke', key), digits)} (ainvoke) | "
                f"{_num(ANCHORS[target])} |"
            )
    hooks = s.get("hooks", {}).get("plait/inline")
    if hooks and hooks.get("status") == "ok":
        for variant, label in (
            ("hooks", "idle hook, overhead %"),
            ("events", "idle event subscriber, overhead %"),
            ("run_events", "idle subscriber to run events only, overhead %"),
            ("unsubscribed", "subscriber removed again, overhead %"),
        ):
            ci = hooks[variant]
            lines.append(
                f"| {label} | < {TARGETS['hooks']:g} | "
                f"{_against(ci['mean'], TARGETS['hooks'], False, 1)} | | | |"
            )
    return lines


def _latency_table(res: dict[str, Any], cols: Sequence[str], key: str = "us") -> list[str]:
    s, r = res["summary"], res["ratios"]
    peers = [c for c in cols if c in PAIRS]
    head = ["scenario", *(ROWS[c].label for c in cols)]
    head += [f"{ROWS[p].label} ÷ {ROWS[PAIRS[p]].label}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, meta in res["scenarios"].items():
        if meta["kind"] != "latency" or not any(c in s.get(name, {}) for c in cols):
            continue
        cells = [SCENARIOS[name].title]
        cells += [_cell(s[name].get(c), key) for c in cols]
        ratio_key = "time" if key == "us" else "cpu"
        cells += [_ratio(r.get(name, {}).get(p, {}).get(ratio_key)) for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _marginal_table(res: dict[str, Any], cols: Sequence[str]) -> list[str]:
    s = res["summary"]
    steps = [("chain10", "chain100", 90), ("chain100", "chain1000", 900)]
    lines = [
        "| step | " + " | ".join(ROWS[c].label for c in cols) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    any_row = False
    for lo, hi, added in steps:
        if lo not in s or hi not in s:
            continue
        cells = []
        for c in cols:
            a, b = _median(s, lo, c, "us"), _median(s, hi, c, "us")
            cells.append(_num((b - a) / added) if a is not None and b is not None else "")
        lines.append(f"| {lo} → {hi} | " + " | ".join(cells) + " |")
        any_row = True
    return lines if any_row else []


def _burst_table(res: dict[str, Any]) -> list[str]:
    s, r = res["summary"], res["ratios"]
    lines = [
        "| scenario | row | runs | wall s | CPU s | peak RSS MB | RSS before burst MB "
        "| wall ÷ plait | CPU ÷ plait | RSS ÷ plait |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, meta in res["scenarios"].items():
        if meta["kind"] != "burst":
            continue
        for row, entry in s.get(name, {}).items():
            if entry.get("status") != "ok":
                continue
            rr = r.get(name, {}).get(row, {})
            lines.append(
                f"| {name} | {ROWS[row].label} | {meta['count']:,} | {_cell(entry, 'wall_s', 3)} | "
                f"{_cell(entry, 'cpu_s', 3)} | {_cell(entry, 'rss_mb', 0)} | "
                f"{_cell(entry, 'rss_before_mb', 0)} | {_ratio(rr.get('time'))} | "
                f"{_ratio(rr.get('cpu'))} | {_ratio(rr.get('rss'))} |"
            )
    return lines


def _hooks_table(res: dict[str, Any]) -> list[str]:
    entry = res["summary"].get("hooks", {}).get("plait/inline")
    if not entry or entry.get("status") != "ok":
        return []
    lines = [
        "| engine | µs per run | overhead % (mean over rounds) | 95 % CI | µs per node |",
        "|---|---|---|---|---|",
    ]
    nodes = SCENARIOS["hooks"].n
    off = entry["us"]["off"]["median"]
    names = {
        "off": "no hooks, no subscriber",
        "hooks": "idle hook (before_node + after_node return Continue())",
        "events": "idle event subscriber (`engine.subscribe(lambda e: None)`)",
        "run_events": "idle subscriber to run events only (`types={RunStarted, RunFinished}`)",
        "both": "idle hook + idle subscriber",
        "unsubscribed": "a subscriber that unsubscribed again",
    }
    for v, label in names.items():
        us = _cell({"status": "ok", "x": entry["us"][v]}, "x")
        if v == "off":
            lines.append(f"| {label} | {us} | | | |")
            continue
        ci = entry[v]
        interval = f"[{_num(ci['low'], 1)}, {_num(ci['high'], 1)}]" if ci["low"] is not None else ""
        per_node = (entry["us"][v]["median"] - off) / nodes
        lines.append(f"| {label} | {us} | {_num(ci['mean'], 1)} | {interval} | {_num(per_node)} |")
    return lines


def _rss_table(res: dict[str, Any], cols: Sequence[str]) -> list[str]:
    s = res["summary"]
    lines = [
        "| scenario | " + " | ".join(ROWS[c].label for c in cols) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    for name, meta in res["scenarios"].items():
        if meta["kind"] != "latency":
            continue
        cells = [
            _num(_median(s, name, c, "rss_mb"), 0) if c in s.get(name, {}) else "" for c in cols
        ]
        lines.append(f"| {SCENARIOS[name].title} | " + " | ".join(cells) + " |")
    return lines


def _notes(res: dict[str, Any]) -> list[str]:
    out = []
    for scenario, rows in res["summary"].items():
        for row, entry in rows.items():
            for err in entry.get("errors", []):
                tags = {"ok": "some rounds failed", "failed": "failed"}
                tag = tags.get(entry["status"], entry["status"])
                out.append(f"- **{scenario} / {ROWS[row].label}** ({tag}): {err}")
    return out


DIFFERENCES = """\
- **Node work.** The plain rows (plait, LangGraph) run nodes that add 1 to a number: the cost
  measured is the engine's. GraphBit cannot run such a workflow: it rejects any workflow
  without an agent node ("No agents found in workflow"), and its agents reach models only
  through Ollama at `localhost:11434`. Its rows therefore run against the mock Ollama server
  (`python -m plait.testing`, zero latency, its own process pinned to CPU 1), and plait is
  measured on the same shapes doing the same HTTP call per node (`plait (HTTP nodes)`, a
  minimal keep-alive client in `bench/ollama_client.py`) or one HTTP node followed by
  inline transforms (`plait (1 HTTP node + inline)`, against GraphBit's agent head followed by
  its built-in `uppercase` transform nodes). These rows measure the engine *plus* an HTTP round
  trip per agent node, not the engine alone.
- **GraphBit's agent calls are not pooled.** For every agent node GraphBit first GETs
  `/api/tags` (it pulls a model whose exact name is not listed, hence the model name
  `mock:latest`), then POSTs `/api/chat`, on a new TCP connection, with a new HTTP client that
  re-reads the system CA store (strace: ~290 certificate files opened per agent call). plait's
  HTTP rows make one POST per node over pooled keep-alive connections. Most of GraphBit's
  4-5 ms per agent node is that client set-up, not its scheduler; its transform rows show its
  per-node scheduling cost. Its parallel agent branches did not overlap here: a fan-out of 5
  agents + join took about as long as 6 agent calls in a row.
- **Node counts.** A chain of n has n nodes everywhere. A fan-out of n has n branches and a
  join (n + 1 nodes; the workflow input feeds the branches); the "1 agent/HTTP node + ..."
  rows add the head node (n + 2).
- **Bursts.** `burst10k` starts 10,000 runs at once with `asyncio.gather` in a process pinned
  to CPU 0 (`os.sched_setaffinity(0, {0})` before any framework is imported): plait's async
  `engine.run` and LangGraph's `ainvoke` (sync `invoke` cannot overlap on one loop). GraphBit
  runs its burst (`run_async`) in `burst1k-http`, at 1,000 runs, because every GraphBit run
  makes three ~4 ms agent calls; the mock server runs on the other CPU.
- **Memory** is the subprocess's peak RSS (`ru_maxrss`), imports included; the burst table
  also gives the RSS just before the burst started.
- **CPU** is `time.process_time()` over the measured section: all threads of the worker
  process (GraphBit's Tokio workers included), not the mock server's.
"""

METHOD = """\
Each (row, scenario) runs in a fresh Python subprocess once per round; the rounds interleave
every job in a shuffled order, so slow phases of the machine hit all frameworks alike. Each
workflow is built or compiled once, outside the timed loop. A latency job warms up (at least
3 runs), then times batches of runs of about 20 ms each for the scenario's budget (0.3 to 0.5 s);
its figure is the median over batches of the mean time per run, wall clock, for runs made one
after the other. Ratios are computed per round (peer ÷ plait, both from the same round) and
summarised as a geometric mean with a 95 % Student-t interval on the log ratios (no interval
with a single round). The hooks job runs one workflow (a 10-node chain of inline fns) on five
engines in one process, interleaving batches; the overhead is the median of the per-cycle
ratios to the bare engine, averaged over rounds (its interval is a t interval on that mean).
"""


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    m, v = meta["machine"], meta["versions"]
    plain, mock = list(PLAIN_ROWS), list(MOCK_ROWS)
    out = [
        "# Engine benchmark: plait, LangGraph and GraphBit side by side",
        "",
        f"`{meta['command'].strip()}` on {meta['generated']}: {meta['rounds']} round(s), "
        f"{meta['elapsed_s']:.0f} s. Machine: {m['cpu']}, {m['cores']} cores"
        + (f", {m['memory_gib']} GiB" if m.get("memory_gib") else "")
        + f", {m['system']}, Python {m['python']}. Versions: plait {v['plait']}, "
        f"LangGraph {v['langgraph']} (langchain-core {v['langchain-core']}), "
        f"GraphBit {v['graphbit']}. plait measured at commit "
        f"`{meta['plait_source']['commit']}`"
        + (" (with local changes)" if meta["plait_source"]["src_plait_modified"] == "yes" else "")
        + ".",
        "",
        "Cells are the median over rounds with [min, max]; ratios are peer ÷ plait (above 1: "
        "plait is faster or smaller), geometric mean over rounds with a 95 % confidence "
        "interval. Raw measurements: `engine.json`.",
    ]
    if meta["quick"]:
        out += [
            "",
            "> **Quick smoke run**: tiny budgets and burst sizes; do not quote these figures.",
        ]
    out += ["", "## Targets (issue 2)", "", *_targets_table(res)]
    out += ["", "## Latency per run (µs), zero-latency nodes", "", *_latency_table(res, plain)]
    out += [
        "",
        "CPU per run (µs of process CPU time):",
        "",
        *_latency_table(res, plain, key="cpu_us"),
    ]
    marginal = _marginal_table(res, plain + mock)
    if marginal:
        out += ["", "### Cost of one more node (µs, from the chain medians)", "", *marginal]
    out += [
        "",
        "## Against GraphBit: nodes that call the mock LLM (µs per run)",
        "",
        *_latency_table(res, mock),
    ]
    burst = _burst_table(res)
    if len(burst) > 2:
        out += ["", "## Bursts of concurrent runs on one core", "", *burst]
    hooks = _hooks_table(res)
    if hooks:
        out += ["", "## Idle hooks and event subscribers (plait, 10-node chain)", "", *hooks]
    out += [
        "",
        "## Peak RSS per latency subprocess (MB, imports included)",
        "",
        *_rss_table(res, plain + mock),
    ]
    out += ["", "## What differs between the rows", "", DIFFERENCES.rstrip()]
    notes = _notes(res)
    if notes:
        out += ["", "## Not measured, skipped or failed", "", *notes]
    out += ["", "## Method", "", METHOD.rstrip(), ""]
    return "\n".join(out)
