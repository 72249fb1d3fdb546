"""Deterministic embeddings for the mock LLM server's embedding endpoints.

:func:`hash_embedding` hashes each word of the text into one of ``dims`` signed buckets
(feature hashing) and normalises the sum: the same text always gives the same unit vector, and
texts that share words have a positive cosine similarity, so retrieval tests can rank by
meaning-ish overlap without a model.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from collections.abc import Sequence
from typing import Final

__all__ = ["DEFAULT_DIMS", "encode_base64", "hash_embedding"]

DEFAULT_DIMS: Final = 384
_WORD: Final = re.compile(r"\w+")


def hash_embedding(text: str, dims: int = DEFAULT_DIMS) -> list[float]:
    """A unit vector of ``dims`` floats from the words of ``text`` (stable across runs)."""
    if dims < 1:
        raise ValueError("dims must be >= 1")
    vector = [0.0] * dims
    words = _WORD.findall(text.lower()) or [text]
    for word in words:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:6], "big") % dims
        vector[bucket] += 1.0 if digest[7] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:  # the signs cancelled out: fall back to the text's own hash
        vector[int.from_bytes(hashlib.blake2b(text.encode()).digest()[:6], "big") % dims] = 1.0
        norm = 1.0
    return [round(v / norm, 6) for v in vector]


def encode_base64(vector: Sequence[float]) -> str:
    """Little-endian float32, base64: OpenAI's ``encoding_format: "base64"``."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
