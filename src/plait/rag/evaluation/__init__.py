"""Retrieval evaluation on BEIR-layout datasets: a loader, the metrics BEIR reports, and a
runner that scores vector, BM25 and hybrid retrieval (``plait eval retrieval DIR``)."""

from plait.rag.evaluation.beir import BeirDataset, BeirDoc, load_beir
from plait.rag.evaluation.metrics import evaluate, mrr_at, ndcg_at, rank, recall_at
from plait.rag.evaluation.runner import (
    DEFAULT_METRICS,
    METHODS,
    EvalReport,
    HybridSettings,
    MethodResult,
    corpus_documents,
    evaluate_retrieval,
)

__all__ = [
    "DEFAULT_METRICS",
    "METHODS",
    "BeirDataset",
    "BeirDoc",
    "EvalReport",
    "HybridSettings",
    "MethodResult",
    "corpus_documents",
    "evaluate",
    "evaluate_retrieval",
    "load_beir",
    "mrr_at",
    "ndcg_at",
    "rank",
    "recall_at",
]
