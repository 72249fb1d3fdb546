"""Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998): pick results that are
relevant to the query and unlike the ones already picked.

At each step the candidate ``d`` maximising ::

    lambda_ * relevance(d) - (1 - lambda_) * max over picked p of cos(d, p)

is picked next. ``lambda_ = 1`` keeps the relevance order; ``lambda_ = 0`` only spreads out.
``relevance`` is given by the caller: the retriever passes the cosine similarity to the
query in vector mode, and the min-max normalized fused score in keyword and hybrid modes (so
the keyword signal still counts), both on the scale of a cosine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from plait.errors import UsageError
from plait.rag.types import Hit

__all__ = ["mmr_select"]


def mmr_select(hits: Sequence[Hit], *, relevance: Sequence[float], k: int,
               lambda_: float = 0.5) -> list[Hit]:
    """The ``k`` hits MMR picks, in pick order, each keeping its own score.

    Every hit needs its ``vector`` (search with ``with_vectors=True``)."""
    if not 0.0 <= lambda_ <= 1.0:
        raise UsageError(f"MMR lambda_ must be within [0, 1], got {lambda_}")
    if len(relevance) != len(hits):
        raise UsageError(f"{len(relevance)} relevance values for {len(hits)} hits")
    if k <= 0 or not hits:
        return []
    missing = [h.id for h in hits if h.vector is None]
    if missing:
        raise UsageError(f"MMR needs the hits' vectors; missing for {missing[:3]}")
    mat = np.stack([np.asarray(h.vector, dtype=np.float32).reshape(-1) for h in hits])
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    mat = (mat / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    sim = mat @ mat.T
    rel = np.asarray(relevance, dtype=np.float64)
    n = len(hits)
    picked: list[int] = []
    max_sim = np.full(n, -np.inf)
    free = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        mmr = lambda_ * rel - (1.0 - lambda_) * penalty
        mmr[~free] = -np.inf
        best = int(np.argmax(mmr))  # ties: the earlier (better ranked) candidate
        picked.append(best)
        free[best] = False
        max_sim = np.maximum(max_sim, sim[:, best])
    return [hits[i] for i in picked]
