"""``plait run``: load a workflow, check its inputs, run it with a live view, print the result.

A run is stored by default (checkpoints, run log, recorded calls: see
:mod:`plait.cli.runstore`), so it can be listed, resumed, replayed and forked with
``plait runs``. :func:`show_run` drives any run the same way (``plait runs resume``, ``fork``
and ``replay`` use it too).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.live import Live
from rich.text import Text

from plait.cli.config import find_project, resolve_workflow
from plait.cli.console import err_console, jsonable, out_console, print_json
from plait.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_WAITING
from plait.cli.inputs import collect_inputs
from plait.cli.progress import LiveTable, RunTracker, format_duration, plain_line
from plait.cli.runstore import StoredRun, check_run_id, pin_default_model
from plait.cli.wiring import EngineParts, model_registry, settings, with_model
from plait.cli.wiring import engine as wired_engine
from plait.errors import SpecError, UsageError
from plait.graph.durability import Durability
from plait.graph.events import Event, EventSink
from plait.graph.inputs import resolve_inputs
from plait.graph.scheduler import new_run_id
from plait.graph.spec import Profile, WorkflowSpec
from plait.graph.state import RunResult
from plait.nodes.defaults import Engine
from plait.nodes.loader import load_spec
from plait.nodes.recording import Cassette
from plait.types import RunStatus

__all__ = ["Report", "RunOptions", "choose_profile", "execute", "report_result", "result_data",
           "show_run"]

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
    store: bool = True
    """Checkpoint the run, log its events and record its calls in the settings' database."""
    durability: Durability = Durability.SYNC
    run_id: str | None = None
    """The stored run's id (default: a new random one)."""


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
    data: dict[str, object] = {
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
    if result.interrupts:
        data["interrupts"] = [{"id": p.id, "node_id": p.node_id, "key": p.key,
                               "prompt": p.prompt, "schema": p.schema}
                              for p in result.interrupts]
    return data


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
    config = settings()
    stored = None
    if options.store:
        default = model_registry(config, model=options.model).default_model_string()
        spec = pin_default_model(spec, default)
        stored = StoredRun(config, check_run_id(options.run_id) or new_run_id(),
                           durability=options.durability, new=True)
    elif options.run_id is not None:
        raise UsageError("--run-id names a stored run: it cannot go with --no-store")
    parts = EngineParts(model=options.model, profile=choose_profile(options.profile, spec, path),
                        max_concurrency=spec.settings.max_concurrency,
                        project=find_project(path.parent), cassette=_cassette(options),
                        calls=stored.calls if stored is not None else None)
    with wired_engine(parts, config=config) as engine:
        return _execute(options, path, spec, engine, stored)


def _execute(options: RunOptions, path: Path, spec: WorkflowSpec, engine: Engine,
             stored: StoredRun | None) -> int:
    try:
        engine.compile(spec)
    except SpecError as err:
        raise SpecError(err.problems, source=str(path)) from None
    inputs = collect_inputs(spec, options.inputs, options.input_file)
    resolve_inputs(spec, inputs)  # fail on bad inputs before any progress is drawn
    fail_fast = False if options.continue_on_error else None

    def start(on_event: EventSink) -> Awaitable[RunResult]:
        if stored is None:
            return engine.run(spec, inputs, timeout=options.timeout, fail_fast=fail_fast,
                              check=False, on_event=on_event)
        return engine.run(spec, inputs, run_id=stored.run_id, timeout=options.timeout,
                          fail_fast=fail_fast, check=False, on_event=on_event,
                          store=stored.stores.checkpoints, durability=stored.durability,
                          run_log=stored.stores.runlog)

    return show_run(spec, start, engine=engine, stored=stored,
                    json_output=options.json_output)


Report = Callable[[RunResult, RunTracker], int]
"""Prints a finished run's result and returns the exit code."""


def show_run(spec: WorkflowSpec, start: Callable[[EventSink], Awaitable[RunResult]], *,
             engine: Engine, stored: StoredRun | None, json_output: bool,
             report: Report | None = None) -> int:
    """Run ``start(on_event)`` with the live view (or plain lines, or nothing for JSON), then
    print the outputs and summary (or the JSON result) with ``report`` (default:
    :func:`report_result`); returns the exit code. With ``stored``, the database is open
    while the run executes, and the run's id, its pending interrupts and how to resume it
    are printed."""
    progress = err_console()
    announced = stored is not None and stored.run_id is not None and not json_output
    live = not json_output and _animate(progress)
    listener = None
    if not json_output and not live:
        def listener(event: Event) -> None:
            line = plain_line(event)
            if line is not None:
                progress.print(line, soft_wrap=True)
    tracker = RunTracker(spec, listener)
    sink: EventSink = tracker if stored is None else stored.sink(tracker)

    async def go() -> RunResult:
        try:
            if stored is not None:
                await stored.open()
                if announced:
                    progress.print(f"run {stored.run_id} (stored: plait runs show "
                                   f"{stored.run_id})", soft_wrap=True, markup=False)
            return await start(sink)
        finally:
            try:
                await engine.knowledge.close()  # persists what RAG nodes stored
            finally:
                if stored is not None:
                    await stored.close()

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
        if json_output:
            print_json(_interrupted_data(tracker))
        else:
            after = format_duration(tracker.elapsed())
            progress.print(Text.assemble(("⊘ cancelled", "bold yellow"),
                                         f" after {after} (Ctrl-C)"))
            if stored is not None and tracker.run_id:
                progress.print(f"  resume it with: plait runs resume {tracker.run_id}",
                               soft_wrap=True, markup=False)
        return EXIT_INTERRUPTED

    if stored is not None and not announced and not json_output:
        progress.print(f"run {result.run_id} (stored: plait runs show {result.run_id})",
                       soft_wrap=True, markup=False)
    if report is not None:
        return report(result, tracker)
    return report_result(result, tracker, json_output=json_output, stored=stored is not None)


def report_result(result: RunResult, tracker: RunTracker, *, json_output: bool,
                  stored: bool, extra: Mapping[str, object] | None = None) -> int:
    """Print the outputs, the summary and (a stored run) what it waits for, or the JSON
    result with ``extra`` keys; returns the exit code (0 completed, 3 waiting, else 1)."""
    if json_output:
        print_json({**result_data(result), **(extra or {})})
    else:
        out = out_console()
        _print_outputs(result.outputs, out)
        _print_summary(result, tracker, out)
        if stored:
            _print_next(result, out)
    if result.status is RunStatus.WAITING:
        return EXIT_WAITING
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
    if result.status is RunStatus.WAITING:
        console.print(Text.assemble(("⏸ waiting", "bold cyan"), f" after {when}{tail}"),
                      soft_wrap=True)
        return
    console.print(Text.assemble((f"✗ {result.status.value}", "bold red"), f" in {when}{tail}"),
                  soft_wrap=True)
    if result.error is not None:
        console.print(Text.assemble(("  error", "bold red"), (f"[{result.error.code}]", "red"),
                                    f": {result.error}"), soft_wrap=True)


def _print_next(result: RunResult, console: Console) -> None:
    """What a stored run that did not complete waits for, and how to go on."""
    run_id = result.run_id
    if result.status is RunStatus.WAITING:
        n = len(result.interrupts)
        console.print(f"  waiting for {n} answer{'s' if n != 1 else ''}:", markup=False)
        for p in result.interrupts:
            schema = f"  (schema: {json.dumps(p.schema)})" if p.schema else ""
            console.print(Text.assemble("  ", (p.id, "bold"), f"  {p.node_id}: {p.prompt}",
                                        (schema, "dim")), soft_wrap=True)
        first = result.interrupts[0].id if result.interrupts else "ID"
        console.print(f"  answer with: plait runs resume {run_id} --answer {first}=VALUE",
                      soft_wrap=True, markup=False, highlight=False)
    elif result.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        console.print(f"  resume it with: plait runs resume {run_id}", soft_wrap=True,
                      markup=False, highlight=False)


def run_command(options: RunOptions) -> None:
    code = execute(options)
    if code != EXIT_OK:
        raise typer.Exit(code)
