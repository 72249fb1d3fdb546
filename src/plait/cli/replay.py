"""``plait runs replay``: re-execute a finished run from its recorded model and tool calls,
with no network and no real model, and compare the outcome with the original.

The replay is a fresh run under a new id, of the spec and inputs stored with the original.
Every model and tool call is answered from the original's recording (see
:mod:`plait.cli.runstore`); a call that was not recorded fails its node, so a workflow that
changed behaviour shows up as a difference, never as a silent network call. Interrupts are
answered with the original's answers, matched by node and key. Retrieval nodes are not
recorded: they read the vector store as it is now.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from plait.cli.console import jsonable, out_console
from plait.cli.progress import RunTracker
from plait.cli.resume import stored_engine, with_stores
from plait.cli.run import Report, report_result, show_run
from plait.cli.runstore import StoredRun, find_run, recorded_calls
from plait.cli.wiring import settings
from plait.errors import RunStatusError, UsageError
from plait.graph.durability import CheckpointStore, RunLog, RunRecord
from plait.graph.events import EventSink
from plait.graph.memory import MemoryCheckpointStore
from plait.graph.scheduler import new_run_id
from plait.graph.state import RunResult
from plait.nodes.recording import Cassette
from plait.settings import Settings
from plait.store import Stores
from plait.types import RunStatus

__all__ = ["compare", "replay_command"]

MAX_ROUNDS = 100
"""Resumes with the original's answers, at most (a workflow that keeps asking stops here)."""


@dataclass(frozen=True, slots=True)
class _Original:
    record: RunRecord
    calls: bytes
    answers: dict[str, object]
    """``NODE:KEY`` -> the answer the original run got."""


async def _prepare(stores: Stores, config: Settings, run: str) -> _Original:
    record = await find_run(stores, run)
    run_id, status = record.run_id, record.status.value
    if record.status not in (RunStatus.COMPLETED, RunStatus.FAILED):
        raise RunStatusError(run_id, status, f"run {run_id} is {status}: only a completed or "
                             "failed run can be replayed")
    checkpoints = await stores.checkpoints.checkpoints(run_id)
    edited = sorted({cp.node_id for cp in checkpoints if cp.lineage.get("edited")})
    if edited:
        raise UsageError(f"run {run_id} is a fork with edited outputs ({', '.join(edited)}): a "
                         f"fresh run cannot reproduce them; replay its parent "
                         f"{record.parent_id} instead")
    sites: dict[str, str] = {}
    for cp in checkpoints:
        for item in cp.interrupts:
            sites[str(item.get("id"))] = f"{cp.node_id}:{item.get('key')}"
    answers = {sites[iid]: value
               for iid, value in (await stores.checkpoints.answers(run_id)).items()
               if iid in sites}
    parts = await recorded_calls(stores, config, record)
    calls = b"".join(part if part.endswith(b"\n") else part + b"\n" for part in parts if part)
    return _Original(record, calls, answers)


def _outcome(status: str, outputs: Mapping[str, object], code: str | None) -> str:
    return json.dumps({"status": status, "code": code, "outputs": jsonable(dict(outputs))},
                      indent=2, sort_keys=True, ensure_ascii=False)


def compare(original: RunRecord, result: RunResult) -> list[str]:
    """A unified diff of the original's and the replay's status, error code and outputs
    (empty: identical)."""
    before = _outcome(original.status.value, original.outputs, original.code)
    error = result.error
    after = _outcome(result.status.value, result.outputs, None if error is None else error.code)
    if before == after:
        return []
    return list(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                     f"run {original.run_id}", f"replay {result.run_id}",
                                     lineterm=""))


def _report(original: RunRecord, json_output: bool, stored: bool) -> Report:
    def report(result: RunResult, tracker: RunTracker) -> int:
        diff = compare(original, result)
        report_result(result, tracker, json_output=json_output, stored=False,
                      extra={"replay_of": original.run_id, "identical": not diff,
                             "diff": diff, "stored": stored})
        if not json_output:
            console = out_console()
            if diff:
                console.print(f"✗ the replay differs from run {original.run_id}:",
                              style="bold red", markup=False, highlight=False)
                for line in diff:
                    console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
            else:
                console.print(f"✓ identical to run {original.run_id} (status, outputs)",
                              style="bold green", markup=False, highlight=False)
        return 1 if diff else 0

    return report


def replay_command(run: str, *, json_output: bool, store: bool = True) -> int:
    """Replay ``run``; exits 0 when the outcome is identical, 1 with a diff otherwise."""
    config = settings()
    original = with_stores(config, lambda stores: _prepare(stores, config, run))
    record = original.record
    with tempfile.TemporaryDirectory(prefix="plait-replay-") as folder:
        path = Path(folder) / "calls.jsonl"
        path.write_bytes(original.calls)
        cassette = Cassette(path, mode="replay")
        stored = StoredRun(config, new_run_id()) if store else None
        calls = stored.calls if stored is not None else None
        with stored_engine(config, record, cassette=cassette, calls=calls) as (engine, spec):
            async def start(sink: EventSink) -> RunResult:
                checkpoints: CheckpointStore = MemoryCheckpointStore()
                log: RunLog | None = None
                if stored is not None:
                    checkpoints, log = stored.stores.checkpoints, stored.stores.runlog
                result = await engine.run(spec, dict(record.inputs), run_id=stored.run_id
                                          if stored is not None else None, store=checkpoints,
                                          run_log=log, check=False, on_event=sink)
                for _ in range(MAX_ROUNDS):
                    if result.status is not RunStatus.WAITING:
                        break
                    answers = {p.id: original.answers[f"{p.node_id}:{p.key}"]
                               for p in result.interrupts
                               if f"{p.node_id}:{p.key}" in original.answers}
                    if not answers:
                        break
                    result = await engine.resume(result.run_id, store=checkpoints,
                                                 answers=answers, run_log=log, check=False,
                                                 on_event=sink)
                return result

            return show_run(spec, start, engine=engine, stored=stored, json_output=json_output,
                            report=_report(record, json_output, stored is not None))
