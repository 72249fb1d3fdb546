"""The in-memory checkpoint store and run log pass the shared conformance suite."""

from __future__ import annotations

import pytest

from plait.graph.durability import CheckpointStore, RunLog
from plait.graph.memory import MemoryCheckpointStore, MemoryRunLog
from tests.store.conformance_checkpoints import CheckpointStoreConformance


class TestMemoryCheckpoints(CheckpointStoreConformance):
    hashes_outputs = False
    prune_removes_events = False

    @pytest.fixture
    def store(self) -> MemoryCheckpointStore:
        return MemoryCheckpointStore()

    @pytest.fixture
    def runlog(self) -> MemoryRunLog:
        return MemoryRunLog()


def test_the_memory_classes_satisfy_the_protocols() -> None:
    assert isinstance(MemoryCheckpointStore(), CheckpointStore)
    assert isinstance(MemoryRunLog(), RunLog)
