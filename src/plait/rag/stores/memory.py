"""The in-memory vector store: exact NumPy search and plait's BM25, nothing persisted.

It is the reference implementation of :class:`~plait.rag.types.VectorStore` (filters are
evaluated with :func:`plait.rag.filters.matches` itself) and the store for tests and small,
throwaway collections::

    store = MemoryVectorStore()
    await store.create_collection(CollectionRef("acme", "docs"), dim=384)

Every operation runs inline on the event loop: exact search costs ``n x dim`` multiply-adds
per query (about 1 ms at 20K x 384), so keep collections small or use the embedded store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from plait.errors import CollectionExists, CollectionNotFound, DimensionMismatch, UsageError
from plait.rag.bm25 import BM25Index
from plait.rag.filters import Filter, matches
from plait.rag.stores.checks import (
    Metric,
    check_batch,
    check_collection_args,
    check_vector,
    is_expired,
    new_info,
    top_k,
)
from plait.rag.types import CollectionInfo, CollectionRef, CollectionStats, Hit, Record

if TYPE_CHECKING:
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

__all__ = ["MemoryVectorStore"]


@dataclass(slots=True)
class _Collection:
    info: CollectionInfo
    records: dict[str, Record] = field(default_factory=dict)  # without vectors
    rows: dict[str, int] = field(default_factory=dict)        # id -> row of ``vectors``
    ids: list[str] = field(default_factory=list)              # row -> id
    vectors: Vectors = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    bm25: BM25Index = field(default_factory=BM25Index)

    def __post_init__(self) -> None:
        self.vectors = np.zeros((16, self.info.dim), dtype=np.float32)

    def put(self, batch: list[Record], matrix: Vectors) -> None:
        for rec, vec in zip(batch, matrix, strict=True):
            row = self.rows.get(rec.id)
            if row is None:
                row = self.rows[rec.id] = len(self.ids)
                self.ids.append(rec.id)
                if row == len(self.vectors):
                    grown = np.zeros((2 * row, self.info.dim), dtype=np.float32)
                    grown[:row] = self.vectors
                    self.vectors = grown
            self.vectors[row] = vec
            self.records[rec.id] = Record(id=rec.id, text=rec.text, doc_id=rec.doc_id,
                                          doc_hash=rec.doc_hash, metadata=dict(rec.metadata))
        self.bm25.add_many((r.id, r.text) for r in batch)

    def remove(self, ids: Sequence[str]) -> int:
        gone = 0
        for rid in dict.fromkeys(ids):
            row = self.rows.pop(rid, None)
            if row is None:
                continue
            last = len(self.ids) - 1
            if row != last:  # move the last row into the hole
                moved = self.ids[last]
                self.ids[row] = moved
                self.rows[moved] = row
                self.vectors[row] = self.vectors[last]
            self.ids.pop()
            del self.records[rid]
            gone += 1
        self.bm25.remove_many(ids)
        return gone

    def with_vector(self, rec: Record) -> Record:
        vec = self.vectors[self.rows[rec.id]].copy()
        return Record(id=rec.id, text=rec.text, vector=vec, doc_id=rec.doc_id,
                      doc_hash=rec.doc_hash, metadata=rec.metadata)


class MemoryVectorStore:
    """A :class:`~plait.rag.types.VectorStore` held in memory (exact search, BM25)."""

    def __init__(self) -> None:
        self._colls: dict[CollectionRef, _Collection] = {}

    def _live(self, ref: CollectionRef) -> _Collection | None:
        coll = self._colls.get(ref)
        return None if coll is None or is_expired(coll.info) else coll

    def _need(self, ref: CollectionRef) -> _Collection:
        coll = self._live(ref)
        if coll is None:
            raise CollectionNotFound(ref)
        return coll

    # -- collections -------------------------------------------------------------------------

    async def create_collection(self, ref: CollectionRef, *, dim: int, metric: Metric = "cosine",
                                embedder: str | None = None, ttl: float | None = None,
                                exist_ok: bool = False) -> CollectionInfo:
        check_collection_args(dim, metric, ttl)
        existing = self._live(ref)
        if existing is not None:
            if not exist_ok:
                raise CollectionExists(ref)
            if existing.info.dim != dim:
                raise DimensionMismatch(
                    f"collection {ref} holds {existing.info.dim}-dim vectors, not {dim}",
                    expected=existing.info.dim, actual=dim)
            return existing.info
        info = new_info(ref, dim=dim, metric=metric, embedder=embedder, ttl=ttl)
        self._colls[ref] = _Collection(info)
        return info

    async def get_collection(self, ref: CollectionRef) -> CollectionInfo | None:
        coll = self._live(ref)
        return None if coll is None else coll.info

    async def list_collections(self, tenant: str) -> list[CollectionInfo]:
        found = [c.info for ref, c in self._colls.items()
                 if ref.tenant == tenant and not is_expired(c.info)]
        return sorted(found, key=lambda i: (i.ref.namespace, i.ref.name))

    async def drop_collection(self, ref: CollectionRef) -> bool:
        live = self._live(ref) is not None
        self._colls.pop(ref, None)
        return live

    async def expire(self, now: float | None = None) -> int:
        gone = [ref for ref, c in self._colls.items() if is_expired(c.info, now)]
        for ref in gone:
            del self._colls[ref]
        return len(gone)

    # -- records -----------------------------------------------------------------------------

    async def upsert(self, ref: CollectionRef, records: Sequence[Record]) -> None:
        coll = self._need(ref)
        batch, matrix = check_batch(records, coll.info.dim)
        coll.put(batch, matrix)

    async def delete(self, ref: CollectionRef, ids: Sequence[str] | None = None, *,
                     where: Filter | None = None) -> int:
        coll = self._need(ref)
        if ids is None and where is None:
            raise UsageError("delete needs ids=, where= or both")
        chosen = list(coll.records) if ids is None else [i for i in ids if i in coll.records]
        if where is not None:
            chosen = [i for i in chosen if matches(where, coll.records[i].metadata)]
        return coll.remove(chosen)

    async def get(self, ref: CollectionRef, ids: Sequence[str], *,
                  with_vectors: bool = False) -> list[Record]:
        coll = self._need(ref)
        found = [coll.records[i] for i in dict.fromkeys(ids) if i in coll.records]
        return [coll.with_vector(r) for r in found] if with_vectors else found

    async def search(self, ref: CollectionRef, vector: Vectors, *, k: int = 10,
                     where: Filter | None = None, with_vectors: bool = False) -> list[Hit]:
        coll = self._need(ref)
        query = check_vector(vector, coll.info.dim, "query")
        n = len(coll.ids)
        if k <= 0 or n == 0:
            return []
        vectors = coll.vectors[:n]
        metric = coll.info.metric
        if metric == "l2":
            scores = -np.linalg.norm(vectors - query, axis=1)
        else:
            scores = vectors @ query
            if metric == "cosine":
                norms = np.linalg.norm(vectors, axis=1) * float(np.linalg.norm(query))
                scores = np.divide(scores, norms, out=np.zeros_like(scores), where=norms > 0)
        rows = np.arange(n)
        if where is not None:
            keep = np.fromiter((matches(where, coll.records[i].metadata) for i in coll.ids),
                               dtype=bool, count=n)
            rows, scores = rows[keep], scores[keep]
        hits = []
        for pos in top_k(scores, k, rows):
            rec = coll.records[coll.ids[rows[pos]]]
            hits.append(Hit(id=rec.id, score=float(scores[pos]), text=rec.text,
                            doc_id=rec.doc_id, metadata=rec.metadata,
                            vector=vectors[rows[pos]].copy() if with_vectors else None))
        return hits

    async def keyword_search(self, ref: CollectionRef, query: str, *, k: int = 10,
                             where: Filter | None = None) -> list[Hit]:
        coll = self._need(ref)
        allowed = None if where is None else {
            i for i, r in coll.records.items() if matches(where, r.metadata)}
        hits = []
        for rid, score in coll.bm25.search(query, k, allowed=allowed):
            rec = coll.records[rid]
            hits.append(Hit(id=rid, score=score, text=rec.text, doc_id=rec.doc_id,
                            metadata=rec.metadata))
        return hits

    async def doc_hashes(self, ref: CollectionRef) -> dict[str, str]:
        coll = self._need(ref)
        out: dict[str, str] = {}
        for rec in coll.records.values():  # chunks of one document share its hash
            out[rec.doc_id] = max(out.get(rec.doc_id, rec.doc_hash), rec.doc_hash)
        return out

    async def scan(self, ref: CollectionRef, *, batch: int = 256,
                   with_vectors: bool = False) -> AsyncIterator[list[Record]]:
        """Every record in id order; records deleted during the scan are left out."""
        coll = self._need(ref)
        if batch <= 0:
            raise UsageError(f"batch must be positive, got {batch}")
        order = sorted(coll.records)
        for start in range(0, len(order), batch):
            if self._colls.get(ref) is not coll:
                return
            found = [coll.records[i] for i in order[start:start + batch] if i in coll.records]
            if found:
                yield [coll.with_vector(r) for r in found] if with_vectors else found

    async def stats(self, ref: CollectionRef) -> CollectionStats:
        coll = self._need(ref)
        docs = {r.doc_id for r in coll.records.values()}
        return CollectionStats(ref=ref, count=len(coll.records), documents=len(docs),
                               dim=coll.info.dim, embedder=coll.info.embedder,
                               bytes=int(coll.vectors[:len(coll.ids)].nbytes))

    async def close(self) -> None:
        """Nothing to persist: the data lives as long as this object."""

