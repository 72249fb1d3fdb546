"""A model-free embedder for tests and for machines without torch: feature hashing.

Each word of a text is hashed into one of ``dim`` signed buckets and the sum is scaled to unit
length, so the same text always gives the same vector and texts sharing words are close. It
knows nothing of meaning (synonyms are strangers); it is the same function as the mock LLM
server's embedding endpoints (:func:`plait.testing.hash_embedding`), so a hashed collection and
a mock provider agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from plait.errors import UsageError
from plait.rag.embeddings.base import EmbedKind, check_texts

if TYPE_CHECKING:
    from plait.rag.types import Vectors

__all__ = ["HashEmbedder"]

_WORD: Final = re.compile(r"\w+")
_INLINE: Final = 64
"""Up to this many texts are hashed on the event loop; more go to a worker thread."""


class HashEmbedder:
    """``hash:DIM`` (384 by default): deterministic, instant, meaning-blind."""

    def __init__(self, dim: int = 384) -> None:
        if dim < 1:
            raise UsageError("dim must be >= 1")
        self._dim = dim

    def __repr__(self) -> str:
        return f"HashEmbedder(dim={self._dim})"

    @property
    def model_id(self) -> str:
        return f"hash:{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "document") -> Vectors:
        items = check_texts(texts, kind)
        if len(items) <= _INLINE:
            return self.embed_now(items)
        return await asyncio.to_thread(self.embed_now, items)

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        """The vectors, computed in the calling thread."""
        out = np.zeros((len(texts), self._dim), dtype=np.float64)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()) or [text]:
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:6], "big") % self._dim
                out[row, bucket] += 1.0 if digest[7] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:  # the signs cancelled out: fall back to the text's own hash
                whole = hashlib.blake2b(text.encode()).digest()
                out[row, int.from_bytes(whole[:6], "big") % self._dim] = 1.0
            else:
                out[row] /= norm
        return out.astype(np.float32)

    async def aclose(self) -> None:
        """Nothing to release."""
