"""The live view of a run: a :class:`RunTracker` follows the engine's event stream, and is
shown either as a Rich live table (on a terminal) or as one plain line per event (in logs).

Only top-level events (empty ``path``) change the table's rows; events of child runs (map
items, loop iterations, sub-workflows) are counted on the row of the node that owns them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from plait.cli.graph import layers
from plait.graph.events import (
    Event,
    NodeFailed,
    NodeInterrupted,
    NodeOutput,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunStarted,
    TokenDelta,
    ToolCalled,
)
from plait.graph.spec import WorkflowSpec
from plait.graph.state import RunResult

__all__ = ["LiveTable", "NodeRow", "RunTracker", "format_duration", "plain_line"]

_MARKS: dict[str, tuple[str, str]] = {
    "pending": ("·", "dim"),
    "running": ("▸", "yellow"),
    "retrying": ("↻", "magenta"),
    "completed": ("✓", "green"),
    "skipped": ("↷", "dim"),
    "failed": ("✗", "red"),
    "cancelled": ("⊘", "yellow"),
    "waiting": ("⏸", "cyan"),
}


_BUSY = ("running", "retrying", "failed", "cancelled")
"""Statuses worth a row when the table must leave some nodes out."""


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes:.0f}m {rest:04.1f}s"


@dataclass(slots=True)
class NodeRow:
    """What the view knows about one top-level node."""

    node_id: str
    kind: str
    status: str = "pending"
    attempts: int = 0
    started: float | None = None
    duration: float | None = None
    detail: str = ""
    child_runs: int = 0
    child_steps: int = 0
    child_unit: str = ""
    spinner: Spinner = field(default_factory=lambda: Spinner("dots", style="yellow"))

    def elapsed(self) -> float | None:
        if self.duration is not None:
            return self.duration
        if self.started is not None and self.status in ("running", "retrying"):
            return time.perf_counter() - self.started
        return None

    def progress(self) -> str:
        """Child-run progress of container nodes (map, loop, subworkflow)."""
        if self.child_unit == "item":
            return f"{self.child_runs} item{'s' if self.child_runs != 1 else ''} done"
        if self.child_unit == "iteration":
            return f"{self.child_runs} iteration{'s' if self.child_runs != 1 else ''} done"
        if self.child_steps:
            return f"{self.child_steps} step{'s' if self.child_steps != 1 else ''} done"
        return ""


class RunTracker:
    """An event sink (pass it as ``on_event``) that keeps one :class:`NodeRow` per node.

    ``listener`` is called after each event is applied (the plain-line printer uses it).
    Events may arrive from worker threads (token deltas), so updates take a lock.
    """

    def __init__(self, spec: WorkflowSpec,
                 listener: Callable[[Event], None] | None = None) -> None:
        kinds = {node.id: node.kind for node in spec.nodes}
        order = [node_id for layer in layers(spec) for node_id in layer]
        self.workflow = spec.name
        self.rows: dict[str, NodeRow] = {i: NodeRow(i, kinds[i]) for i in order}
        self.run_id = ""
        self.started = time.perf_counter()
        self.finished: RunFinished | None = None
        self.lock = threading.Lock()
        self.listener = listener

    def __call__(self, event: Event) -> None:
        with self.lock:
            if event.path:
                self._nested(event)
            else:
                self._apply(event)
        if self.listener is not None and not event.path:
            self.listener(event)

    def _apply(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
            self.started = time.perf_counter()
            return
        if isinstance(event, RunFinished):
            self.finished = event
            for unfinished in self.rows.values():
                if unfinished.status in ("running", "retrying"):
                    unfinished.duration = unfinished.elapsed()
                    unfinished.status = "cancelled"
            return
        row = self.rows.get(getattr(event, "node_id", ""))
        if row is None:
            return
        if isinstance(event, NodeStarted):
            row.status, row.attempts = "running", event.attempt
            row.started, row.duration = time.perf_counter(), None
        elif isinstance(event, NodeOutput):
            row.status, row.duration = "completed", event.duration
            row.attempts = max(row.attempts, 1)
        elif isinstance(event, NodeFailed):
            row.status, row.detail = "failed", event.error
            row.attempts = max(row.attempts, event.attempt)
            row.duration = row.elapsed()
        elif isinstance(event, NodeRetrying):
            row.status, row.duration = "retrying", None
            row.detail = f"attempt {event.attempt} in {format_duration(event.delay)}: {event.error}"
        elif isinstance(event, NodeSkipped):
            row.status, row.detail = "skipped", event.reason
        elif isinstance(event, NodeInterrupted):
            row.duration = row.elapsed()
            row.status = "waiting"
            row.detail = "; ".join(str(i.get("prompt", "")) for i in event.interrupts)
        elif isinstance(event, TokenDelta):
            row.detail = (row.detail + event.text)[-60:]
        elif isinstance(event, ToolCalled):
            row.detail = f"called {event.tool}"

    def _owner(self, key: str) -> NodeRow | None:
        row = self.rows.get(key)
        if row is not None:
            return row
        for mark, unit in (("[", "item"), ("#", "iteration")):
            head, sep, _ = key.rpartition(mark)
            owner = self.rows.get(head) if sep else None
            if owner is not None:
                owner.child_unit = unit
                return owner
        return None

    def _nested(self, event: Event) -> None:
        row = self._owner(event.path[0])
        if row is None or len(event.path) != 1:
            return
        if isinstance(event, RunFinished):
            row.child_runs += 1
        elif isinstance(event, NodeOutput):
            row.child_steps += 1

    def finalize(self, result: RunResult) -> None:
        """Take the final word from the result's node records."""
        with self.lock:
            self.run_id = result.run_id
            for node_id, record in result.nodes.items():
                row = self.rows.get(node_id)
                if row is None:
                    continue
                row.status = record.status.value
                row.attempts = record.attempts
                if record.error:
                    row.detail = record.error
                elif record.reason:
                    row.detail = record.reason

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(row.status for row in self.rows.values())

    def elapsed(self) -> float:
        if self.finished is not None:
            return self.finished.duration
        return time.perf_counter() - self.started


class LiveTable:
    """A Rich renderable of a tracker's rows, re-drawn by ``rich.live.Live``."""

    def __init__(self, tracker: RunTracker) -> None:
        self.tracker = tracker

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(max_rows=max(options.max_height - 6, 3))

    def table(self, *, max_rows: int | None = None) -> Table:
        """The table; past ``max_rows`` nodes, the busy and failed ones are shown first."""
        tracker = self.tracker
        with tracker.lock:
            run = f" · run {tracker.run_id[:8]}" if tracker.run_id else ""
            table = Table(title=Text(f"{tracker.workflow}{run} · "
                                     f"{format_duration(tracker.elapsed())}", style="bold"),
                          title_justify="left", expand=False, show_edge=False, pad_edge=False)
            table.add_column("node", style="bold", no_wrap=True)
            table.add_column("kind", style="dim", no_wrap=True)
            table.add_column("status", no_wrap=True)
            table.add_column("tries", justify="right")
            table.add_column("time", justify="right", no_wrap=True)
            table.add_column("detail", overflow="ellipsis", no_wrap=True, max_width=60)
            rows = list(tracker.rows.values())
            shown = rows
            if max_rows is not None and len(rows) > max_rows:
                busy = [r for r in rows if r.status in _BUSY]
                shown = (busy + [r for r in rows if r.status not in _BUSY])[:max_rows]
                shown.sort(key=rows.index)
            for row in shown:
                table.add_row(Text(row.node_id), row.kind,
                              self._status(row, ended=tracker.finished is not None),
                              str(row.attempts) if row.attempts else "",
                              format_duration(row.elapsed()),
                              Text(" ".join((row.progress(), row.detail)).strip()))
            done = sum(1 for r in rows if r.status not in ("pending", "running", "retrying"))
            more = f" · {len(rows) - len(shown)} more not shown" if len(shown) < len(rows) else ""
            table.caption = f"{done}/{len(rows)} nodes finished{more}"
            table.caption_justify = "left"
        return table

    @staticmethod
    def _status(row: NodeRow, *, ended: bool) -> RenderableType:
        if row.status == "running":
            row.spinner.update(text=Text("running", style="yellow"))
            return row.spinner
        if row.status == "pending" and ended:
            return Text("· not run", style="dim")
        mark, style = _MARKS.get(row.status, ("?", ""))
        return Text(f"{mark} {row.status}", style=style)


def plain_line(event: Event) -> Text | None:
    """One log line for a top-level event (``None`` for events not worth a line)."""
    if isinstance(event, RunStarted):
        return Text.assemble(("▶ ", "bold"), f"run {event.run_id[:8]} of ",
                             (event.workflow, "bold"), " started")
    if isinstance(event, NodeStarted):
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        return Text.assemble(("  ▸ ", "yellow"), (event.node_id, "bold"),
                             f" {event.kind} started{again}")
    if isinstance(event, NodeOutput):
        return Text.assemble(("  ✓ ", "green"), (event.node_id, "bold"),
                             f" done in {format_duration(event.duration)}")
    if isinstance(event, NodeFailed):
        return Text.assemble(("  ✗ ", "red"), (event.node_id, "bold"),
                             f" failed (attempt {event.attempt}): {event.error} ",
                             (f"[{event.code}]", "dim"))
    if isinstance(event, NodeRetrying):
        return Text.assemble(("  ↻ ", "magenta"), (event.node_id, "bold"),
                             f" retrying: attempt {event.attempt} in "
                             f"{format_duration(event.delay)}")
    if isinstance(event, NodeSkipped):
        return Text.assemble(("  ↷ ", "dim"), (event.node_id, "bold"),
                             f" skipped: {event.reason}")
    if isinstance(event, ToolCalled):
        return Text.assemble(("  ⚙ ", "cyan"), (event.node_id, "bold"),
                             f" called tool {event.tool}")
    if isinstance(event, NodeInterrupted):
        n = len(event.interrupts)
        return Text.assemble(("  ⏸ ", "cyan"), (event.node_id, "bold"),
                             f" waits for {n} answer{'s' if n != 1 else ''}")
    return None
