"""RAG's shared vocabulary: documents, chunks, records, hits, collections, and the two protocols
(``Embedder``, ``VectorStore``) that every backend implements.

Vectors are ``numpy.ndarray`` of ``float32``: one row per text, shape ``(n, dim)``.
Every store operation carries a :class:`CollectionRef`, whose ``tenant`` is part of the
collection's identity: no operation on one tenant's collection ever sees another tenant's data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from plait.rag.filters import Filter

    Vectors = npt.NDArray[np.float32]

__all__ = [
    "Chunk",
    "CollectionInfo",
    "CollectionRef",
    "CollectionStats",
    "Document",
    "Embedder",
    "Hit",
    "MetaValue",
    "Metadata",
    "Record",
    "VectorStore",
]

MetaValue = str | int | float | bool | None
Metadata = Mapping[str, MetaValue]
"""Flat metadata: scalar values only, so every backend can store and filter on it."""


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded document. ``id`` is stable across runs (the source path, plus ``#page`` when a
    loader splits a file into pages); ``metadata`` holds at least ``source`` and, when known,
    ``page``, ``title`` and ``modified`` (POSIX seconds)."""

    id: str
    text: str
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document. ``id`` is stable: the same document and chunker settings give the
    same ids on every run. ``metadata`` is the document's plus ``chunk`` (index) and offsets."""

    id: str
    doc_id: str
    text: str
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CollectionRef:
    """Which collection: ``tenant`` / ``namespace`` / ``name``. The tenant is mandatory."""

    tenant: str
    name: str
    namespace: str = "default"

    def __str__(self) -> str:
        return f"{self.tenant}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    ref: CollectionRef
    dim: int
    metric: Literal["cosine", "l2", "ip"] = "cosine"
    embedder: str | None = None
    """The embedding model id the vectors came from (``local:all-MiniLM-L6-v2``)."""
    expires_at: float | None = None
    """POSIX time after which a session-scoped collection is dropped; None = never."""
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class CollectionStats:
    ref: CollectionRef
    count: int
    documents: int
    dim: int
    embedder: str | None
    bytes: int | None = None
    """Bytes on disk or in memory, when the backend knows."""


@dataclass(frozen=True, slots=True)
class Record:
    """What a store holds: one chunk with its vector. ``doc_hash`` is the content hash of the
    whole document the chunk came from (incremental ingestion compares it)."""

    id: str
    text: str
    vector: Vectors | None = None
    doc_id: str = ""
    doc_hash: str = ""
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result; higher ``score`` is better (similarity, BM25 score or fused score)."""

    id: str
    score: float
    text: str
    doc_id: str = ""
    metadata: Metadata = field(default_factory=dict)
    vector: Vectors | None = None
    """Filled only when the search asked for vectors (MMR needs them)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. ``model_id`` names the model (``provider:model``) so a cache
    and a collection can tell which model produced a vector."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int | None:
        """The vector size, when known before the first call."""
        ...

    async def embed(self, texts: Sequence[str], *,
                    kind: Literal["document", "query"] = "document") -> Vectors:
        """One row per text, float32. Work happens off the event loop."""
        ...


@runtime_checkable
class VectorStore(Protocol):
    """A vector store with a keyword (full-text) index beside it. Every backend passes the
    conformance suite in ``tests/rag/stores/conformance.py``."""

    async def create_collection(self, ref: CollectionRef, *, dim: int,
                                metric: Literal["cosine", "l2", "ip"] = "cosine",
                                embedder: str | None = None,
                                ttl: float | None = None,
                                exist_ok: bool = False) -> CollectionInfo: ...

    async def get_collection(self, ref: CollectionRef) -> CollectionInfo | None: ...

    async def list_collections(self, tenant: str) -> list[CollectionInfo]: ...

    async def drop_collection(self, ref: CollectionRef) -> bool: ...

    async def upsert(self, ref: CollectionRef, records: Sequence[Record]) -> None:
        """Insert or replace by id. Records are searchable when this returns."""
        ...

    async def delete(self, ref: CollectionRef, ids: Sequence[str] | None = None, *,
                     where: Filter | None = None) -> int:
        """Delete by ids and/or filter; returns how many records went."""
        ...

    async def get(self, ref: CollectionRef, ids: Sequence[str], *,
                  with_vectors: bool = False) -> list[Record]: ...

    async def search(self, ref: CollectionRef, vector: Vectors, *, k: int = 10,
                     where: Filter | None = None, with_vectors: bool = False) -> list[Hit]:
        """Nearest neighbours of one query vector (shape ``(dim,)``), best first."""
        ...

    async def keyword_search(self, ref: CollectionRef, query: str, *, k: int = 10,
                             where: Filter | None = None) -> list[Hit]:
        """Full-text search (BM25 where the backend can), best first."""
        ...

    async def doc_hashes(self, ref: CollectionRef) -> dict[str, str]:
        """``doc_id -> doc_hash`` of every document in the collection (for incremental ingest)."""
        ...

    def scan(self, ref: CollectionRef, *, batch: int = 256,
             with_vectors: bool = False) -> AsyncIterator[list[Record]]:
        """Every record, in batches, in a stable order (re-embedding walks this)."""
        ...

    async def stats(self, ref: CollectionRef) -> CollectionStats: ...

    async def expire(self, now: float | None = None) -> int:
        """Drop collections whose TTL has passed; returns how many."""
        ...

    async def close(self) -> None:
        """Persist what needs persisting and release resources."""
        ...
