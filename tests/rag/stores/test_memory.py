from __future__ import annotations

import pytest

from plait.rag.stores.memory import MemoryVectorStore
from plait.rag.types import VectorStore

from .conformance import StoreFactory, VectorStoreConformance


class TestMemoryVectorStore(VectorStoreConformance):
    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        async def open_store() -> VectorStore:
            return MemoryVectorStore()

        return open_store
