"""The durable half of the run loop: checkpoints, interrupts and lineage.

:class:`DurableExecution` sits between :class:`~plait.graph.execution.NodeExecution` (one
node) and the scheduler (the loop). A run without a store and without interrupts never enters
this module's slow paths: the scheduler tests ``journal is None`` once per settled node.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections import deque
from typing import TYPE_CHECKING

from plait.errors import CheckpointFailed, OutputNotJSON, PlaitError, UsageError
from plait.graph.checkpointing import Journal, plain_json
from plait.graph.context import CURRENT_NODE
from plait.graph.events import NodeInterrupted
from plait.graph.execution import NodeExecution
from plait.graph.interrupts import Interrupt, PendingInterrupt, as_interrupts, interrupt_id
from plait.graph.state import Branch, NodeStatus, branch_label, describe_error, error_code
from plait.types import RunStatus

if TYPE_CHECKING:
    from plait.graph.restore import Restore

__all__ = ["DurableExecution", "InterruptBook"]

logger = logging.getLogger(__name__)


class InterruptBook:
    """What one run tree (a run and its child runs) knows about interrupts: every interrupt
    asked (by id) and every answer (by id)."""

    __slots__ = ("answers", "asked")

    def __init__(self, answers: dict[str, object] | None = None,
                 asked: dict[str, PendingInterrupt] | None = None) -> None:
        self.answers: dict[str, object] = answers if answers is not None else {}
        self.asked: dict[str, PendingInterrupt] = asked if asked is not None else {}


class DurableExecution(NodeExecution):
    """Checkpoints (through a :class:`Journal`), interrupts and lineage for one run."""

    __slots__ = ("aborting", "book", "container", "failure", "journal", "lineages", "restore",
                 "waiting")
    queue: deque[int]

    # set by the scheduler's __init__ (no method call on the hot path of a run's creation)
    failure: PlaitError | None
    aborting: bool
    journal: Journal | None
    book: InterruptBook | None
    waiting: dict[int, list[PendingInterrupt]] | None
    """Nodes waiting on interrupts, with the interrupts not answered yet."""
    lineages: dict[str, dict[str, object]] | None
    restore: Restore | None
    container: tuple[DurableExecution, str, str] | None
    """For a child run: (the parent run, the container node's id, this run's key)."""

    # -- RunContext: answers and lineage --------------------------------------------------
    def _book(self) -> InterruptBook:
        if self.book is None:
            self.book = InterruptBook()
        return self.book

    def answers(self, node_id: str | None = None) -> dict[str, object]:
        book = self.book
        if book is None or not book.answers:
            return {}
        if node_id is None:
            node_id = CURRENT_NODE.get()
            if node_id is None:
                raise UsageError("cannot tell which node is asking; pass node_id")
        return {p.key: book.answers[p.id] for p in book.asked.values()
                if p.node_id == node_id and p.path == self.path and p.id in book.answers}

    def lineage(self, node_id: str | None = None, /, **fields: object) -> None:
        if node_id is None:
            node_id = CURRENT_NODE.get()
            if node_id is None:
                raise UsageError("cannot tell which node records lineage; pass node_id")
        try:
            plain = plain_json(fields)
        except ValueError as err:
            raise UsageError(f"lineage of node {node_id!r} must be JSON: {err}") from None
        assert isinstance(plain, dict)
        self._add_lineage(node_id, plain)

    def _add_lineage(self, node_id: str, fields: dict[str, object]) -> None:
        if self.container is not None:
            parent, container_id, key = self.container
            parent._add_lineage(container_id, {"children": {f"{key}/{node_id}": fields}})
            return
        if self.journal is None:
            return  # nobody stores it
        if self.lineages is None:
            self.lineages = {}
        current = self.lineages.setdefault(node_id, {})
        for name, value in fields.items():
            old = current.get(name)
            if name == "children" and isinstance(old, dict) and isinstance(value, dict):
                for child, data in value.items():
                    merged = old.setdefault(child, {})
                    if isinstance(merged, dict) and isinstance(data, dict):
                        merged.update(data)
            else:
                current[name] = value

    def _take_lineage(self, node_id: str) -> dict[str, object] | None:
        return None if self.lineages is None else self.lineages.pop(node_id, None)

    # -- interrupts -----------------------------------------------------------------------
    def _interrupted(self, i: int, value: object, duration: float | None) -> None:
        """Node ``i`` returned interrupts: complete it with their answers if all are answered,
        else it waits (its successors stay pending; the rest of the graph runs on)."""
        node = self.graph.nodes[i]
        try:
            items = as_interrupts(value)
            assert items is not None
            book = self._book()
            asked: list[PendingInterrupt] = []
            keys: set[str] = set()
            now = time.time()
            for index, item in enumerate(items):
                if item.id is not None:  # raised in a child workflow: keep the child's id
                    found = book.asked.get(item.id)
                    asked.append(found if found is not None else PendingInterrupt(
                        item.id, node.id, item.key or str(index), item.prompt, item.schema,
                        item.default, item.timeout, now, self.path))
                    continue
                key = item.key if item.key is not None else str(index)
                if key in keys:
                    raise UsageError(f"node {node.id!r} returned two interrupts with key "
                                     f"{key!r}; give each a distinct key")
                keys.add(key)
                iid = interrupt_id(self.run_id, node.id, key)
                known = book.asked.get(iid)
                pending = PendingInterrupt(
                    iid, node.id, key, item.prompt, item.schema, item.default, item.timeout,
                    known.created_at if known is not None else now, self.path)
                book.asked[iid] = pending
                asked.append(pending)
            stored = [p.to_json() for p in asked]
            if self.journal is not None:
                stored = plain_json(stored)  # type: ignore[assignment]
        except ValueError as err:
            if isinstance(err, UsageError):
                self._fail(i, err)
            else:
                self._fail(i, OutputNotJSON(node.id, f"its interrupts: {err}"))
            return
        except TypeError as err:
            self._fail(i, err)
            return
        answers = book.answers
        if all(p.id in answers for p in asked):
            values = [answers[p.id] for p in asked]
            self._complete(i, values if type(value) is list else values[0], duration)
            return
        open_ = [p for p in asked if p.id not in answers]
        self.state.status[i] = NodeStatus.WAITING
        if self.waiting is None:
            self.waiting = {}
        self.waiting[i] = open_
        logger.info("node waits on %d interrupt(s)", len(open_),
                    extra={"run_id": self.run_id, "node_id": node.id})
        if self.emit is not None:
            self.emit(NodeInterrupted(run_id=self.run_id, ts=now, path=self.path,
                                      node_id=node.id, kind=node.kind,
                                      interrupts=[p.to_json() for p in open_]))
        if self.journal is not None:
            self.journal.add(node.id, NodeStatus.WAITING, attempts=self.state.attempts[i],
                             interrupts=stored,
                             lineage=self._take_lineage(node.id))

    # -- checkpoints ----------------------------------------------------------------------
    def _checkpoint_completed(self, i: int, value: object, label: str | None) -> bool:
        """Record node ``i``'s completion; False (and the node failed) if its output is not
        JSON."""
        journal = self.journal
        assert journal is not None
        node = self.graph.nodes[i]
        try:
            output = plain_json(value)
        except ValueError as err:
            self._fail(i, OutputNotJSON(node.id, str(err)))
            return False
        journal.add(node.id, NodeStatus.COMPLETED, output=output, branch=label,
                    attempts=self.state.attempts[i], lineage=self._take_lineage(node.id))
        return True

    def _checkpoint_failed(self, i: int, exc: BaseException) -> None:
        assert self.journal is not None
        node = self.graph.nodes[i]
        self.journal.add(node.id, NodeStatus.FAILED, attempts=self.state.attempts[i],
                         error=describe_error(exc), code=error_code(exc),
                         lineage=self._take_lineage(node.id))

    def _checkpoint_resolved(self, runnable: list[int], skipped: list[tuple[int, str]]) -> None:
        """Record the skips a settled node caused and release (or hold) what it unblocked."""
        journal = self.journal
        assert journal is not None
        nodes = self.graph.nodes
        for j, reason in skipped:
            journal.add(nodes[j].id, NodeStatus.SKIPPED, reason=reason)
        journal.release(self.queue, runnable)
        if skipped and self.emit is not None:
            self._emit_skips(skipped)

    @abstractmethod
    def _outputs(self) -> dict[str, object]: ...

    def _kept(self, i: int, value: object) -> None:
        """A node that completed while the run was stopping: keep its output (and its
        checkpoint), so a resume does not run it again; start nothing."""
        if type(value) is Interrupt or (type(value) is list and value
                                        and type(value[0]) is Interrupt):
            self._interrupted(i, value, None)
            return
        label = None
        if type(value) is Branch:
            label = value.label
            value = value.value
        elif self.graph.nodes[i].branches:
            label = branch_label(value)
        if self.journal is not None and not self._checkpoint_completed(i, value, label):
            return
        self.state.outputs[i] = value
        self.state.status[i] = NodeStatus.COMPLETED

    async def _close_journal(self, status: RunStatus) -> RunStatus:
        """Flush the checkpoints and store the run's end; a store failure fails the run."""
        journal = self.journal
        if journal is None:
            return status
        error = self.failure
        try:
            await journal.finish(status, outputs=self._outputs(),
                                 error=None if error is None else str(error),
                                 code=None if error is None else error.code)
        except CheckpointFailed as exc:
            if self.failure is None:
                self.failure = exc
            return RunStatus.FAILED if status is not RunStatus.CANCELLED else status
        return status

    # -- the journal's callbacks ----------------------------------------------------------
    def _written(self, held: list[int]) -> None:
        """A batch of checkpoints is stored: start the nodes it held (sync mode)."""
        if held and not self.aborting:
            self.queue.extend(held)
        self._after_turn()

    def _store_failed(self, exc: BaseException) -> None:
        logger.error("checkpoint store failed: %s", describe_error(exc),
                     extra={"run_id": self.run_id})
        if self.failure is None:
            self.failure = CheckpointFailed(f"the checkpoint store failed: {exc}", cause=exc)
        self.aborting = True
        self._after_turn()

    @abstractmethod
    def _after_turn(self) -> None:
        """Start what is queued; settle the run if nothing is left in flight."""
