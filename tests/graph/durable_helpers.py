"""Helpers for the durable-execution tests: copying a store's prefix, counting node starts."""

from __future__ import annotations

import dataclasses
from collections import Counter

from plait import Event, NodeStarted
from plait.graph.memory import MemoryCheckpointStore
from plait.types import RunStatus


async def truncated(store: MemoryCheckpointStore, run_id: str, k: int) -> MemoryCheckpointStore:
    """A new store holding ``run_id``'s record (status running, as after a crash) and its
    first ``k`` checkpoints: what a process killed after its k-th checkpoint leaves behind."""
    record = await store.get_run(run_id)
    assert record is not None
    copy = MemoryCheckpointStore()
    await copy.create_run(dataclasses.replace(record, status=RunStatus.RUNNING, outputs={},
                                              error=None, code=None))
    checkpoints = (await store.checkpoints(run_id))[:k]
    if checkpoints:
        await copy.append(checkpoints)
    for interrupt_id, value in (await store.answers(run_id)).items():
        await copy.answer(run_id, interrupt_id, value)
    return copy


class Starts:
    """Counts NodeStarted events of top-level nodes (an event sink)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, event: Event) -> None:
        if isinstance(event, NodeStarted) and not event.path:
            self.counts[event.node_id] += 1
