"""Rerankers: re-score a short candidate list with a slower, better model.

:class:`Reranker` is the protocol; :class:`EmbeddingReranker` is the implementation that works
offline. It is a *bi-encoder* reranker: it embeds the query and each candidate's text with an
:class:`~plait.rag.types.Embedder` and re-scores by cosine similarity. It helps when the
reranking embedder is stronger than the index's (or when the candidates came from keyword
search alone). A *cross-encoder* (a model reading query and passage together, the usual
strongest reranker) needs weights that no package available offline ships, so plait has
none built in; wrap one in a class with an async ``rerank`` method to plug it in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from plait.errors import UsageError
from plait.rag.types import Embedder, Hit

__all__ = ["EmbeddingReranker", "Reranker"]


@runtime_checkable
class Reranker(Protocol):
    """Re-orders candidates for a query. Returns hits best first, each carrying the
    reranker's score; it may drop hits but never invents new ones."""

    async def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]: ...


class EmbeddingReranker:
    """Bi-encoder reranking: ``score = cos(embed(query), embed(hit.text))``.

    ``weight`` blends in the incoming order: ``score = (1 - weight) * cosine +
    weight * (1 - rank / n)`` with the 0-based incoming rank (``weight = 0``, the default, is
    pure cosine)."""

    def __init__(self, embedder: Embedder, *, weight: float = 0.0) -> None:
        if not 0.0 <= weight <= 1.0:
            raise UsageError(f"weight must be within [0, 1], got {weight}")
        self.embedder = embedder
        self.weight = weight

    async def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        q = await self.embedder.embed([query], kind="query")
        d = await self.embedder.embed([h.text for h in hits], kind="document")
        qv = np.asarray(q, dtype=np.float32).reshape(-1)
        dm = np.asarray(d, dtype=np.float32)
        denom = np.linalg.norm(dm, axis=1) * max(float(np.linalg.norm(qv)), 1e-12)
        cos = (dm @ qv) / np.where(denom > 0, denom, 1.0)
        n = len(hits)
        scores = [(1.0 - self.weight) * float(c) + self.weight * (1.0 - r / n)
                  for r, c in enumerate(cos)]
        order = sorted(range(n), key=lambda i: (-scores[i], i))
        return [dataclasses.replace(hits[i], score=scores[i]) for i in order]
