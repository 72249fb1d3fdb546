"""Retrieval over a vector store: vector, keyword (BM25) and hybrid search, metadata filters,
MMR diversity and reranking.

::

    retriever = Retriever(store, embedder, ref, mode="hybrid", top_k=5)
    hits = await retriever.retrieve("how do checkpoints work?", where={"lang": "en"})

The pipeline of one query:

1. **Candidates**: ``fetch_k`` hits from vector search (``store.search``), from keyword search
   (``store.keyword_search``), or from both, with the filter applied by the store.
2. **Fusion** (hybrid only): reciprocal rank fusion (``fusion="rrf"``, ``rrf_k``) or weighted
   fusion of normalized scores (``fusion="weighted"``, ``alpha`` = the vector weight); see
   :mod:`plait.rag.fusion`. The fused list is cut to ``fetch_k``.
3. **Reranking** (when a ``reranker`` is set) of those candidates; see :mod:`plait.rag.rerank`.
4. **MMR** (``mmr=True``) picks ``top_k`` diverse hits (see :mod:`plait.rag.mmr`); otherwise the
   first ``top_k`` are returned.

Hits carry the score of the last step that scored them: similarity (vector), BM25 (keyword),
the fused score (hybrid) or the reranker's. MMR reorders without rescoring.

:class:`Retriever` is a frozen dataclass: derive a variant with ``dataclasses.replace``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from plait.errors import UsageError
from plait.rag.embeddings.base import check_compatible
from plait.rag.filters import And, Filter, parse_filter
from plait.rag.fusion import Normalization, normalize_scores, rrf_fuse, weighted_fuse
from plait.rag.mmr import mmr_select
from plait.rag.rerank import EmbeddingReranker, Reranker
from plait.rag.types import CollectionRef, Embedder, Hit, VectorStore

if TYPE_CHECKING:
    from plait.rag.types import Vectors

__all__ = [
    "EmbeddingReranker",
    "Fusion",
    "Mode",
    "Reranker",
    "Retriever",
    "WhereArg",
    "as_filter",
]

Mode = Literal["vector", "keyword", "hybrid"]
Fusion = Literal["rrf", "weighted"]
WhereArg = Filter | Mapping[str, object] | None
"""A typed filter, its JSON form (``{"page": {"$gte": 2}}``), or None."""


def as_filter(where: WhereArg) -> Filter | None:
    """The typed filter for a typed or JSON filter."""
    if isinstance(where, Mapping):
        return parse_filter(where)
    return where


def _both(a: Filter | None, b: Filter | None) -> Filter | None:
    if a is None:
        return b
    return a if b is None else And(a, b)


@dataclass(frozen=True, slots=True)
class Retriever:
    """Searches one collection. ``embedder`` must be the model the collection was built with
    (checked against the collection on first use: :class:`~plait.errors.EmbedderMismatch`
    otherwise); keyword mode needs none.

    ``fetch_k`` is how many candidates each search returns (and fusion keeps) before
    reranking and MMR; by default ``max(2 * top_k, 50)`` when anything follows the search,
    else ``top_k``. ``where`` is a standing filter, combined (AND) with the per-call one."""

    store: VectorStore
    embedder: Embedder | None
    ref: CollectionRef
    _: KW_ONLY
    mode: Mode = "hybrid"
    top_k: int = 10
    fetch_k: int | None = None
    fusion: Fusion = "rrf"
    rrf_k: float = 60.0
    alpha: float = 0.5
    normalization: Normalization = "minmax"
    mmr: bool = False
    lambda_: float = 0.5
    reranker: Reranker | None = None
    where: Filter | None = None
    _checked: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.mode not in ("vector", "keyword", "hybrid"):
            problems.append(f"unknown mode {self.mode!r}; use vector, keyword or hybrid")
        if self.fusion not in ("rrf", "weighted"):
            problems.append(f"unknown fusion {self.fusion!r}; use rrf or weighted")
        if self.top_k < 1:
            problems.append(f"top_k must be >= 1, got {self.top_k}")
        if self.fetch_k is not None and self.fetch_k < 1:
            problems.append(f"fetch_k must be >= 1, got {self.fetch_k}")
        if not 0.0 <= self.alpha <= 1.0:
            problems.append(f"alpha must be within [0, 1], got {self.alpha}")
        if not 0.0 <= self.lambda_ <= 1.0:
            problems.append(f"lambda_ must be within [0, 1], got {self.lambda_}")
        if self.rrf_k < 0:
            problems.append(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.mode != "keyword" and self.embedder is None:
            problems.append(f"mode {self.mode!r} needs an embedder")
        if problems:
            raise UsageError("Retriever: " + "; ".join(problems))

    def _depth(self, top_k: int) -> int:
        if self.fetch_k is not None:
            return max(self.fetch_k, top_k)
        if self.mode == "hybrid" or self.mmr or self.reranker is not None:
            return max(2 * top_k, 50)
        return top_k

    async def _check_embedder(self) -> None:
        if self.embedder is None or "embedder" in self._checked:
            return
        info = await self.store.get_collection(self.ref)
        if info is not None:
            check_compatible(info, self.embedder)
        self._checked.add("embedder")

    async def retrieve(self, query: str, *, top_k: int | None = None,
                       where: WhereArg = None) -> list[Hit]:
        """The best ``top_k`` hits for ``query`` (within ``where``), best first."""
        qvec = None
        if self.mode != "keyword":
            assert self.embedder is not None
            await self._check_embedder()
            qvec = (await self.embedder.embed([query], kind="query"))[0]
        return await self._run(query, qvec, top_k=top_k, where=where)

    async def retrieve_many(self, queries: Sequence[str], *, top_k: int | None = None,
                            where: WhereArg = None, concurrency: int = 4) -> list[list[Hit]]:
        """:meth:`retrieve` for many queries, embedding them in one batch; results in order."""
        if concurrency < 1:
            raise UsageError(f"concurrency must be >= 1, got {concurrency}")
        qvecs: list[Vectors | None] = [None] * len(queries)
        if self.mode != "keyword" and queries:
            assert self.embedder is not None
            await self._check_embedder()
            mat = await self.embedder.embed(list(queries), kind="query")
            qvecs = [mat[i] for i in range(len(queries))]
        gate = asyncio.Semaphore(concurrency)
        out: list[list[Hit]] = [[] for _ in queries]

        async def one(i: int) -> None:
            async with gate:
                out[i] = await self._run(queries[i], qvecs[i], top_k=top_k, where=where)

        async with asyncio.TaskGroup() as tg:
            for i in range(len(queries)):
                tg.create_task(one(i))
        return out

    async def _run(self, query: str, qvec: Vectors | None, *, top_k: int | None,
                   where: WhereArg) -> list[Hit]:
        k = self.top_k if top_k is None else top_k
        if k < 1:
            raise UsageError(f"top_k must be >= 1, got {k}")
        flt = _both(self.where, as_filter(where))
        depth = self._depth(k)
        hits = await self._candidates(query, qvec, depth, flt)
        if self.reranker is not None:
            hits = await self.reranker.rerank(query, hits)
        if not self.mmr:
            return hits[:k]
        hits = await self._with_vectors(hits)
        if self.mode == "vector" and self.reranker is None and qvec is not None:
            relevance = _cosines(qvec, hits)
        else:
            norm = normalize_scores(hits)
            relevance = [norm[h.id] for h in hits]
        return mmr_select(hits, relevance=relevance, k=k, lambda_=self.lambda_)

    async def _candidates(self, query: str, qvec: Vectors | None, depth: int,
                          flt: Filter | None) -> list[Hit]:
        store, ref = self.store, self.ref
        vectors = self.mmr
        if self.mode == "vector":
            assert qvec is not None
            return await store.search(ref, qvec, k=depth, where=flt, with_vectors=vectors)
        if self.mode == "keyword":
            return await store.keyword_search(ref, query, k=depth, where=flt)
        assert qvec is not None
        async with asyncio.TaskGroup() as tg:
            vt = tg.create_task(store.search(ref, qvec, k=depth, where=flt,
                                             with_vectors=vectors))
            kt = tg.create_task(store.keyword_search(ref, query, k=depth, where=flt))
        if self.fusion == "rrf":
            fused = rrf_fuse([vt.result(), kt.result()], k=self.rrf_k)
        else:
            fused = weighted_fuse(vt.result(), kt.result(), alpha=self.alpha,
                                  normalization=self.normalization)
        return fused[:depth]

    async def _with_vectors(self, hits: list[Hit]) -> list[Hit]:
        missing = [h.id for h in hits if h.vector is None]
        if not missing:
            return hits
        got = {r.id: r.vector for r in await self.store.get(self.ref, missing,
                                                              with_vectors=True)}
        return [h if h.vector is not None or got.get(h.id) is None
                else dataclasses.replace(h, vector=got[h.id]) for h in hits]


def _cosines(qvec: Vectors, hits: Sequence[Hit]) -> list[float]:
    q = np.asarray(qvec, dtype=np.float32).reshape(-1)
    qn = max(float(np.linalg.norm(q)), 1e-12)
    out = []
    for h in hits:
        v = np.asarray(h.vector, dtype=np.float32).reshape(-1)
        out.append(float(v @ q) / (max(float(np.linalg.norm(v)), 1e-12) * qn))
    return out
