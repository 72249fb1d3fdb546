"""A vector index by integer label: a FAISS HNSW graph plus a small exact "fresh" area.

Labels are dense (``0 .. size-1``) and assigned in order. Labels ``0 .. indexed-1`` are in the
HNSW graph (``IndexHNSWFlat``: inner product on unit vectors for cosine, L2 otherwise); the
labels after them are *fresh*: searchable at once by exact scan, and moved into the graph a
chunk at a time by :meth:`VectorIndex.index_some` (a background thread calls it), so an upsert
never waits for graph insertion (about 0.3 ms per vector at 100K x 384).

Deletes are tombstones (``alive``): a search passes FAISS an ``IDSelectorBitmap`` of the
labels that are alive *and* match the metadata filter, so excluded records never reach the
result (FAISS walks through excluded nodes but collects only allowed ones; the beam widens by
the square root of the excluded share, at most 4x, to keep recall). When the allowed set is
small
(``exact_limit``), where that walk would wade through many excluded nodes, the search is exact
instead: inner products (or L2 distances) over exactly the allowed rows of the graph's own
storage (``fvec_*_by_idx``, no copy), faster and exact. Should a graph walk ever find fewer
than ``k`` allowed labels, the search is repeated exactly.

Not thread-safe by itself: the owner holds one lock around every call.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]
    Mask = npt.NDArray[np.bool_]
    Labels = npt.NDArray[np.int64]

__all__ = ["HnswParams", "VectorIndex", "import_faiss"]

Metric = Literal["cosine", "l2", "ip"]


def import_faiss() -> Any:
    """FAISS, imported on first use (it is in the ``rag`` extra)."""
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the install
        from plait.errors import UsageError

        raise UsageError("the embedded vector store needs faiss: pip install 'plait[rag]'") \
            from exc
    return faiss


class HnswParams:
    """Graph and search settings: ``m`` links per node, ``ef_construction`` the build beam,
    ``ef_search`` the search beam (never below ``k``), ``exact_limit`` the allowed-set size at
    or under which a search is exact instead (10K: at 100K x 384 an exact scan of 10K vectors
    and a filtered graph walk cost the same, and the scan loses nothing); ``compact_ratio``
    and ``compact_min`` when tombstones trigger a rebuild."""

    __slots__ = ("compact_min", "compact_ratio", "ef_construction", "ef_search", "exact_limit",
                 "m")

    def __init__(self, *, m: int = 16, ef_construction: int = 200, ef_search: int = 64,
                 exact_limit: int = 10_000, compact_ratio: float = 0.25,
                 compact_min: int = 1024) -> None:
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.exact_limit = exact_limit
        self.compact_ratio = compact_ratio
        """Rebuild when dead labels exceed this fraction of all labels ..."""
        self.compact_min = compact_min
        """... and this many."""


class VectorIndex:
    def __init__(self, dim: int, metric: Metric, params: HnswParams) -> None:
        faiss = import_faiss()
        self.dim = dim
        self.metric = metric
        self.params = params
        kind = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
        self._index = faiss.IndexHNSWFlat(dim, params.m, kind)
        self._index.hnsw.efConstruction = params.ef_construction
        self._fresh = np.zeros((64, dim), dtype=np.float32)
        self._fresh_start = 0   # row of label ``indexed`` in ``_fresh``
        self._fresh_end = 0
        # Own counters, not FAISS's ntotal (which moves while ``add`` runs): ``size`` changes
        # only in ``append``, so a writer may read it without the lock.
        self._size = 0
        self._indexed = 0
        self._live = 0
        self.alive = np.zeros(1024, dtype=bool)

    # -- size ---------------------------------------------------------------------------------

    @property
    def indexed(self) -> int:
        return self._indexed

    @property
    def pending(self) -> int:
        return self._size - self._indexed

    @property
    def size(self) -> int:
        return self._size

    @property
    def live(self) -> int:
        return self._live

    @property
    def nbytes(self) -> int:
        n = self.indexed
        graph = n * (self.params.m * 2 + 8) * 4  # level-0 links, offsets, levels (estimate)
        return n * self.dim * 4 + graph + self._fresh.nbytes + self.alive.nbytes

    # -- writes -------------------------------------------------------------------------------

    def prepare(self, vectors: Vectors) -> Vectors:
        """Vectors as the index stores them (unit rows for cosine)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.metric != "cosine":
            return vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)

    def append(self, prepared: Vectors, *, alive: bool = True) -> int:
        """Add rows as fresh labels; returns the first new label."""
        first = self.size
        n = len(prepared)
        if self._fresh_end + n > len(self._fresh):
            pending = self._fresh[self._fresh_start:self._fresh_end]
            cap = max(64, 2 * (len(pending) + n))
            grown = np.zeros((cap, self.dim), dtype=np.float32)
            grown[:len(pending)] = pending
            self._fresh, self._fresh_start, self._fresh_end = grown, 0, len(pending)
        self._fresh[self._fresh_end:self._fresh_end + n] = prepared
        self._fresh_end += n
        self._size += n
        if first + n > len(self.alive):
            grown_alive = np.zeros(max(first + n, 2 * len(self.alive)), dtype=bool)
            grown_alive[:first] = self.alive[:first]
            self.alive = grown_alive
        self.alive[first:first + n] = alive
        self._live += n if alive else 0
        return first

    def kill(self, labels: npt.ArrayLike) -> None:
        labels = np.unique(np.asarray(labels, dtype=np.int64))
        self._live -= int(np.count_nonzero(self.alive[labels]))
        self.alive[labels] = False

    def revive(self, labels: npt.ArrayLike) -> None:
        labels = np.unique(np.asarray(labels, dtype=np.int64))
        self._live += len(labels) - int(np.count_nonzero(self.alive[labels]))
        self.alive[labels] = True

    def index_some(self, limit: int) -> int:
        """Move up to ``limit`` fresh rows into the graph; returns how many moved."""
        n = min(limit, self.pending)
        if n:
            chunk = self._fresh[self._fresh_start:self._fresh_start + n]
            self._index.add(np.ascontiguousarray(chunk))
            self._fresh_start += n
            self._indexed += n
            if self._fresh_start == self._fresh_end:
                self._fresh_start = self._fresh_end = 0
            if len(self._fresh) > 4096 and 4 * self.pending < len(self._fresh):
                # a bulk load is (mostly) in the graph: give the big buffer back
                pending = self._fresh[self._fresh_start:self._fresh_end]
                small = np.zeros((max(64, 2 * len(pending)), self.dim), dtype=np.float32)
                small[:len(pending)] = pending
                self._fresh, self._fresh_start, self._fresh_end = small, 0, len(pending)
        return n

    # -- search -------------------------------------------------------------------------------

    def search(self, query: Vectors, k: int, allowed: Mask | None = None
               ) -> tuple[Labels, npt.NDArray[np.float32]]:
        """Labels and scores (higher is better) of the ``k`` best live labels in ``allowed``
        (a mask over labels; None = all). ``query`` is prepared like stored vectors."""
        size, indexed = self.size, self.indexed
        found_labels: list[Labels] = []
        found_scores: list[npt.NDArray[np.float32]] = []
        fresh = self._fresh[self._fresh_start:self._fresh_end]
        if allowed is None and self._live == size:  # no filter, no tombstones: no masks
            if len(fresh):
                found_labels.append(np.arange(indexed, size, dtype=np.int64))
                found_scores.append(self._score(fresh, query))
            graph_mask = None
            n_allowed = indexed
        else:
            if allowed is None:
                mask = self.alive[:size]
            elif self._live == size:  # no tombstones: the filter's mask as it is
                mask = allowed[:size]
            else:
                mask = self.alive[:size] & allowed[:size]
            fresh_mask = mask[indexed:]
            if fresh_mask.any():  # fresh rows: exact
                rows = np.flatnonzero(fresh_mask)
                found_labels.append(rows.astype(np.int64) + indexed)
                found_scores.append(self._score(fresh[rows], query))
            graph_mask = mask[:indexed]
            n_allowed = int(np.count_nonzero(graph_mask))
        if n_allowed:
            if graph_mask is not None and n_allowed <= self.params.exact_limit:
                labels = np.flatnonzero(graph_mask).astype(np.int64)
                found_labels.append(labels)
                found_scores.append(self._exact_stored(labels, query))
            else:
                labels, scores = self._graph_search(query, k, graph_mask, n_allowed)
                if len(labels) < min(k, n_allowed):  # the walk stopped short: go exact
                    labels = (np.arange(indexed, dtype=np.int64) if graph_mask is None
                              else np.flatnonzero(graph_mask).astype(np.int64))
                    scores = self._exact_stored(labels, query)
                found_labels.append(labels)
                found_scores.append(scores)
        if not found_labels:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        all_labels = np.concatenate(found_labels)
        all_scores = np.concatenate(found_scores)
        if len(all_labels) > k:
            part = np.argpartition(-all_scores, k - 1)[:k]
            all_labels, all_scores = all_labels[part], all_scores[part]
        order = np.lexsort((all_labels, -all_scores))
        return all_labels[order], all_scores[order]

    def _score(self, vectors: Vectors, query: Vectors) -> npt.NDArray[np.float32]:
        if self.metric == "l2":
            scores = -np.linalg.norm(vectors - query, axis=1)
        else:
            scores = vectors @ query
        return np.asarray(scores, dtype=np.float32)

    def _exact_stored(self, labels: Labels, query: Vectors) -> npt.NDArray[np.float32]:
        """Scores of ``labels`` against the graph's own vector storage (no copy)."""
        faiss = import_faiss()
        storage = faiss.downcast_index(self._index.storage)
        out = np.empty(len(labels), dtype=np.float32)
        q = np.ascontiguousarray(query, dtype=np.float32)
        ids = np.ascontiguousarray(labels, dtype=np.int64)
        fn = faiss.fvec_L2sqr_by_idx if self.metric == "l2" else faiss.fvec_inner_products_by_idx
        fn(faiss.swig_ptr(out), faiss.swig_ptr(q), storage.get_xb(), faiss.swig_ptr(ids),
           self.dim, 1, len(ids))
        return -np.sqrt(np.maximum(out, 0)) if self.metric == "l2" else out

    def _graph_search(self, query: Vectors, k: int, graph_mask: Mask | None, n_allowed: int
                      ) -> tuple[Labels, npt.NDArray[np.float32]]:
        faiss = import_faiss()
        indexed = self.indexed
        ef = max(self.params.ef_search, k)
        keep_alive: tuple[object, ...] = ()
        if graph_mask is not None and n_allowed < indexed:
            bits = np.packbits(graph_mask, bitorder="little")
            sel = faiss.IDSelectorBitmap(indexed, faiss.swig_ptr(bits))
            keep_alive = (bits, sel)  # FAISS holds raw pointers: keep them alive until done
            # A wider beam for a filter, by the square root of the excluded share (at most 4x):
            # measured on 100K x 384, a 10 % filter at the same beam loses 0.1 of recall@10.
            ef = math.ceil(ef * min(4.0, math.sqrt(indexed / n_allowed)))
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
        else:
            params = faiss.SearchParametersHNSW(efSearch=ef)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        dist, labels = self._index.search(q, min(k, n_allowed), params=params)
        del keep_alive
        ok = labels[0] >= 0
        labels, dist = labels[0][ok], dist[0][ok]
        scores = -np.sqrt(np.maximum(dist, 0)) if self.metric == "l2" else dist
        return labels.astype(np.int64), scores.astype(np.float32)

    # -- persistence --------------------------------------------------------------------------

    def save_graph(self, path: Path) -> None:
        """Write the graph (labels ``0 .. indexed-1``) atomically: temp file, fsync, rename."""
        faiss = import_faiss()
        tmp = path.with_name(f".{path.name}.tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def load_graph(self, path: Path, max_labels: int) -> bool:
        """Use a saved graph when it exists, reads, matches and covers at most ``max_labels``;
        call before appending anything. False when the caller must append every row."""
        faiss = import_faiss()
        try:
            index = faiss.read_index(str(path))
        except (RuntimeError, OSError):
            return False
        # read_index returns the concrete class, and owns it: keep *that* object (a
        # downcast_index wrapper would not own it and dangle once this one is collected).
        if not isinstance(index, faiss.IndexHNSWFlat) or index.d != self.dim or \
                index.ntotal > max_labels or index.metric_type != self._index.metric_type:
            return False
        index.hnsw.efConstruction = self.params.ef_construction
        self._index = index
        n = self._size = self._indexed = int(index.ntotal)
        self.alive = np.zeros(max(1024, 2 * n), dtype=bool)
        self.alive[:n] = True
        self._live = n
        return True
