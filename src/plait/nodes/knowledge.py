"""What the RAG node kinds (``ingest``, ``retrieve``, ``answer``) share: a vector store, an
embedder and the default tenant, built lazily so an engine that never retrieves never loads
torch or opens a store.

    Engine(knowledge=Knowledge(store=open_store("data/rag"), embedder=embedder_from_id("local")))

The defaults are an in-memory store and the embedded local model (all-MiniLM-L6-v2); the CLI
passes the store and cached embedder from its settings (``PLAIT_RAG_STORE``,
``PLAIT_EMBEDDER``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from plait.rag.types import CollectionRef, Embedder, VectorStore

__all__ = ["DEFAULT_TENANT", "Knowledge"]

DEFAULT_TENANT = "default"


class Knowledge:
    """A store and an embedder for the RAG kinds. Give instances or zero-argument factories;
    each is created on first use and shared by every node of the engine."""

    def __init__(self, *, store: VectorStore | Callable[[], VectorStore] | None = None,
                 embedder: Embedder | Callable[[], Embedder] | None = None,
                 tenant: str = DEFAULT_TENANT) -> None:
        self._store = store
        self._embedder = embedder
        self.tenant = tenant
        self._lock = asyncio.Lock()

    def store(self) -> VectorStore:
        value = self._store
        if value is None:
            from plait.rag.stores.memory import MemoryVectorStore

            value = MemoryVectorStore()
        elif not isinstance(value, VectorStore) and callable(value):
            value = value()
        self._store = value
        return value

    def embedder(self) -> Embedder:
        value = self._embedder
        if value is None:
            from plait.rag.embeddings import embedder_from_id

            value = embedder_from_id("local")
        elif not isinstance(value, Embedder) and callable(value):
            value = value()
        self._embedder = value
        return value

    def ref(self, collection: str, *, tenant: str | None = None,
            namespace: str = "default") -> CollectionRef:
        return CollectionRef(tenant=tenant or self.tenant, name=collection, namespace=namespace)

    async def close(self) -> None:
        """Close the store if it was opened (persisting what it holds)."""
        store = self._store
        if store is not None and isinstance(store, VectorStore):
            await store.close()
