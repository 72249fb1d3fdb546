"""``plait runs resume``, ``plait runs cancel`` and ``plait runs fork``: going on with a stored
run, stopping it for good, or re-running it from a node with edited outputs.

The workflow is recompiled from the spec stored with the run (the one it ran, with its
default model pinned), so the workflow file may have changed or be gone. Python functions
are code, not data: a run stored from Python that calls functions other than the built-ins
is resumed from Python (``Engine.resume(..., workflow=...)``), not from the CLI.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from plait.cli.config import find_project
from plait.cli.console import out_console, print_json
from plait.cli.errors import EXIT_OK
from plait.cli.history import pending, when
from plait.cli.inputs import read_input_file
from plait.cli.progress import RunTracker
from plait.cli.run import Report, choose_profile, report_result, show_run
from plait.cli.runstore import LOCK_FILE, RunLock, StoredRun, find_run, open_stores, run_dir
from plait.cli.wiring import EngineParts, settings
from plait.cli.wiring import engine as wired_engine
from plait.errors import (
    InputError,
    RunBusy,
    RunCancelled,
    RunStatusError,
    SpecError,
    UsageError,
)
from plait.graph.durability import Durability, LoggedEvent, NodeCheckpoint, RunRecord
from plait.graph.events import EventSink
from plait.graph.restore import latest_checkpoints
from plait.graph.resume import check_answers, pending_interrupts
from plait.graph.spec import WorkflowSpec
from plait.graph.state import RunResult
from plait.nodes.defaults import Engine
from plait.nodes.human import check_answer
from plait.nodes.recording import Cassette
from plait.settings import Settings
from plait.store import Stores
from plait.types import RunStatus

__all__ = ["ForkOptions", "ResumeOptions", "cancel_command", "fork_command", "resume_command",
           "stored_engine", "stored_spec"]

T = TypeVar("T")
FINISHED = ("completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeOptions:
    run: str
    answers: Sequence[str] = ()
    answer_file: Path | None = None
    json_output: bool = False
    durability: Durability = Durability.SYNC
    timeout: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ForkOptions:
    run: str
    from_node: str
    edits: Sequence[str] = ()
    json_output: bool = False
    durability: Durability = Durability.SYNC
    timeout: float | None = None


def with_stores(config: Settings, work: Callable[[Stores], Awaitable[T]]) -> T:
    """``work(stores)`` on the settings' database, opened and closed around it."""
    async def go() -> T:
        stores = await open_stores(config)
        try:
            return await work(stores)
        finally:
            await stores.close()

    return asyncio.run(go())


def stored_spec(record: RunRecord) -> WorkflowSpec:
    return WorkflowSpec.model_validate(dict(record.spec))


@contextmanager
def stored_engine(config: Settings, record: RunRecord, *, cassette: Cassette | None = None,
                  calls: Cassette | None = None) -> Iterator[tuple[Engine, WorkflowSpec]]:
    """An engine for a stored run's spec (checked: it compiles with the CLI's kinds and
    built-in functions), in the current folder's project if any."""
    spec = stored_spec(record)
    here = Path.cwd()
    parts = EngineParts(profile=choose_profile(None, spec, here / "stored-run.yaml"),
                        max_concurrency=spec.settings.max_concurrency,
                        project=find_project(here), cassette=cassette, calls=calls)
    with wired_engine(parts, config=config) as engine:
        try:
            engine.compile(spec)
        except SpecError as err:
            missing = sorted({p.message for p in err.problems if p.code == "unknown_function"})
            if missing:
                raise UsageError(
                    f"run {record.run_id!r} calls Python functions the CLI does not have "
                    f"({'; '.join(missing)}); resume it from Python with Engine.resume(run_id, "
                    "store=..., workflow=<the Workflow or Flow it ran>)") from None
            raise SpecError(err.problems, source=f"the spec stored with run {record.run_id}"
                            ) from None
        yield engine, spec


# -- answers ---------------------------------------------------------------------------------


def _wants_text(name: str, asked: Sequence[Mapping[str, object]]) -> bool:
    """Whether the interrupt ``name`` designates takes a string (its text is kept as is)."""
    for item in asked:
        site = f"{item.get('node_id')}:{item.get('key')}"
        if name in (item.get("id"), item.get("node_id"), site):
            schema = item.get("schema")
            if not isinstance(schema, Mapping):
                return False
            enum = schema.get("enum")
            if isinstance(enum, list) and enum:
                return all(isinstance(v, str) for v in enum)
            return schema.get("type") == "string"
    return False


def parse_value(text: str, *, keep_text: bool = False) -> object:
    """JSON when it parses (``3``, ``true``, ``[1]``, ``{"a": 1}``), else the text."""
    if keep_text:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_answers(items: Sequence[str], answer_file: Path | None,
                  asked: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """``--answer ID=VALUE`` items over ``--answer-file``'s mapping. An interrupt whose schema
    asks for a string takes the text as is (``--answer ID=42`` stays ``"42"``)."""
    values: dict[str, object] = {}
    if answer_file is not None:
        try:
            values.update(read_input_file(answer_file))
        except InputError as err:
            raise UsageError("--answer-file: " + "; ".join(str(p) for p in err.problems)
                             ) from None
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UsageError(f"--answer {item!r}: expected INTERRUPT_ID=VALUE (VALUE is JSON "
                             "or text), e.g. --answer 3f2a9c1d0b7e6a54=yes")
        values[key] = parse_value(text, keep_text=_wants_text(key, asked))
    return values


# -- resume ----------------------------------------------------------------------------------


async def _check_resumable(stores: Stores, config: Settings, run: str
                           ) -> tuple[RunRecord, dict[str, NodeCheckpoint],
                                      list[dict[str, object]], bool]:
    """The run, its newest checkpoints, what it waits on, and whether an interrupt's
    deadline has passed."""
    record = await find_run(stores, run)
    run_id, status = record.run_id, record.status.value
    if status == "completed":
        raise RunStatusError(run_id, status, f"run {run_id} already completed: nothing to "
                             f"resume (plait runs show {run_id}; to run part of it again: "
                             f"plait runs fork {run_id} --from NODE)")
    if status == "cancelled" and record.code == RunCancelled.code:
        raise RunStatusError(run_id, status, f"run {run_id} was cancelled with plait runs "
                             "cancel and cannot be resumed (fork it to run it again: "
                             f"plait runs fork {run_id} --from NODE)")
    holder = RunLock.holder(run_dir(config, run_id) / LOCK_FILE)
    if holder is not None:
        raise RunBusy(run_id, holder or None)
    latest = latest_checkpoints(await stores.checkpoints.checkpoints(run_id))
    asked = pending(latest, await stores.checkpoints.answers(run_id))
    now = time.time()
    expired = any(
        isinstance(i.get("timeout"), int | float) and isinstance(i.get("created_at"), int | float)
        and i["created_at"] + i["timeout"] <= now  # type: ignore[operator]
        for cp in latest.values() if cp.status == "waiting" for i in cp.interrupts)
    return record, latest, asked, expired


def resume_command(options: ResumeOptions) -> int:
    config = settings()
    record, latest, asked, expired = with_stores(
        config, lambda stores: _check_resumable(stores, config, options.run))
    answers = parse_answers(options.answers, options.answer_file, asked)
    check_answers(answers, pending_interrupts(latest), check_answer)  # before anything shows
    run_id = record.run_id
    if asked and not answers and not expired:
        listed = "; ".join(f"{i['id']} ({i['node_id']}: {i['prompt']})" for i in asked)
        raise UsageError(f"run {run_id} waits for {len(asked)} answer"
                         f"{'s' if len(asked) != 1 else ''}: {listed}; give them with "
                         f"--answer ID=VALUE")
    stored = StoredRun(config, run_id, durability=options.durability)
    with stored_engine(config, record, calls=stored.calls) as (engine, spec):
        def start(sink: EventSink) -> Awaitable[RunResult]:
            return engine.resume(run_id, store=stored.stores.checkpoints, answers=answers,
                                 run_log=stored.stores.runlog, durability=stored.durability,
                                 timeout=options.timeout, check=False, on_event=sink)

        return show_run(spec, start, engine=engine, stored=stored,
                        json_output=options.json_output)


# -- cancel ----------------------------------------------------------------------------------


async def _cancel(stores: Stores, config: Settings, run: str) -> RunRecord:
    record = await find_run(stores, run)
    run_id, status = record.run_id, record.status.value
    if status in FINISHED:
        raise RunStatusError(run_id, status, f"run {run_id} already {status} (on "
                             f"{when(record.updated_at)}): only pending, running or waiting "
                             "runs can be cancelled")
    holder = RunLock.holder(run_dir(config, run_id) / LOCK_FILE)
    if holder is not None:
        raise RunBusy(run_id, holder or None)
    reason = "cancelled with plait runs cancel"
    await stores.checkpoints.update_run(run_id, status=RunStatus.CANCELLED,
                                        error=reason, code=RunCancelled.code)
    logged = await stores.runlog.events(run_id)
    await stores.runlog.append_events([LoggedEvent(
        run_id=run_id, seq=logged[-1].seq + 1 if logged else 1, type="RunCancelled",
        data={"type": "run_cancelled", "run_id": run_id, "path": [], "was": status},
        ts=time.time())])
    updated = await stores.checkpoints.get_run(run_id)
    assert updated is not None
    return updated


def cancel_command(run: str, *, json_output: bool) -> int:
    config = settings()
    record = with_stores(config, lambda stores: _cancel(stores, config, run))
    if json_output:
        print_json({"run_id": record.run_id, "workflow": record.workflow,
                    "status": record.status.value, "code": record.code})
    else:
        out_console().print(f"⊘ run {record.run_id} ({record.workflow}) cancelled",
                            markup=False, highlight=False)
    return EXIT_OK


# -- fork ------------------------------------------------------------------------------------


def parse_edits(items: Sequence[str]) -> dict[str, object]:
    edits: dict[str, object] = {}
    for item in items:
        node, eq, text = item.partition("=")
        node = node.strip()
        if not eq or not node:
            raise UsageError(f"--set {item!r}: expected NODE=VALUE (VALUE is JSON or text), "
                             'e.g. --set draft=\'"a new draft"\' or --set score=3')
        edits[node] = parse_value(text)
    return edits


def fork_command(options: ForkOptions) -> int:
    config = settings()
    record = with_stores(config, lambda stores: find_run(stores, options.run))
    edits = parse_edits(options.edits)
    nodes = {node.id for node in stored_spec(record).nodes}
    unknown = [n for n in (options.from_node, *edits) if n not in nodes]
    if unknown:
        raise UsageError(f"workflow {record.workflow!r} (run {record.run_id}) has no node "
                         f"{', '.join(map(repr, unknown))}; its nodes: "
                         f"{', '.join(sorted(nodes))}")
    stored = StoredRun(config, None, durability=options.durability)
    with stored_engine(config, record, calls=stored.calls) as (engine, spec):
        def start(sink: EventSink) -> Awaitable[RunResult]:
            return engine.fork(record.run_id, store=stored.stores.checkpoints,
                               from_node=options.from_node, edits=edits,
                               run_log=stored.stores.runlog, durability=stored.durability,
                               timeout=options.timeout, check=False, on_event=sink)

        return show_run(spec, start, engine=engine, stored=stored,
                        json_output=options.json_output,
                        report=_fork_report(record.run_id, options.json_output))


def _fork_report(parent: str, json_output: bool) -> Report:
    def report(result: RunResult, tracker: RunTracker) -> int:
        code = report_result(result, tracker, json_output=json_output, stored=True,
                             extra={"parent_id": parent})
        if not json_output:
            out_console().print(f"forked from run {parent}", markup=False, highlight=False)
        return code

    return report
