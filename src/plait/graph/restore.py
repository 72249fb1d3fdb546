"""Rebuilding a run's state from its checkpoints, so a resumed (or forked) run runs only what
is left.

Only *decisions a node made itself* are restored: a completed node's output and branch label,
and a skip a hook chose. Every edge resolution and every skip that follows from them (an
untaken branch, a skipped or failed upstream) is recomputed by the planner, exactly as in the
original run, so a skip caused by a failure that the resume retries is not carried over.
Restored nodes are pinned (``pending_in = -1``): no later resolution can make them runnable,
so a completed node never runs again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plait.errors import InterruptTimeout
from plait.graph import plan
from plait.graph.durability import JSONValue, NodeCheckpoint
from plait.graph.interrupts import PendingInterrupt
from plait.graph.state import NodeStatus

if TYPE_CHECKING:
    from plait.graph.durable import DurableExecution

__all__ = ["DERIVED_SKIPS", "Restore", "latest_checkpoints"]

DERIVED_SKIPS = frozenset({plan.REASON_BRANCH, plan.REASON_UPSTREAM, plan.REASON_FAILED})
"""Skip reasons the planner derives from other nodes (recomputed, never restored)."""


def latest_checkpoints(checkpoints: Iterable[NodeCheckpoint]) -> dict[str, NodeCheckpoint]:
    """Each node's newest checkpoint (the highest ``seq``)."""
    latest: dict[str, NodeCheckpoint] = {}
    for cp in checkpoints:
        old = latest.get(cp.node_id)
        if old is None or cp.seq > old.seq:
            latest[cp.node_id] = cp
    return latest


@dataclass(slots=True)
class Restore:
    """What a resumed or forked run starts from."""

    completed: dict[str, tuple[JSONValue, str | None, int]] = field(default_factory=dict)
    """node id -> (output, branch label, attempts)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """node id -> reason, for nodes a hook skipped."""
    waiting: dict[str, list[PendingInterrupt]] = field(default_factory=dict)
    """node id -> every interrupt of its last ``waiting`` checkpoint."""
    expired: dict[str, PendingInterrupt] = field(default_factory=dict)
    """node id -> an interrupt that timed out with no default: the node fails."""
    answers: dict[str, object] = field(default_factory=dict)
    record_skips: bool = False
    """Checkpoint the skips the planner derives (a fork: its new run has none stored)."""

    @classmethod
    def from_checkpoints(cls, latest: Mapping[str, NodeCheckpoint], answers: dict[str, object],
                         *, expired: dict[str, PendingInterrupt] | None = None,
                         only: Iterable[str] | None = None) -> Restore:
        """From each node's newest checkpoint; with ``only``, just those nodes."""
        keep = set(latest) if only is None else set(only)
        restore = cls(answers=answers, expired=dict(expired or {}))
        for node_id, cp in latest.items():
            if node_id not in keep:
                continue
            if cp.status == NodeStatus.COMPLETED:
                restore.completed[node_id] = (cp.output, cp.branch, cp.attempts)
            elif cp.status == NodeStatus.SKIPPED and cp.reason not in DERIVED_SKIPS:
                restore.skipped[node_id] = cp.reason or "skipped"
            elif cp.status == NodeStatus.WAITING:
                restore.waiting[node_id] = [PendingInterrupt.from_json(i) for i in cp.interrupts]
        return restore

    def apply(self, run: DurableExecution) -> list[int]:
        """Restore into ``run``'s fresh state (workflow-input edges already resolved); return
        the nodes that can run now."""
        st = run.state
        graph = run.graph
        book = run._book()
        book.answers.update(self.answers)
        for asked in self.waiting.values():
            for p in asked:
                book.asked[p.id] = p
        answers = book.answers
        derived: list[tuple[int, str]] = []
        for i in graph.order:
            if st.status[i] is not NodeStatus.PENDING:
                continue  # skipped by a resolution restored earlier in this pass
            node_id = graph.nodes[i].id
            done = self.completed.get(node_id)
            if done is not None:
                output, label, attempts = done
                st.outputs[i] = output
                st.status[i] = NodeStatus.COMPLETED
                st.attempts[i] = attempts
                st.pending_in[i] = -1
                derived.extend(plan.resolve(st, i, output, label)[1])
                continue
            reason = self.skipped.get(node_id)
            if reason is not None:
                st.status[i] = NodeStatus.SKIPPED
                st.reasons[i] = reason
                st.pending_in[i] = -1
                derived.extend(plan.resolve(st, i, None, None, skip_all=True)[1])
                continue
            waits = self.waiting.get(node_id)
            if (waits is not None and node_id not in self.expired
                    and not all(p.id in answers for p in waits)):
                st.status[i] = NodeStatus.WAITING
                st.pending_in[i] = -1
                if run.waiting is None:
                    run.waiting = {}
                run.waiting[i] = [p for p in waits if p.id not in answers]
        if self.record_skips and run.journal is not None:
            for j, why in derived:
                run.journal.add(graph.nodes[j].id, NodeStatus.SKIPPED, reason=why)
        for node_id, p in self.expired.items():
            i = graph.by_id[node_id]
            st.pending_in[i] = -1
            run._fail(i, InterruptTimeout(node_id, p.id, p.timeout or 0.0))
        run.queue.clear()  # the scan below finds every runnable node, once
        if run.journal is not None:
            run.journal.held.clear()
        return [i for i in graph.order
                if st.status[i] is NodeStatus.PENDING and st.pending_in[i] == 0]
