"""Evaluate plait's retrieval on a BEIR-layout dataset: ingest the corpus, run every query
through each method, score the rankings.

::

    report = await evaluate_retrieval("datasets/scifact", embedder=LocalEmbedder())
    for row in report.rows():
        print(row)   # {"method": "hybrid", "ndcg@10": 0.70, ..., "seconds": 1.9}

The corpus goes in as BEIR's dense models read it: one record per document, its text
``title + " " + text`` (no chunking), through :class:`~plait.rag.ingest.Ingestor` (so a
persistent ``store`` makes a second run skip every unchanged document, and a cached embedder
makes re-embedding free). The methods:

- ``vector``: cosine similarity of the embedder's vectors;
- ``bm25``: the store's keyword search (BM25 on the same text);
- ``hybrid``: both, fused as ``hybrid`` says (reciprocal rank fusion by default).

Each query retrieves ``top_k`` documents (100, for recall@100); metrics as in
:mod:`plait.rag.evaluation.metrics`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from plait.errors import UsageError
from plait.rag.evaluation.beir import BeirDataset, load_beir
from plait.rag.evaluation.metrics import evaluate
from plait.rag.fusion import Normalization
from plait.rag.ingest import Ingestor, Progress, ProgressCallback, WholeDocumentChunker
from plait.rag.retrieval import Fusion, Mode, Retriever
from plait.rag.types import CollectionRef, Document, Embedder, VectorStore

__all__ = ["DEFAULT_METRICS", "METHODS", "EvalReport", "HybridSettings", "MethodResult",
           "corpus_documents", "evaluate_retrieval"]

Method = Literal["vector", "bm25", "hybrid"]
METHODS: tuple[Method, ...] = ("vector", "bm25", "hybrid")
DEFAULT_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
_MODES: Mapping[str, Mode] = {"vector": "vector", "bm25": "keyword", "hybrid": "hybrid"}


@dataclass(frozen=True, slots=True)
class HybridSettings:
    """How the ``hybrid`` method fuses vector and BM25 results (see :mod:`plait.rag.fusion`).
    ``fetch_k`` is each list's depth before fusion (None: the retriever's default)."""

    fusion: Fusion = "rrf"
    rrf_k: float = 60.0
    alpha: float = 0.5
    normalization: Normalization = "minmax"
    fetch_k: int | None = None


@dataclass(frozen=True, slots=True)
class MethodResult:
    method: str
    metrics: Mapping[str, float]
    seconds: float
    """Wall time of all the method's queries (embedding the queries included)."""

    def as_dict(self) -> dict[str, str | float]:
        """``{"method": ..., "ndcg@10": ..., ..., "seconds": ...}``"""
        return {"method": self.method, **{k: round(v, 5) for k, v in self.metrics.items()},
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True, slots=True)
class EvalReport:
    dataset: str
    documents: int
    queries: int
    embedder: str
    results: list[MethodResult]
    ingest_seconds: float
    settings: Mapping[str, object] = field(default_factory=dict)

    def rows(self) -> list[dict[str, str | float]]:
        """One dict per method: what ``plait eval retrieval --json`` prints."""
        return [r.as_dict() for r in self.results]

    def result(self, method: str) -> MethodResult:
        for r in self.results:
            if r.method == method:
                return r
        raise KeyError(method)


def corpus_documents(dataset: BeirDataset) -> list[Document]:
    """The corpus as documents: id = the corpus id, text = ``title + " " + text``."""
    return [Document(id=d.id, text=d.full_text, metadata={"title": d.title})
            for d in dataset.corpus.values() if d.full_text]


async def evaluate_retrieval(
        dataset: str | Path | BeirDataset, *, embedder: Embedder,
        methods: Sequence[str] = METHODS, store: VectorStore | None = None,
        split: str = "test", top_k: int = 100, hybrid: HybridSettings | None = None,
        metrics: Sequence[str] = DEFAULT_METRICS, ignore_identical_ids: bool = False,
        progress: ProgressCallback | None = None) -> EvalReport:
    """Ingest the dataset's corpus into ``store`` (a new in-memory store by default), run its
    queries through each of ``methods`` and score them."""
    unknown = [m for m in methods if m not in _MODES]
    if unknown or not methods:
        raise UsageError(f"unknown method(s) {unknown}; use {', '.join(METHODS)}")
    hybrid = hybrid or HybridSettings()
    data = (dataset if isinstance(dataset, BeirDataset)
            else await asyncio.to_thread(load_beir, dataset, split=split))
    own_store = store is None
    if store is None:
        from plait.rag.stores.memory import MemoryVectorStore

        store = MemoryVectorStore()
    ref = CollectionRef("eval", data.name or "dataset")
    try:
        started = time.perf_counter()
        ingestor = Ingestor(store, embedder, WholeDocumentChunker(), ref, batch_size=512)
        await ingestor.ingest(corpus_documents(data), prune=True, progress=progress)
        ingest_seconds = time.perf_counter() - started
        qids = list(data.queries)
        texts = [data.queries[q] for q in qids]
        results: list[MethodResult] = []
        for method in methods:
            retriever = Retriever(
                store, embedder, ref, mode=_MODES[method], top_k=top_k,
                fetch_k=hybrid.fetch_k if method == "hybrid" else None,
                fusion=hybrid.fusion, rrf_k=hybrid.rrf_k, alpha=hybrid.alpha,
                normalization=hybrid.normalization)
            if progress is not None:
                progress(Progress(f"search:{method}", 0, len(qids)))
            t0 = time.perf_counter()
            ranked = await retriever.retrieve_many(texts)
            seconds = time.perf_counter() - t0
            if progress is not None:
                progress(Progress(f"search:{method}", len(qids), len(qids)))
            run: dict[str, dict[str, float]] = {}
            for qid, hits in zip(qids, ranked, strict=True):
                scores = run.setdefault(qid, {})
                for h in hits:
                    doc = h.doc_id or h.id
                    scores[doc] = max(scores.get(doc, h.score), h.score)
            scored = evaluate(data.qrels, run, metrics=metrics,
                              ignore_identical_ids=ignore_identical_ids)
            results.append(MethodResult(method, scored, seconds))
    finally:
        if own_store:
            await store.close()
    settings: dict[str, object] = {
        "top_k": top_k, "split": split, "ignore_identical_ids": ignore_identical_ids,
        "fusion": hybrid.fusion, "rrf_k": hybrid.rrf_k, "alpha": hybrid.alpha,
        "normalization": hybrid.normalization, "fetch_k": hybrid.fetch_k}
    return EvalReport(data.name, len(data.corpus), len(data.queries), embedder.model_id,
                      results, ingest_seconds, settings)
