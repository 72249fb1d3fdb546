"""Preparing durable runs: a new run's record, a resumed run's state and answers, a fork.

The engine's ``run``, ``resume`` and ``fork`` call these; they all end in the engine's one
execution path with a :class:`~plait.graph.restore.Restore` and a journal.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

from plait.errors import AnswerInvalid, Problem, RunNotFound, SpecError, UsageError
from plait.errors import WorkflowMismatch as _Mismatch
from plait.graph.checkpointing import plain_json
from plait.graph.compiler import CompiledGraph, Compiler
from plait.graph.durability import CheckpointStore, Durability, NodeCheckpoint, RunRecord
from plait.graph.interrupts import AnswerValidator, PendingInterrupt
from plait.graph.registry import FunctionRegistry
from plait.graph.restore import Restore, latest_checkpoints
from plait.graph.spec import WorkflowSpec
from plait.graph.state import Branch, NodeRecord, NodeStatus, RunResult, branch_label
from plait.types import RunStatus

if TYPE_CHECKING:
    from plait.graph.engine import Engine, WorkflowLike


@runtime_checkable
class FlowLike(Protocol):
    """A builder (:class:`plait.graph.builder.Flow`): its spec and the functions it names."""

    @property
    def spec(self) -> WorkflowSpec: ...

    @property
    def functions(self) -> FunctionRegistry: ...


WorkflowSource: TypeAlias = "WorkflowLike | FlowLike"
"""What resume and fork accept as the run's workflow."""

__all__ = [
    "FlowLike",
    "WorkflowSource",
    "check_answers",
    "compile_recorded",
    "downstream",
    "durability_mode",
    "new_record",
    "prepare_fork",
    "prepare_resume",
    "stored_result",
]


def durability_mode(value: Durability | str) -> Durability:
    try:
        return Durability(value)
    except ValueError:
        known = ", ".join(d.value for d in Durability)
        raise UsageError(f"unknown durability {value!r}; choose one of {known}") from None


def new_record(graph: CompiledGraph, run_id: str, inputs: Mapping[str, object], *,
               parent_id: str | None = None) -> RunRecord:
    """The record of a new durable run (its inputs must be plain JSON)."""
    try:
        plain = plain_json(dict(inputs))
    except ValueError as err:
        raise UsageError(f"the inputs of a run with a store must be plain JSON: {err}") from None
    assert isinstance(plain, dict)
    if graph.spec_json is None:
        graph.spec_json = graph.spec.to_json_dict()
    now = time.time()
    return RunRecord(run_id=run_id, workflow=graph.spec.name, spec=graph.spec_json,
                     digest=graph.digest, inputs=plain, status=RunStatus.RUNNING,
                     created_at=now, updated_at=now, parent_id=parent_id)


async def load(store: CheckpointStore, run_id: str) -> tuple[RunRecord, list[NodeCheckpoint]]:
    record = await store.get_run(run_id)
    if record is None:
        raise RunNotFound(run_id)
    return record, await store.checkpoints(run_id)


def compile_recorded(engine: Engine, record: RunRecord, workflow: WorkflowSource | None
                     ) -> CompiledGraph:
    """The stored run's workflow, compiled with the engine's kinds: ``workflow`` (the same
    Workflow, Flow or spec, which brings its functions) or else the recorded spec."""
    if workflow is not None:
        if isinstance(workflow, FlowLike):
            compiler = Compiler(engine.kinds, engine.functions.merged(workflow.functions))
            graph = compiler.compile(workflow.spec, source=f"flow {record.workflow!r}")
        else:
            graph = engine.compile(workflow)
        if graph.digest != record.digest:
            raise _Mismatch(
                f"run {record.run_id!r} ran workflow {record.workflow!r} version "
                f"{record.digest[:12]}, but the workflow given is version {graph.digest[:12]}; "
                "resume with the workflow the run started with")
        return graph
    spec = WorkflowSpec.model_validate(record.spec)
    try:
        graph = engine.compile(spec)
    except SpecError as err:
        if any(p.code == "unknown_function" for p in err.problems):
            raise UsageError(f"run {record.run_id!r} uses Python functions this engine does "
                             "not know; pass workflow= (the Workflow or Flow the run started "
                             f"with):\n{err}") from err
        raise
    if graph.digest != record.digest:
        raise _Mismatch(f"the stored spec of run {record.run_id!r} does not match its digest")
    return graph


def _kinds(record: RunRecord) -> dict[str, str]:
    nodes = record.spec.get("nodes")
    kinds: dict[str, str] = {}
    if isinstance(nodes, list):
        for node in nodes:
            if isinstance(node, Mapping):
                kinds[str(node.get("id"))] = str(node.get("kind"))
    return kinds


def stored_result(record: RunRecord, checkpoints: list[NodeCheckpoint]) -> RunResult:
    """A finished run's result, from the store alone (nothing runs)."""
    kinds = _kinds(record)
    records = {
        cp.node_id: NodeRecord(node_id=cp.node_id, kind=kinds.get(cp.node_id, ""),
                               status=NodeStatus(cp.status), output=cp.output,
                               error=cp.error, code=cp.code, attempts=cp.attempts,
                               reason=cp.reason)
        for cp in latest_checkpoints(checkpoints).values()}
    return RunResult(record.run_id, record.workflow, record.status, dict(record.outputs),
                     _records=records)


def pending_interrupts(latest: Mapping[str, NodeCheckpoint]
                       ) -> dict[str, tuple[str, PendingInterrupt]]:
    """Interrupt id -> (the waiting top-level node, the interrupt)."""
    found: dict[str, tuple[str, PendingInterrupt]] = {}
    for node_id, cp in latest.items():
        if cp.status == NodeStatus.WAITING:
            for data in cp.interrupts:
                p = PendingInterrupt.from_json(data)
                found[p.id] = (node_id, p)
    return found


def check_answers(answers: Mapping[str, object],
                  asked: Mapping[str, tuple[str, PendingInterrupt]],
                  validate: AnswerValidator | None) -> dict[str, object]:
    """Answers by interrupt id. A key may also be ``NODE`` (a node's only interrupt) or
    ``NODE:KEY``. Unknown keys and answers that break the interrupt's schema are reported
    all at once (:class:`~plait.errors.AnswerInvalid`)."""
    by_alias: dict[str, list[str]] = {}
    for iid, (_, p) in asked.items():
        by_alias.setdefault(p.node_id, []).append(iid)
        by_alias.setdefault(f"{p.node_id}:{p.key}", []).append(iid)
    problems: list[Problem] = []
    resolved: dict[str, object] = {}
    for name, value in answers.items():
        if name in asked:
            iid = name
        else:
            ids = by_alias.get(name, [])
            if len(ids) != 1:
                why = ("names several interrupts; use their ids" if ids else
                       "names no interrupt the run waits on")
                problems.append(Problem("unknown_interrupt", f"answer {name!r} {why}", name))
                continue
            iid = ids[0]
        try:
            resolved[iid] = plain_json(value)
        except ValueError as err:
            problems.append(Problem("answer_not_json", f"the answer is not JSON: {err}", name))
            continue
        schema = asked[iid][1].schema
        if schema is not None and validate is not None:
            for message in validate(schema, resolved[iid]):
                problems.append(Problem("answer_schema", message, name))
    if problems:
        raise AnswerInvalid(problems)
    return resolved


async def prepare_resume(store: CheckpointStore, record: RunRecord,
                         checkpoints: list[NodeCheckpoint], answers: Mapping[str, object],
                         validate: AnswerValidator | None) -> Restore:
    """Check and record the new answers, apply timeouts, and build the run's restore."""
    latest = latest_checkpoints(checkpoints)
    asked = pending_interrupts(latest)
    given = check_answers(answers, asked, validate)
    known = await store.answers(record.run_id)
    stale = {iid: value for iid, value in known.items() if iid in asked and iid not in given}
    if stale and validate is not None:  # answers recorded directly in the store
        check_answers(stale, asked, validate)
    for iid, value in given.items():
        await store.answer(record.run_id, iid, value)
    known.update(given)
    now = time.time()
    expired: dict[str, PendingInterrupt] = {}
    for iid, (node_id, p) in asked.items():
        deadline = p.deadline
        if iid in known or deadline is None or deadline > now:
            continue
        if p.has_default:
            await store.answer(record.run_id, iid, p.default)
            known[iid] = p.default
        else:
            expired.setdefault(node_id, p)
    return Restore.from_checkpoints(latest, dict(known), expired=expired)


def downstream(graph: CompiledGraph, roots: set[str]) -> set[str]:
    """``roots`` and every node reachable from them."""
    seen = {graph.by_id[r] for r in roots}
    stack = list(seen)
    while stack:
        i = stack.pop()
        for e in graph.nodes[i].out_edges:
            t = graph.edges[e].target
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return {graph.nodes[i].id for i in seen}


def prepare_fork(graph: CompiledGraph, record: RunRecord, checkpoints: list[NodeCheckpoint],
                 new_id: str, *, from_node: str, edits: Mapping[str, object]
                 ) -> tuple[Restore, list[NodeCheckpoint]]:
    """The restore of a fork and the checkpoints it starts with (copies of the kept nodes')."""
    edits = dict(edits or {})
    unknown = [n for n in (from_node, *edits) if n not in graph.by_id]
    if unknown:
        raise UsageError(f"workflow {record.workflow!r} has no node "
                         f"{', '.join(map(repr, unknown))}")
    rerun = downstream(graph, {from_node})
    rerun |= downstream(graph, set(edits)) - set(edits)
    rerun -= set(edits)
    latest = latest_checkpoints(checkpoints)
    restore = Restore.from_checkpoints(latest, {}, only=[n for n in latest if n not in rerun])
    restore.waiting.clear()  # a forked run asks its questions again
    restore.record_skips = True
    for node_id, value in edits.items():
        old = restore.completed.get(node_id)
        if isinstance(value, Branch):
            label: str | None = value.label
            value = value.value
        elif old is not None:
            label = old[1]
        else:
            label = branch_label(value) if graph.nodes[graph.by_id[node_id]].branches else None
        try:
            output = plain_json(value)
        except ValueError as err:
            raise UsageError(f"the edit of node {node_id!r} is not plain JSON: {err}") from None
        restore.completed[node_id] = (output, label, old[2] if old is not None else 0)
        restore.skipped.pop(node_id, None)
    start: list[NodeCheckpoint] = []
    for cp in sorted(latest.values(), key=lambda c: c.seq):
        done = restore.completed.get(cp.node_id)
        if done is None and cp.node_id not in restore.skipped:
            continue
        edited = cp.node_id in edits
        start.append(dataclasses.replace(
            cp, run_id=new_id, seq=len(start) + 1,
            status=NodeStatus.COMPLETED.value if done is not None else cp.status,
            output=done[0] if done is not None else None,
            branch=done[1] if done is not None else None,
            lineage={**cp.lineage, "forked_from": {"run_id": record.run_id, "seq": cp.seq},
                     **({"edited": True} if edited else {})}))
    copied = {cp.node_id for cp in start}
    for node_id, (output, label, _) in restore.completed.items():
        if node_id not in copied:  # an edit of a node that never completed
            start.append(NodeCheckpoint(run_id=new_id, seq=len(start) + 1,
                                        node_id=node_id, status=NodeStatus.COMPLETED.value,
                                        output=output, branch=label,
                                        lineage={"edited": True}, ts=time.time()))
    return restore, start
