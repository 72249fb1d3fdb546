"""Turns ``bench.store``'s raw per-round records into the summary (``store.json``) and the
tables (``store.md``) the docs quote."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bench.report import _machine, _versions
from bench.stats import ratio_ci, spread

MODES = ("sync", "async", "exit")
SIZES = ("1KB", "100KB", "1MB")
CHAIN_ROWS = (("plait", "memory", "plait, memory"), ("plait", "sqlite", "plait, SQLite"),
              ("plait", "postgres", "plait, PostgreSQL"),
              ("langgraph", "memory", "LangGraph, InMemorySaver"),
              ("langgraph", "sqlite", "LangGraph, SqliteSaver"),
              ("langgraph", "sqlite-full", "LangGraph, SqliteSaver (synchronous=FULL)"))
ANCHORS = {"state_write_ms": 5.0, "state_read_ms": 1.0, "session_create_us": 24.5,
           "publish_only_per_s": 90_000, "langgraph_sqlite_step_ms": 1.2}


def headline(job: dict[str, Any], outcome: dict[str, Any]) -> str:
    if not outcome["ok"]:
        return str(outcome.get("error", ""))[:110]
    m = outcome["metrics"]
    kind = job["kind"]
    if kind == "chain":
        n = job["n"]
        return ", ".join(f"{k if k != 'None' else 'none'} {v['median'] / n * 1e3:.3f}"
                         for k, v in m.items()) + " ms/step"
    if kind == "state":
        return f"write {m['write'] * 1e3:.3f} ms, read {m['read'] * 1e3:.3f} ms"
    if kind == "session":
        return f"create {m['create'] * 1e6:.0f} µs, save {m['save'] * 1e6:.0f} µs"
    if kind == "storage":
        return ", ".join(f"{s} steps {v['file_per_step']:.0f} B/step" for s, v in m.items())
    return (f"{m['queued']['events_per_s']:,.0f} events/s delivered, "
            f"{m['publish_only']['events_per_s']:,.0f} publish-only")


# --------------------------------------------------------------------------- summary


def build(*, records: Sequence[dict[str, Any]], rounds: int, quick: bool, argv: Sequence[str],
          elapsed: float, plait_source: dict[str, str], load: dict[str, Any]) -> dict[str, Any]:
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    jobs: dict[str, dict[str, Any]] = {}
    failures = []
    for r in records:
        jobs[r["key"]] = r["job"]
        if r["ok"]:
            by_key[r["key"]].append({"round": r["round"], **r["metrics"]})
        else:
            failures.append({"key": r["key"], "round": r["round"], "error": r.get("error")})
    summary: dict[str, Any] = {}
    for k, rows in by_key.items():
        job = jobs[k]
        if job["kind"] == "chain":
            summary[k] = _chain(rows, job["n"])
        elif job["kind"] == "state":
            summary[k] = {f: spread([r[f] * 1e3 for r in rows]) for f in ("write", "read")}
        elif job["kind"] == "session":
            summary[k] = {f: spread([r[f] * 1e6 for r in rows]) for f in ("create", "save")}
        elif job["kind"] == "storage":
            summary[k] = {s: {f: spread([r[s][f] for r in rows])
                              for f in ("file_per_step", "payload_per_step")}
                          for s in ("10", "100")}
        else:
            summary[k] = {v: spread([r[v]["events_per_s"] for r in rows])
                          for v in ("queued", "callback", "publish_only", "asyncio_queue")}
            summary[k]["dropped"] = sum(r["dropped"] for r in rows)
    return {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "rounds": rounds, "quick": quick, "argv": list(argv), "elapsed_s": elapsed,
            "machine": _machine(), "load": load,
            "versions": _versions(("plait", "langgraph", "langgraph-checkpoint",
                                   "langgraph-checkpoint-sqlite", "sqlalchemy", "aiosqlite",
                                   "asyncpg")),
            "plait_source": plait_source,
        },
        "jobs": jobs, "summary": summary, "ratios": _ratios(by_key, jobs),
        "failures": failures, "records": list(records),
    }


def _chain(rows: list[dict[str, Any]], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in ("None", *MODES):
        step = [r[variant]["median"] / n * 1e3 for r in rows if variant in r]
        if not step:
            continue
        over = [(r[variant]["median"] - r["None"]["median"]) / n * 1e3
                for r in rows if variant in r]
        out[variant] = {"ms_per_step": spread(step), "overhead_ms_per_step": spread(over),
                        "cpu_ms_per_step": spread([r[variant]["cpu"] / n * 1e3
                                                   for r in rows if variant in r])}
    return out


def _ratios(by_key: dict[str, list[dict[str, Any]]],
            jobs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """LangGraph ÷ plait per step, per round, for the same backend, mode and size."""
    out: dict[str, Any] = {}
    for k, job in jobs.items():
        if job["kind"] != "chain" or job["side"] != "langgraph":
            continue
        mine = k.replace("/langgraph/", "/plait/").replace("sqlite-full", "sqlite")
        plait_rows = {r["round"]: r for r in by_key.get(mine, [])}
        for mode in ("None", *MODES):
            ratios = [r[mode]["median"] / plait_rows[r["round"]][mode]["median"]
                      for r in by_key.get(k, [])
                      if r["round"] in plait_rows and mode in r]
            if ratios:
                out[f"{k}/{mode}"] = ratio_ci(ratios)
    return out


# --------------------------------------------------------------------------- markdown


def _num(x: float | None, digits: int | None = None) -> str:
    if x is None:
        return "—"
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2 if abs(x) >= 1 else 3
    return f"{x:,.{digits}f}"


def _cell(s: dict[str, Any] | None, digits: int | None = None) -> str:
    if not s or s.get("median") is None:
        return "—"
    if s["n"] == 1:
        return _num(s["median"], digits)
    return (f"{_num(s['median'], digits)} <sub>[{_num(s['min'], digits)}, "
            f"{_num(s['max'], digits)}]</sub>")


def _ratio(r: dict[str, Any] | None) -> str:
    if not r or r.get("geomean") is None:
        return "—"
    head = f"**{_num(r['geomean'])}x**"
    if r.get("low") is None:
        return head
    return f"{head} <sub>[{_num(r['low'])}, {_num(r['high'])}]</sub>"


def _med(s: dict[str, Any] | None) -> float | None:
    return None if not s else s.get("median")


def _get(res: dict[str, Any], *path: str) -> Any:
    node: Any = res["summary"]
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _verdict(value: float | None, ok: bool) -> str:
    return "—" if value is None else "met" if ok else "**missed**"


def _targets(res: dict[str, Any]) -> list[str]:
    rows = ["| target | limit | plait | verdict |", "|---|---|---|---|"]
    for mode, limit in (("async", 0.3), ("sync", 2.0)):
        over = _med(_get(res, "chain/plait/sqlite/1KB", mode, "overhead_ms_per_step"))
        step = _med(_get(res, "chain/plait/sqlite/1KB", mode, "ms_per_step"))
        rows.append(f"| SQLite checkpoint of 1 KB per node, {mode} mode (run time with the "
                    f"store minus without, per node) | ≤ {limit} ms | {_num(over)} ms "
                    f"({_num(step)} ms per step in all) | "
                    f"{_verdict(over, over is not None and over <= limit)} |")
    bus = _med(_get(res, "bus/plait/1 subscriber(s)", "queued"))
    rows.append(f"| events delivered to one subscriber | ≥ 500,000 /s | {_num(bus, 0)} /s | "
                f"{_verdict(bus, bus is not None and bus >= 500_000)} |")
    short = _med(_get(res, "storage/plait/sqlite", "10", "file_per_step"))
    long = _med(_get(res, "storage/plait/sqlite", "100", "file_per_step"))
    flat = short is not None and long is not None and long <= short * 1.15
    rows.append(f"| storage per step independent of run length (SQLite file bytes per step, "
                f"10-step vs 100-step runs) | 100-step ≤ 10-step (+15 % page slack) | "
                f"{_num(short, 0)} B vs {_num(long, 0)} B | {_verdict(long, flat)} |")
    return rows


def _anchors(res: dict[str, Any]) -> list[str]:
    rows = ["| measure | anchor (peer's own claim) | plait here |", "|---|---|---|"]
    write = _med(_get(res, "state/plait/sqlite/1KB", "write"))
    read = _med(_get(res, "state/plait/sqlite/1KB", "read"))
    rows.append(f"| state write, 1 KB (SQLite) | rs-llmspell < 5 ms | {_num(write)} ms |")
    rows.append(f"| state read, 1 KB (SQLite) | rs-llmspell < 1 ms | {_num(read)} ms |")
    create = _med(_get(res, "session/plait/sqlite", "create"))
    rows.append(f"| session creation (SQLite, committed) | rs-llmspell 24.5 µs | "
                f"{_num(create, 0)} µs |")
    pub = _med(_get(res, "bus/plait/1 subscriber(s)", "publish_only"))
    rows.append(f"| event bus, publish-only | rs-llmspell 90,000 events/s | {_num(pub, 0)} "
                "events/s |")
    lg = _med(_get(res, "chain/langgraph/sqlite/1KB", "sync", "ms_per_step"))
    mine = _med(_get(res, "chain/plait/sqlite/1KB", "sync", "ms_per_step"))
    rows.append(f"| SQLite checkpointer, per step (1 KB, sync) | a third-party LangGraph "
                f"saver: 1.2 ms | plait {_num(mine)} ms; LangGraph's SqliteSaver here "
                f"{_num(lg)} ms |")
    return rows


def _chain_table(res: dict[str, Any], size: str, field: str) -> list[str]:
    rows = ["| side, backend | no store | sync | async | exit |", "|---|---|---|---|---|"]
    for side, backend, label in CHAIN_ROWS:
        data = _get(res, f"chain/{side}/{backend}/{size}")
        if data is None:
            continue
        cells = [_cell(data[v][field] if v in data else None)
                 if not (v == "None" and field.startswith("overhead")) else "0"
                 for v in ("None", *MODES)]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def _ratio_table(res: dict[str, Any]) -> list[str]:
    rows = ["| size | backend | no store | sync | async | exit |", "|---|---|---|---|---|---|"]
    for size in SIZES:
        for backend, label in (("memory", "memory ↔ InMemorySaver"),
                               ("sqlite", "SQLite ↔ SqliteSaver")):
            k = f"chain/langgraph/{backend}/{size}"
            if not any(key.startswith(k) for key in res["ratios"]):
                continue
            rows.append(f"| {size} | {label} | " + " | ".join(
                _ratio(res["ratios"].get(f"{k}/{mode}")) for mode in ("None", *MODES)) + " |")
    return rows


def _state_table(res: dict[str, Any]) -> list[str]:
    rows = ["| backend | size | write (ms) | read (ms) |", "|---|---|---|---|"]
    for backend in ("memory", "sqlite", "postgres"):
        for size in SIZES:
            s = _get(res, f"state/plait/{backend}/{size}")
            if s is not None:
                rows.append(f"| {backend} | {size} | {_cell(s['write'])} | {_cell(s['read'])} |")
    return rows


def _storage_table(res: dict[str, Any]) -> list[str]:
    rows = ["| side | file bytes per step, 10-step runs | 100-step runs | payload bytes per "
            "step, 10-step | 100-step |", "|---|---|---|---|---|"]
    for k, label in (("storage/plait/sqlite", "plait, checkpoints"),
                     ("storage/plait/sqlite+runlog", "plait, checkpoints + run log (the CLI)"),
                     ("storage/langgraph/sqlite", "LangGraph, SqliteSaver")):
        s = _get(res, k)
        if s is not None:
            rows.append(f"| {label} | {_cell(s['10']['file_per_step'], 0)} | "
                        f"{_cell(s['100']['file_per_step'], 0)} | "
                        f"{_cell(s['10']['payload_per_step'], 0)} | "
                        f"{_cell(s['100']['payload_per_step'], 0)} |")
    return rows


def _session_table(res: dict[str, Any]) -> list[str]:
    rows = ["| backend | create (µs) | append one message and save (µs) |", "|---|---|---|"]
    for backend in ("sqlite", "postgres"):
        s = _get(res, f"session/plait/{backend}")
        if s is not None:
            rows.append(f"| {backend} | {_cell(s['create'], 0)} | {_cell(s['save'], 0)} |")
    return rows


def _bus_table(res: dict[str, Any]) -> list[str]:
    rows = ["| subscribers | delivered (queue subscribers, consumed) | callback subscribers | "
            "publish-only | bare asyncio.Queue (floor) | dropped |", "|---|---|---|---|---|---|"]
    for k in (1, 10):
        s = _get(res, f"bus/plait/{k} subscriber(s)")
        if s is not None:
            rows.append(f"| {k} | {_cell(s['queued'], 0)} | {_cell(s['callback'], 0)} | "
                        f"{_cell(s['publish_only'], 0)} | {_cell(s['asyncio_queue'], 0)} | "
                        f"{s['dropped']} |")
    return rows


def markdown(res: dict[str, Any]) -> str:
    meta = res["meta"]
    m, v, load = meta["machine"], meta["versions"], meta["load"]
    modified = meta["plait_source"].get("src_plait_modified") == "yes"
    dirty = " (with uncommitted changes)" if modified else ""
    lines = [
        "# Durable execution benchmark: plait's stores and LangGraph's checkpointers",
        "",
        f"`python -m bench.store {' '.join(meta['argv'])}`".replace(" `", "`") +
        f" on {meta['date']}: {meta['rounds']} round(s), {meta['elapsed_s']:.0f} s. Machine: "
        f"{m.get('cpu', '?')}, {m.get('cores')} cores, Linux, Python {m.get('python')}. "
        f"Load average (1 min) {load.get('before', {}).get('load_1m', '?')} before and "
        f"{load.get('after', {}).get('load_1m', '?')} after the run on {m.get('cores')} cores: "
        "**the machine was shared and loaded**, so absolute times are pessimistic; ratios "
        "come from the same round. Versions: " +
        ", ".join(f"{k} {val}" for k, val in v.items()) +
        f". plait measured at commit `{meta['plait_source'].get('commit', '?')}`{dirty}.",
        "",
        "Cells are the median over rounds with [min, max]; a chain job runs the 20-node chain "
        "in every mode and without a store, interleaved run by run in one process. Ratios are "
        "LangGraph ÷ plait per step (above 1: plait is faster), geometric mean over rounds "
        "with a 95 % confidence interval. Raw measurements: `store.json`.",
        "",
        "## Targets (issue 5)", "", *_targets(res), "",
        "## Anchors", "", *_anchors(res), "",
    ]
    for size in SIZES:
        if not any(k.endswith(f"/{size}") and k.startswith("chain/") for k in res["summary"]):
            continue
        lines += [f"## A 20-node chain, {size} of state per step: ms per step", "",
                  *_chain_table(res, size, "ms_per_step"), "",
                  f"Checkpoint cost per node ({size}): ms per step with the store minus "
                  "without", "", *_chain_table(res, size, "overhead_ms_per_step"), ""]
    lines += ["## LangGraph ÷ plait, per step", "", *_ratio_table(res), "",
              "## Scoped state: set and get one value", "", *_state_table(res), "",
              "## Storage per step (SQLite, 1 KB of state per step)", "",
              *_storage_table(res), "",
              "## Sessions", "", *_session_table(res), "",
              "## Event bus: events per second", "", *_bus_table(res), "",
              "## Notes", "", *_notes(res)]
    if res["failures"]:
        lines += ["", "Failed jobs: " + "; ".join(
            f"{f['key']} (round {f['round'] + 1}): {f['error']}" for f in res["failures"])]
    return "\n".join(lines) + "\n"


def _notes(res: dict[str, Any]) -> list[str]:
    return [
        "- **The chain.** Each of 20 nodes replaces the state value with a new string of the "
        "same size (plait: inline `transform` functions; LangGraph: a `StateGraph` whose "
        "nodes return `{\"data\": ...}`). plait's chain has one more node, its `output`, "
        "whose checkpoint is counted in plait's time; LangGraph also writes the input "
        "checkpoint. Per step = run time ÷ 20.",
        "- **Durability modes are the same words with the same promise**: `sync` writes a "
        "step's checkpoint before the next step starts, `async` writes in the background "
        "while the run goes on, `exit` writes once at the end. plait's `sync` commits one "
        "transaction per scheduler turn through SQLAlchemy's async driver (a thread hop "
        "for aiosqlite); LangGraph's `SqliteSaver` writes from the calling thread.",
        "- **`exit` keeps different things.** LangGraph writes one checkpoint at exit, the "
        "final state; plait writes every node's checkpoint at exit (the run's lineage and "
        "its fork points), so its `exit` stores as much as `sync` and saves only the "
        "waiting. At 100 KB and 1 MB per step that is most of the gap in the `exit` column.",
        "- **Large values.** plait checks and copies every output as plain JSON when it "
        "settles (the `MemoryCheckpointStore` also round-trips it through `json`, which is "
        "most of its cost at 1 MB), and the SQL stores write it as JSON text with its blake3 "
        "hash; LangGraph's serializer writes msgpack.",
        "- **SQLite settings.** plait runs SQLite in WAL mode with `synchronous=NORMAL` (a "
        "committed checkpoint survives a killed process; a power cut may lose the last "
        "transactions). `LangGraph, SqliteSaver` gets the same setting for a like-for-like "
        "row; `synchronous=FULL` is LangGraph's default (an fsync per commit), shown in "
        "sync mode only.",
        "- **Memory stores** do not grow during the measurement: plait's run gets a fresh "
        "`MemoryCheckpointStore`, LangGraph's `InMemorySaver` deletes each run's thread "
        "after the run's timing.",
        "- **Storage per step** is the growth of the SQLite file (after a WAL checkpoint, "
        "free pages excluded) and the payload bytes the rows hold, over 5 runs of 10 and of "
        "100 steps. plait stores each node's delta (its output), so a step costs the same "
        "whatever the run's length; a LangGraph checkpoint holds the version of every "
        "channel of the graph (one per node here), so in a longer chain every step costs "
        "more.",
        "- **Event bus.** `delivered`: queue subscribers drained by consumer tasks (`batch()`)"
        " while the publisher yields every 512 events, counted when the subscriber has them; "
        "`callback`: synchronous callbacks called by `publish`; `publish-only`: bounded "
        "queues nobody drains (`drop_oldest`), the figure rs-llmspell quotes. Rates are "
        "events per second (each delivered to every subscriber).",
        "- Throwaway PostgreSQL 15 cluster on the same machine (a Unix socket), a fresh "
        "database per job.",
    ]


__all__ = ["build", "headline", "markdown"]
