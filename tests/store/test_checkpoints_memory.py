"""The in-memory reference store and run log pass the same conformance suite as the SQL ones."""

from __future__ import annotations

import pytest

from plait.graph.memory import MemoryCheckpointStore, MemoryRunLog

from .conformance_checkpoints import CheckpointStoreConformance


class TestMemoryCheckpoints(CheckpointStoreConformance):
    hashes_outputs = False  # lineage hashes are the SQL stores' (blake3 is not the engine's)
    prune_removes_events = False  # the run log is a separate object

    @pytest.fixture
    def store(self) -> MemoryCheckpointStore:
        return MemoryCheckpointStore()

    @pytest.fixture
    def runlog(self) -> MemoryRunLog:
        return MemoryRunLog()
