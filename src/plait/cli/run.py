"""``plait run``: load a workflow, check its inputs, run it with a live view, print the result."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.live import Live
from rich.text import Text

from plait.cli.config import find_project, resolve_workflow
from plait.cli.console import err_console, jsonable, out_console, print_json
from plait.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from plait.cli.inputs import collect_inputs
from plait.cli.progress import LiveTable, RunTracker, format_duration, plain_line
from plait.cli.wiring import EngineParts, with_model
from plait.cli.wiring import engine as wired_engine
from plait.errors import SpecError, UsageError
from plait.graph.events import Event
from plait.graph.inputs import resolve_inputs
from plait.graph.spec import Profile, WorkflowSpec
from plait.graph.state import RunResult
from plait.nodes.defaults import Engine
from plait.nodes.loader import load_spec
from plait.nodes.recording import Cassette
from plait.types import RunStatus

__all__ = ["RunOptions", "choose_profile", "execute", "result_data"]

_JSON_COLOURS = JSONHighlighter()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """What ``plait run`` was asked to do (kept apart from Typer so it can be tested)."""

    file: str
    inputs: Sequence[str] = ()
    input_file: Path | None = None
    json_output: bool = False
    profile: Profile | None = None
    timeout: float | None = None
    continue_on_error: bool = False
    model: str | None = None
    """Default ``provider:model`` of the model nodes that name none."""
    record: Path | None = None
    """Record every model and tool call into this cassette."""
    replay: Path | None = None
    """Answer every model and tool call from this cassette (no keys, no network)."""


def choose_profile(option: Profile | None, spec: WorkflowSpec, path: Path) -> Profile | None:
    """``--profile``, else the workflow's ``settings.profile``, else the project's default."""
    if option is not None:
        return option
    if spec.settings.profile is not None:
        return spec.settings.profile
    project = find_project(path.parent)
    return project.profile if project is not None else None


def _cassette(options: RunOptions) -> Cassette | None:
    if options.record is not None and options.replay is not None:
        raise UsageError("give --record or --replay, not both")
    if options.record is not None:
        return Cassette(options.record, mode="record")
    if options.replay is not None:
        return Cassette(options.replay, mode="replay")
    return None


def _animate(console: Console) -> bool:
    """Animate only when stdout and stderr are real terminals (not merely colour-forced)
    and the terminal is interactive (not ``TERM=dumb``, not ``TTY_INTERACTIVE=0``)."""
    try:
        ttys = sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
    return ttys and console.is_interactive


def result_data(result: RunResult) -> dict[str, object]:
    """The ``--json`` form of a run's result."""
    error = result.error
    return {
        "run_id": result.run_id,
        "workflow": result.workflow,
        "status": result.status.value,
        "outputs": result.outputs,
        "error": None if error is None else str(error),
        "code": None if error is None else error.code,
        "duration": result.duration,
        "nodes": {
            node_id: {"status": rec.status.value, "attempts": rec.attempts, "error": rec.error,
                      "code": rec.code, "reason": rec.reason}
            for node_id, rec in result.nodes.items()
        },
    }


def _interrupted_data(tracker: RunTracker) -> dict[str, object]:
    finished = tracker.finished
    return {
        "run_id": tracker.run_id,
        "workflow": tracker.workflow,
        "status": RunStatus.CANCELLED.value,
        "outputs": finished.outputs if finished is not None else {},
        "error": "interrupted (Ctrl-C)",
        "code": "cancelled",
        "duration": tracker.elapsed(),
        "nodes": {row.node_id: {"status": row.status, "attempts": row.attempts,
                                "error": None, "code": None, "reason": None}
                  for row in tracker.rows.values()},
    }


def execute(options: RunOptions) -> int:
    """Run as ``options`` say; returns the exit code. Usage problems raise (see errors.py)."""
    path = resolve_workflow(options.file)
    spec = load_spec(path)
    if options.model is not None:
        spec = with_model(spec, options.model)
    parts = EngineParts(model=options.model, profile=choose_profile(options.profile, spec, path),
                        max_concurrency=spec.settings.max_concurrency,
                        project=find_project(path.parent), cassette=_cassette(options))
    with wired_engine(parts) as engine:
        return _execute(options, path, spec, engine)


def _execute(options: RunOptions, path: Path, spec: WorkflowSpec, engine: Engine) -> int:
    try:
        engine.compile(spec)
    except SpecError as err:
        raise SpecError(err.problems, source=str(path)) from None
    inputs = collect_inputs(spec, options.inputs, options.input_file)
    resolve_inputs(spec, inputs)  # fail on bad inputs before any progress is drawn
    fail_fast = False if options.continue_on_error else None

    out, progress = out_console(), err_console()
    live = not options.json_output and _animate(progress)
    listener = None
    if not options.json_output and not live:
        def listener(event: Event) -> None:
            line = plain_line(event)
            if line is not None:
                progress.print(line, soft_wrap=True)
    tracker = RunTracker(spec, listener)

    async def go() -> RunResult:
        try:
            return await engine.run(spec, inputs, timeout=options.timeout,
                                    fail_fast=fail_fast, check=False, on_event=tracker)
        finally:
            await engine.knowledge.close()  # persists what RAG nodes stored

    try:
        if live:
            with Live(LiveTable(tracker), console=progress, refresh_per_second=12,
                      transient=False, redirect_stdout=False, redirect_stderr=False):
                result = asyncio.run(go())
                tracker.finalize(result)
        else:
            result = asyncio.run(go())
            tracker.finalize(result)
    except KeyboardInterrupt:
        if options.json_output:
            print_json(_interrupted_data(tracker))
        else:
            after = format_duration(tracker.elapsed())
            progress.print(Text.assemble(("⊘ cancelled", "bold yellow"),
                                         f" after {after} (Ctrl-C)"))
        return EXIT_INTERRUPTED

    if options.json_output:
        print_json(result_data(result))
    else:
        _print_outputs(result.outputs, out)
        _print_summary(result, tracker, out)
    return EXIT_OK if result.status is RunStatus.COMPLETED else EXIT_FAILED


def _print_outputs(outputs: Mapping[str, object], console: Console) -> None:
    """Each output by name: text as is, other values as JSON (inline when short)."""
    if not outputs:
        return
    console.print(Text("outputs", style="bold underline"))
    for name, value in outputs.items():
        head = Text.assemble("  ", (name, "bold cyan"), ":")
        if isinstance(value, str):
            text, style = value.rstrip("\n"), False
        else:
            text = json.dumps(jsonable(value), ensure_ascii=False)
            if len(text) > 60:
                text = json.dumps(jsonable(value), ensure_ascii=False, indent=2)
            style = True
        lines = [Text(line) for line in text.split("\n")]
        if style:
            for line in lines:
                _JSON_COLOURS.highlight(line)
        if len(lines) == 1:
            console.print(head + " " + lines[0], soft_wrap=True)
            continue
        console.print(head, soft_wrap=True)
        for line in lines:
            console.print(Text("    ") + line, soft_wrap=True)


def _print_summary(result: RunResult, tracker: RunTracker, console: Console) -> None:
    counts = tracker.counts()
    parts = ", ".join(f"{n} {'not run' if status == 'pending' else status}"
                      for status, n in sorted(counts.items()))
    when = format_duration(result.duration)
    tail = f" · {len(tracker.rows)} nodes: {parts} · run {result.run_id[:8]}"
    if result.status is RunStatus.COMPLETED:
        console.print(Text.assemble(("✓ completed", "bold green"), f" in {when}{tail}"),
                      soft_wrap=True)
        return
    console.print(Text.assemble((f"✗ {result.status.value}", "bold red"), f" in {when}{tail}"),
                  soft_wrap=True)
    if result.error is not None:
        console.print(Text.assemble(("  error", "bold red"), (f"[{result.error.code}]", "red"),
                                    f": {result.error}"), soft_wrap=True)


def run_command(options: RunOptions) -> None:
    code = execute(options)
    if code != EXIT_OK:
        raise typer.Exit(code)
