"""Argument checks and scoring rules shared by plait's own vector stores (memory, embedded).

The rules the conformance suite pins down live here once: a batch is checked whole before
anything is written (later duplicates win), vectors must have the collection's size and be
finite, metadata is flat JSON scalars with finite numbers, and scores are "higher is better":
cosine similarity, the inner product, or minus the Euclidean distance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from plait.errors import DimensionMismatch, UsageError
from plait.rag.types import CollectionInfo, CollectionRef, MetaValue, Record

if TYPE_CHECKING:
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

__all__ = ["METRICS", "Metric", "check_batch", "check_collection_args", "check_metadata",
           "check_vector", "is_expired", "new_info", "normalize", "top_k"]

Metric = Literal["cosine", "l2", "ip"]
METRICS: tuple[Metric, ...] = ("cosine", "l2", "ip")


def check_collection_args(dim: object, metric: object, ttl: float | None) -> None:
    problems = []
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
        problems.append(f"dim must be a positive integer, got {dim!r}")
    if metric not in METRICS:
        problems.append(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if ttl is not None and not (isinstance(ttl, int | float) and math.isfinite(ttl) and ttl > 0):
        problems.append(f"ttl must be a positive number of seconds, got {ttl!r}")
    if problems:
        raise UsageError("; ".join(problems))


def new_info(ref: CollectionRef, *, dim: int, metric: Metric, embedder: str | None,
             ttl: float | None) -> CollectionInfo:
    now = time.time()
    return CollectionInfo(ref=ref, dim=dim, metric=metric, embedder=embedder,
                          expires_at=None if ttl is None else now + ttl, created_at=now)


def is_expired(info: CollectionInfo, now: float | None = None) -> bool:
    return info.expires_at is not None and info.expires_at <= (time.time() if now is None
                                                               else now)


def check_vector(vector: object, dim: int, what: str) -> Vectors:
    """One vector as a float32 row of ``dim`` finite values."""
    arr = np.asarray(vector, dtype=np.float32)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise UsageError(f"{what}: expected one vector of shape ({dim},), got {arr.shape}")
    if arr.shape[0] != dim:
        raise DimensionMismatch(f"{what}: {arr.shape[0]}-dim vector for a collection of "
                                f"{dim} dims", expected=dim, actual=int(arr.shape[0]))
    if not np.isfinite(arr).all():
        raise UsageError(f"{what}: vector has NaN or infinite values")
    return arr


def check_metadata(metadata: Mapping[str, object], what: str) -> dict[str, MetaValue]:
    out: dict[str, MetaValue] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise UsageError(f"{what}: metadata keys are strings, got {key!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{what}: metadata {key!r} is not a finite number")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            raise UsageError(f"{what}: metadata {key!r} is an integer beyond 64 bits")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise UsageError(f"{what}: metadata {key!r} must be a string, number, boolean or "
                             f"null, got {type(value).__name__}")
        out[key] = value
    return out


def check_batch(records: Sequence[Record], dim: int) -> tuple[list[Record], Vectors]:
    """The batch with later duplicates winning, and its vectors as one ``(n, dim)`` matrix.
    Raises before anything is written when any record is wrong."""
    latest: dict[str, Record] = {}
    for r in records:
        if not isinstance(r.id, str) or not r.id:
            raise UsageError(f"record ids are non-empty strings, got {r.id!r}")
        latest.pop(r.id, None)
        latest[r.id] = r
    batch = list(latest.values())
    matrix = np.empty((len(batch), dim), dtype=np.float32)
    for i, r in enumerate(batch):
        what = f"record {r.id!r}"
        if r.vector is None:
            raise UsageError(f"{what} has no vector")
        matrix[i] = check_vector(r.vector, dim, what)
        check_metadata(r.metadata, what)
    return batch, matrix


def normalize(matrix: Vectors) -> tuple[Vectors, npt.NDArray[np.float32]]:
    """Unit rows (zero rows stay zero) and the original norms."""
    norms = np.linalg.norm(matrix, axis=1).astype(np.float32)
    safe = np.where(norms > 0, norms, 1.0).astype(np.float32)
    return (matrix / safe[:, None]).astype(np.float32), norms


def top_k(scores: npt.NDArray[np.floating], k: int,
          tiebreak: npt.NDArray[np.integer] | None = None) -> npt.NDArray[np.intp]:
    """Positions of the ``k`` highest scores, best first (ties: lower ``tiebreak`` first)."""
    n = len(scores)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.intp)
    cand = np.arange(n) if k >= n else np.argpartition(-scores, k - 1)[:k]
    keys = cand if tiebreak is None else tiebreak[cand]
    return cand[np.lexsort((keys, -scores[cand]))]

