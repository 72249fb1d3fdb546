"""``plait runs list`` and ``plait runs show``: stored runs, their lineage and timeline.

Both read the settings' database only: nothing runs, nothing is written.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from plait.cli.console import jsonable, out_console, print_json
from plait.cli.progress import format_duration
from plait.cli.runstore import CALLS_EVENT, find_run, open_stores
from plait.cli.wiring import settings
from plait.graph.durability import LoggedEvent, NodeCheckpoint, RunRecord
from plait.graph.restore import latest_checkpoints
from plait.store import Stores
from plait.types import RunStatus

__all__ = ["ListOptions", "list_command", "pending", "show_command", "show_data"]

_STYLES = {"completed": "green", "failed": "red", "cancelled": "yellow", "waiting": "cyan",
           "running": "yellow", "pending": "dim"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOptions:
    status: RunStatus | None = None
    workflow: str | None = None
    limit: int = 20
    json_output: bool = False


def when(ts: float) -> str:
    """A local date and time, to the second."""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _status(status: str) -> Text:
    return Text(status, style=_STYLES.get(status, ""))


def run_summary(record: RunRecord) -> dict[str, object]:
    return {"run_id": record.run_id, "workflow": record.workflow,
            "status": record.status.value, "started": record.created_at,
            "updated": record.updated_at, "duration": record.updated_at - record.created_at,
            "parent_id": record.parent_id, "code": record.code}


def list_command(options: ListOptions) -> int:
    async def read() -> list[RunRecord]:
        stores = await open_stores(settings())
        try:
            return await stores.checkpoints.list_runs(
                status=options.status, workflow=options.workflow, limit=options.limit)
        finally:
            await stores.close()

    records = asyncio.run(read())
    if options.json_output:
        print_json([run_summary(r) for r in records])
        return 0
    console = out_console()
    if not records:
        console.print("no stored runs" + (f" with status {options.status.value}"
                                          if options.status else ""))
        return 0
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("run", "workflow", "status", "started", "duration"):
        table.add_column(column, no_wrap=True, justify="right" if column == "duration" else "left")
    for r in records:
        table.add_row(r.run_id, r.workflow, _status(r.status.value), when(r.created_at),
                      format_duration(r.updated_at - r.created_at))
    console.print(table)
    return 0


# -- show ----------------------------------------------------------------------------------


def pending(latest: Mapping[str, NodeCheckpoint],
            answered: Mapping[str, object]) -> list[dict[str, object]]:
    """The interrupts waiting nodes still wait on (not answered yet)."""
    found = []
    for cp in sorted(latest.values(), key=lambda c: c.seq):
        if cp.status == "waiting":
            for item in cp.interrupts:
                if item.get("id") not in answered:
                    found.append({"id": item.get("id"), "node_id": cp.node_id,
                                  "key": item.get("key"), "prompt": item.get("prompt"),
                                  "schema": item.get("schema")})
    return found


def _models(lineage: Mapping[str, object]) -> list[str]:
    found = [str(lineage["model"])] if "model" in lineage else []
    children = lineage.get("children")
    if isinstance(children, Mapping):
        for data in children.values():
            if isinstance(data, Mapping) and "model" in data:
                found.append(str(data["model"]))
    return sorted(set(found))


def lineage_data(record: RunRecord, checkpoints: Sequence[NodeCheckpoint]) -> dict[str, object]:
    """The run's lineage: the spec's digest, and per node (its newest checkpoint) the models,
    prompt hashes and the blake3 hash of its output."""
    kinds = {str(n.get("id")): str(n.get("kind")) for n in _nodes(record)}
    nodes: dict[str, object] = {}
    for cp in sorted(latest_checkpoints(checkpoints).values(), key=lambda c: c.seq):
        lineage = dict(cp.lineage)
        nodes[cp.node_id] = {
            "kind": kinds.get(cp.node_id, ""), "status": cp.status, "attempts": cp.attempts,
            "seq": cp.seq, "models": _models(lineage),
            "prompt_hash": lineage.get("prompt_hash"),
            "output_hash": lineage.get("output_hash") if cp.status == "completed" else None,
            "lineage": lineage}
    return {"workflow": record.workflow, "digest": record.digest, "nodes": nodes}


def _nodes(record: RunRecord) -> list[Mapping[str, object]]:
    nodes = record.spec.get("nodes")
    return [n for n in nodes if isinstance(n, Mapping)] if isinstance(nodes, list) else []


def event_data(event: LoggedEvent) -> dict[str, object]:
    return {"seq": event.seq, "type": event.type, "ts": event.ts, "data": dict(event.data)}


async def _gather(stores: Stores, run: str) -> dict[str, object]:
    record = await find_run(stores, run)
    checkpoints = await stores.checkpoints.checkpoints(record.run_id)
    answers = await stores.checkpoints.answers(record.run_id)
    events = await stores.runlog.events(record.run_id)
    latest = latest_checkpoints(checkpoints)
    return {
        "run": {**run_summary(record), "error": record.error, "digest": record.digest},
        "inputs": dict(record.inputs),
        "outputs": dict(record.outputs),
        "interrupts": pending(latest, answers) if record.status is RunStatus.WAITING else [],
        "answers": answers,
        "lineage": lineage_data(record, checkpoints),
        "events": [event_data(e) for e in events],
    }


def show_data(run: str) -> dict[str, object]:
    """Everything ``plait runs show`` prints, as JSON data."""
    async def read() -> dict[str, object]:
        stores = await open_stores(settings())
        try:
            return await _gather(stores, run)
        finally:
            await stores.close()

    return asyncio.run(read())


def show_command(run: str, *, json_output: bool, events: bool = True) -> int:
    data = show_data(run)
    if json_output:
        print_json(data)
        return 0
    console = out_console()
    _print_header(data, console)
    _print_values("inputs", data["inputs"], console)
    _print_values("outputs", data["outputs"], console)
    interrupts = data["interrupts"]
    assert isinstance(interrupts, list)
    if interrupts:
        run_id = _run(data)["run_id"]
        console.print(Text("waiting for", style="bold underline"))
        for item in interrupts:
            console.print(Text.assemble("  ", (str(item["id"]), "bold"),
                                        f"  {item['node_id']}: {item['prompt']}"),
                          soft_wrap=True)
        console.print(f"  answer with: plait runs resume {run_id} --answer "
                      f"{interrupts[0]['id']}=VALUE", markup=False, highlight=False,
                      soft_wrap=True)
    _print_lineage(data, console)
    if events:
        _print_timeline(data, console)
    return 0


def _run(data: Mapping[str, object]) -> Mapping[str, object]:
    run = data["run"]
    assert isinstance(run, Mapping)
    return run


def _print_header(data: Mapping[str, object], console: Console) -> None:
    run = _run(data)
    status = str(run["status"])
    console.print(Text.assemble(("run ", "bold"), (str(run["run_id"]), "bold"), "  ",
                                _status(status)))
    rows = [("workflow", str(run["workflow"])), ("spec", str(run["digest"])),
            ("started", when(float(run["started"]))),  # type: ignore[arg-type]
            ("duration", format_duration(float(run["duration"])))]  # type: ignore[arg-type]
    if run.get("parent_id"):
        rows.append(("forked from", str(run["parent_id"])))
    if run.get("error") or run.get("code"):
        rows.append(("error", f"[{run.get('code')}] {run.get('error') or ''}".strip()))
    for name, value in rows:
        console.print(Text.assemble(f"  {name:<12}", value), soft_wrap=True)


def _print_values(title: str, values: object, console: Console) -> None:
    if not isinstance(values, Mapping) or not values:
        return
    console.print(Text(title, style="bold underline"))
    for name, value in values.items():
        text = value if isinstance(value, str) else json.dumps(jsonable(value),
                                                               ensure_ascii=False)
        if len(text) > 200:
            text = text[:197] + "..."
        console.print(Text.assemble("  ", (str(name), "bold cyan"), ": ", text),
                      soft_wrap=True)


def _short(value: object, n: int = 12) -> str:
    return str(value)[:n] if value else ""


def _print_lineage(data: Mapping[str, object], console: Console) -> None:
    lineage = data["lineage"]
    assert isinstance(lineage, Mapping)
    nodes = lineage["nodes"]
    assert isinstance(nodes, Mapping)
    console.print(Text("lineage", style="bold underline"))
    console.print(f"  spec digest {lineage['digest']}", soft_wrap=True, markup=False)
    if not nodes:
        console.print("  (no checkpoints)")
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("  node", "kind", "status", "tries", "model", "prompt", "output (blake3)"):
        table.add_column(column, no_wrap=True)
    for node_id, node in nodes.items():
        assert isinstance(node, Mapping)
        table.add_row(f"  {node_id}", str(node["kind"]), _status(str(node["status"])),
                      str(node["attempts"] or ""), ", ".join(node["models"]),
                      _short(node["prompt_hash"]), _short(node["output_hash"], 16))
    console.print(table)


def describe(event: Mapping[str, object]) -> str:
    """One line for a logged event."""
    kind = str(event["type"])
    data = event["data"]
    assert isinstance(data, Mapping)
    node = str(data.get("node_id", ""))
    if kind == "RunStarted":
        return f"run started ({data.get('workflow')})"
    if kind == "RunResumed":
        return f"run resumed ({data.get('workflow')})"
    if kind == "RunFinished":
        code = f" [{data['code']}]" if data.get("code") else ""
        return f"run {data.get('status')}{code}"
    if kind == "NodeStarted":
        again = f", attempt {data.get('attempt')}" if data.get("attempt", 1) != 1 else ""
        return f"{node} started ({data.get('kind')}{again})"
    if kind == "NodeOutput":
        return f"{node} completed in {format_duration(_float(data.get('duration')))}"
    if kind == "NodeFailed":
        return f"{node} failed [{data.get('code')}]: {data.get('error')}"
    if kind == "NodeRetrying":
        return f"{node} retrying (attempt {data.get('attempt')}): {data.get('error')}"
    if kind == "NodeSkipped":
        return f"{node} skipped: {data.get('reason')}"
    if kind == "NodeCancelled":
        return f"{node} cancelled"
    if kind == "NodeInterrupted":
        asked = data.get("interrupts")
        n = len(asked) if isinstance(asked, list) else 0
        return f"{node} waits for {n} answer{'s' if n != 1 else ''}"
    if kind == "ToolCalled":
        return f"{node} called tool {data.get('tool')}"
    if kind == CALLS_EVENT:
        return f"{data.get('calls')} model/tool call(s) recorded ({data.get('artifact_id')})"
    if kind == "RunCancelled":
        return "run cancelled (plait runs cancel)"
    return kind


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _print_timeline(data: Mapping[str, object], console: Console) -> None:
    events = data["events"]
    assert isinstance(events, list)
    console.print(Text("timeline", style="bold underline"))
    if not events:
        console.print("  (no events logged)")
        return
    start = _float(events[0]["ts"])
    tokens = 0
    runs = 0
    for event in events:
        if event["type"] == "TokenDelta":
            tokens += 1
            continue
        top = not (isinstance(event["data"], Mapping) and event["data"].get("path"))
        if event["type"] == "RunStarted" and top:
            runs += 1
            if runs > 1:
                event = {**event, "type": "RunResumed"}
        path = event["data"].get("path") if isinstance(event["data"], Mapping) else None
        where = f"{'/'.join(map(str, path))}/ " if isinstance(path, list) and path else ""
        offset = f"+{_float(event['ts']) - start:.3f}s"
        console.print(Text.assemble(f"  {offset:>10}  ", (where, "dim"), describe(event)),
                      soft_wrap=True)
    if tokens:
        console.print(Text(f"  ({tokens} token deltas not shown)", style="dim"))
