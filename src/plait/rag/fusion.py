"""Rank fusion: combine several ranked hit lists (vector, keyword) into one.

Two methods, both pure functions over :class:`~plait.rag.types.Hit` lists:

- **Reciprocal rank fusion** (Cormack, Clarke & Buettcher, SIGIR 2009)::

      score(d) = sum over lists L containing d of  weight(L) / (k + rank_L(d))

  with 1-based ranks and ``k = 60`` by default. It uses ranks only, so it needs no score
  calibration between a cosine similarity and a BM25 score.

- **Weighted (convex) fusion** of normalized scores::

      score(d) = alpha * norm(vector score of d) + (1 - alpha) * norm(keyword score of d)

  Each list's scores are normalized on their own, min-max to ``[0, 1]`` by default
  (``"max"`` divides by the list's best score instead); a document absent from a list gets 0
  from it. ``alpha = 1`` is pure vector search, ``alpha = 0`` pure keyword search.

Ties are broken deterministically: the better best rank in any list first, then the id.
The fused :class:`Hit` keeps the text, metadata and (when present) vector of the first list
that held the document and carries the fused score.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from plait.errors import UsageError
from plait.rag.types import Hit

__all__ = ["Normalization", "normalize_scores", "rrf_fuse", "weighted_fuse"]

Normalization = Literal["minmax", "max"]


def _merge(lists: Sequence[Sequence[Hit]],
           scores: dict[str, float]) -> list[Hit]:
    """Hits for the ids of ``scores``, best fused score first, deterministic ties."""
    first: dict[str, Hit] = {}
    best_rank: dict[str, int] = {}
    for hits in lists:
        for rank, hit in enumerate(hits):
            if hit.id not in first:
                first[hit.id] = hit
            elif first[hit.id].vector is None and hit.vector is not None:
                first[hit.id] = dataclasses.replace(first[hit.id], vector=hit.vector)
            best_rank[hit.id] = min(best_rank.get(hit.id, rank), rank)
    order = sorted(scores, key=lambda i: (-scores[i], best_rank[i], i))
    return [dataclasses.replace(first[i], score=scores[i]) for i in order]


def rrf_fuse(lists: Sequence[Sequence[Hit]], *, k: float = 60.0,
             weights: Sequence[float] | None = None) -> list[Hit]:
    """Reciprocal rank fusion of ranked lists (each best first). See the module docstring."""
    if k < 0:
        raise UsageError(f"RRF k must be >= 0, got {k}")
    if weights is None:
        weights = [1.0] * len(lists)
    if len(weights) != len(lists):
        raise UsageError(f"{len(weights)} weights for {len(lists)} ranked lists")
    scores: dict[str, float] = {}
    for hits, weight in zip(lists, weights, strict=True):
        seen: set[str] = set()
        for rank, hit in enumerate(hits, start=1):
            if hit.id in seen:  # a list naming an id twice counts it once, at its best rank
                continue
            seen.add(hit.id)
            scores[hit.id] = scores.get(hit.id, 0.0) + weight / (k + rank)
    return _merge(lists, scores)


def normalize_scores(hits: Sequence[Hit], *,
                     method: Normalization = "minmax") -> dict[str, float]:
    """``id -> normalized score`` for one list. Min-max maps the best to 1 and the worst to 0
    (a list whose scores are all equal maps to 1); ``"max"`` divides by the best score."""
    if not hits:
        return {}
    values = [h.score for h in hits]
    hi, lo = max(values), min(values)
    out: dict[str, float] = {}
    for h in hits:
        if method == "minmax":
            v = 1.0 if hi == lo else (h.score - lo) / (hi - lo)
        elif method == "max":
            v = h.score / hi if hi > 0 else 0.0
        else:
            raise UsageError(f"unknown normalization {method!r}; use 'minmax' or 'max'")
        out[h.id] = max(out.get(h.id, 0.0), v)
    return out


def weighted_fuse(vector_hits: Sequence[Hit], keyword_hits: Sequence[Hit], *,
                  alpha: float = 0.5, normalization: Normalization = "minmax") -> list[Hit]:
    """``alpha * norm(vector) + (1 - alpha) * norm(keyword)``. See the module docstring."""
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"alpha must be within [0, 1], got {alpha}")
    vec = normalize_scores(vector_hits, method=normalization)
    kw = normalize_scores(keyword_hits, method=normalization)
    scores = {i: alpha * vec.get(i, 0.0) + (1.0 - alpha) * kw.get(i, 0.0)
              for i in {**vec, **kw}}
    return _merge([vector_hits, keyword_hits], scores)
