"""Retrieval metrics computed as BEIR reports them (BEIR evaluates with ``pytrec_eval``, the
Python binding of ``trec_eval``, and computes MRR itself).

- **Ranking**: a run gives each query ``{doc id: score}``; documents are ranked by score,
  highest first, ties broken by doc id in *descending* string order, as ``trec_eval`` does.
- **nDCG@k** (``ndcg_cut_k``): linear gain, ``DCG = sum_{i=1..k} rel_i / log2(i + 1)``, where
  ``rel_i`` is the qrels grade of the document at rank ``i`` (0 when unjudged), over the ideal
  DCG of the query's judged grades sorted best first and cut at ``k``.
- **Recall@k** (``recall_k``): relevant documents (grade >= 1) in the top ``k`` over all
  relevant documents of the query.
- **MRR@k** (BEIR's own ``mrr``): ``1 / rank`` of the first document with grade > 0 in the top
  ``k``, 0 when none.
- **Averages** are over every query with qrels. A query the run has no results for counts 0
  (``pytrec_eval`` leaves such a query out of its per-query scores, and BEIR then averages over
  the remaining ones, so BEIR can be higher when a method returns nothing for a query; BEIR's
  MRR already divides by all queries).
- ``ignore_identical_ids`` drops a result whose doc id equals its query id before ranking, as
  BEIR's ``EvaluateRetrieval.evaluate`` does when asked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from plait.errors import UsageError

__all__ = ["Qrels", "Run", "evaluate", "mrr_at", "ndcg_at", "rank", "recall_at"]

Qrels = Mapping[str, Mapping[str, int]]
"""``query id -> {doc id: relevance grade}``."""
Run = Mapping[str, Mapping[str, float]]
"""``query id -> {doc id: score}``."""


def rank(scores: Mapping[str, float]) -> list[str]:
    """Doc ids best first, in ``trec_eval``'s order (score descending, then doc id descending)."""
    return sorted(scores, key=lambda d: (scores[d], d), reverse=True)


def ndcg_at(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    if idcg <= 0:
        return 0.0
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    return dcg / idcg


def recall_at(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    relevant = {d for d, r in rels.items() if r >= 1}
    if not relevant:
        return 0.0
    return sum(1 for d in ranking[:k] if d in relevant) / len(relevant)


def mrr_at(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    for i, d in enumerate(ranking[:k]):
        if rels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


_METRICS = {"ndcg": ndcg_at, "recall": recall_at, "mrr": mrr_at}


def evaluate(qrels: Qrels, run: Run, *,
             metrics: Sequence[str] = ("ndcg@10", "recall@10", "recall@100", "mrr@10"),
             ignore_identical_ids: bool = False) -> dict[str, float]:
    """Mean of each metric (``"ndcg@10"``, ``"recall@100"``, ``"mrr@10"``, ...) over the
    queries of ``qrels``. See the module docstring for the exact definitions."""
    parsed: list[tuple[str, int]] = []
    for name in metrics:
        base, _, cut = name.partition("@")
        if base not in _METRICS or not cut.isdigit() or int(cut) < 1:
            raise UsageError(f"unknown metric {name!r}; use ndcg@K, recall@K or mrr@K")
        parsed.append((base, int(cut)))
    totals = dict.fromkeys(metrics, 0.0)
    for qid, rels in qrels.items():
        scores = run.get(qid, {})
        if ignore_identical_ids and qid in scores:
            scores = {d: s for d, s in scores.items() if d != qid}
        ranking = rank(scores)
        for name, (base, depth) in zip(metrics, parsed, strict=True):
            totals[name] += _METRICS[base](ranking, rels, depth)
    n = len(qrels)
    return {name: (total / n if n else 0.0) for name, total in totals.items()}
