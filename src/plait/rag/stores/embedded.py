"""The embedded vector store: plait's default, on disk in one directory, no server.

::

    store = EmbeddedVectorStore("data/vectors")
    await store.create_collection(CollectionRef("acme", "docs"), dim=384)
    ...
    await store.close()

**Layout.** ``<path>/tenants/<tenant>/<namespace>/<name>/`` holds one collection (directory
names are a readable slug plus a hash of the exact name, so any string is safe): its records
and metadata in SQLite (WAL), its vectors in an append-only float32 log, an HNSW graph
snapshot (FAISS) and a BM25 snapshot; see :mod:`plait.rag.stores.collection_dir`. A tenant's
collections live under its own directory and every lookup goes through the full
``(tenant, namespace, name)``, so no operation can reach another tenant's records.

**Search.** HNSW (FAISS ``IndexHNSWFlat``, inner product on unit vectors for cosine) with new
vectors searchable at once by exact scan until a background thread has linked them into the
graph. A metadata filter becomes a bitmap of allowed labels (columnar metadata in memory)
handed to FAISS, so filtering happens inside the graph walk; a selective filter switches to an
exact scan of exactly the allowed vectors. Deletes are tombstones until they pass
``compact_ratio`` of the collection, then the background thread rebuilds the graph.

**Keyword search** is plait's BM25 (:mod:`plait.rag.bm25`) over the records' text.

**Durability.** Every write is durable when its call returns (SQLite commit after the vectors
are flushed); the graph and BM25 snapshots are written on :meth:`close` and from time to time,
and rebuilt on open if missing. One process owns a store directory at a time (a lock file
says so). Searches run inline on the event loop (well under a millisecond); writes, loads and
disk-heavy work run in worker threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plait.errors import CollectionExists, CollectionNotFound, DimensionMismatch, UsageError
from plait.rag.stores.checks import (
    Metric,
    check_batch,
    check_collection_args,
    check_vector,
    is_expired,
    new_info,
)
from plait.rag.stores.collection_dir import CollectionDir, read_info, write_info
from plait.rag.stores.hnsw import HnswParams
from plait.rag.stores.indexer import BackgroundIndexer
from plait.rag.types import CollectionInfo, CollectionRef, CollectionStats, Hit, Record

if TYPE_CHECKING:
    import numpy.typing as npt

    from plait.rag.filters import Filter

    Vectors = npt.NDArray[np.float32]

__all__ = ["EmbeddedVectorStore"]

log = logging.getLogger(__name__)


def _slug(part: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", part)[:32]
    return f"{readable}-{hashlib.sha256(part.encode()).hexdigest()[:16]}"


class _AllowedIds:
    """The ids of a label mask, as a set-like view: nothing is built up front. Safe to use
    while writers go on: labels past the mask are not in it, and the id list only grows."""

    def __init__(self, mask: npt.NDArray[np.bool_], ids: list[str | None],
                 label_of: dict[str, int]) -> None:
        self._mask, self._ids, self._label_of = mask, ids, label_of
        self._n = int(np.count_nonzero(mask))

    def __contains__(self, rid: object) -> bool:
        lab = self._label_of.get(rid) if isinstance(rid, str) else None
        return lab is not None and lab < len(self._mask) and bool(self._mask[lab])

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[str]:
        ids = self._ids
        return (rid for lab in np.flatnonzero(self._mask).tolist()
                if (rid := ids[lab]) is not None)


class EmbeddedVectorStore:
    """A persistent :class:`~plait.rag.types.VectorStore` in one directory (HNSW + BM25).

    ``m``, ``ef_construction``, ``ef_search`` and ``exact_limit`` tune the graph
    (see :class:`~plait.rag.stores.hnsw.HnswParams`); ``compact_ratio`` / ``compact_min``
    when deletes trigger a rebuild; ``snapshot_every`` how often (seconds) the background
    thread saves changed snapshots."""

    def __init__(self, path: str | Path, *, m: int = 16, ef_construction: int = 200,
                 ef_search: int = 64, exact_limit: int = 10_000,
                 compact_ratio: float = 0.25, compact_min: int = 1024,
                 snapshot_every: float = 300.0) -> None:
        self.path = Path(path)
        self.params = HnswParams(m=m, ef_construction=ef_construction, ef_search=ef_search,
                                 exact_limit=exact_limit,
                                 compact_ratio=compact_ratio, compact_min=compact_min)
        (self.path / "tenants").mkdir(parents=True, exist_ok=True)
        self._lock_file = _lock_dir(self.path)
        self._colls: dict[CollectionRef, CollectionDir] = {}
        self._catalog = threading.RLock()
        self._closed = False
        self._indexer = BackgroundIndexer(
            lambda: [c for c in list(self._colls.values()) if not c.closed],
            name=f"plait-vectors:{self.path.name}", snapshot_every=snapshot_every)

    # -- collections -------------------------------------------------------------------------

    def _dir(self, ref: CollectionRef) -> Path:
        return (self.path / "tenants" / _slug(ref.tenant) / _slug(ref.namespace)
                / _slug(ref.name))

    def _open_sync(self, ref: CollectionRef) -> CollectionDir | None:
        """The loaded collection, loading it first; None when absent (expired included)."""
        with self._catalog:
            if self._closed:
                raise UsageError(f"the vector store at {self.path} is closed")
            coll = self._colls.get(ref)
            if coll is None:
                path = self._dir(ref)
                info = read_info(path)
                if info is None or info.ref != ref:
                    return None
                coll = self._colls[ref] = CollectionDir(path, info, self.params)
                self._indexer.kick()
            return None if is_expired(coll.info) else coll

    async def _need(self, ref: CollectionRef) -> CollectionDir:
        coll = self._colls.get(ref)
        if coll is None or coll.closed or is_expired(coll.info):
            coll = await asyncio.to_thread(self._open_sync, ref)
        if coll is None:
            raise CollectionNotFound(ref)
        return coll

    async def create_collection(self, ref: CollectionRef, *, dim: int, metric: Metric = "cosine",
                                embedder: str | None = None, ttl: float | None = None,
                                exist_ok: bool = False) -> CollectionInfo:
        check_collection_args(dim, metric, ttl)
        return await asyncio.to_thread(self._create_sync, ref, dim, metric, embedder, ttl,
                                       exist_ok)

    def _create_sync(self, ref: CollectionRef, dim: int, metric: Metric, embedder: str | None,
                     ttl: float | None, exist_ok: bool) -> CollectionInfo:
        with self._catalog:
            existing = self._open_sync(ref)
            if existing is not None:
                if not exist_ok:
                    raise CollectionExists(ref)
                if existing.info.dim != dim:
                    raise DimensionMismatch(
                        f"collection {ref} holds {existing.info.dim}-dim vectors, not {dim}",
                        expected=existing.info.dim, actual=dim)
                return existing.info
            self._remove_sync(ref)  # an expired one, or debris of an interrupted create
            info = new_info(ref, dim=dim, metric=metric, embedder=embedder, ttl=ttl)
            final = self._dir(ref)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.parent / f".creating-{uuid.uuid4().hex}"
            tmp.mkdir()
            CollectionDir(tmp, info, self.params).close(persist=False)
            write_info(tmp, info)
            tmp.rename(final)
            self._colls[ref] = CollectionDir(final, info, self.params)
            return info

    def _remove_sync(self, ref: CollectionRef) -> bool:
        """Forget and delete a collection's directory; True when it was live."""
        with self._catalog:
            coll = self._colls.pop(ref, None)
            path = self._dir(ref)
            info = coll.info if coll is not None else read_info(path)
            if coll is not None:
                coll.close(persist=False)
            if path.exists():
                trash = self.path / "trash"
                trash.mkdir(exist_ok=True)
                gone = trash / uuid.uuid4().hex
                path.rename(gone)
                shutil.rmtree(gone, ignore_errors=True)
            return info is not None and info.ref == ref and not is_expired(info)

    async def get_collection(self, ref: CollectionRef) -> CollectionInfo | None:
        coll = self._colls.get(ref)
        if coll is not None and not coll.closed:
            return None if is_expired(coll.info) else coll.info
        info = await asyncio.to_thread(read_info, self._dir(ref))
        return None if info is None or info.ref != ref or is_expired(info) else info

    async def list_collections(self, tenant: str) -> list[CollectionInfo]:
        return await asyncio.to_thread(self._list_sync, tenant)

    def _list_sync(self, tenant: str | None) -> list[CollectionInfo]:
        root = self.path / "tenants"
        pattern = f"{_slug(tenant)}/*/*" if tenant is not None else "*/*/*"
        found = [info for path in root.glob(pattern) if not path.name.startswith(".")
                 and (info := read_info(path)) is not None
                 and (tenant is None or info.ref.tenant == tenant)]
        if tenant is not None:
            found = [i for i in found if not is_expired(i)]
        return sorted(found, key=lambda i: (i.ref.namespace, i.ref.name))

    async def drop_collection(self, ref: CollectionRef) -> bool:
        coll = self._colls.get(ref)
        if coll is None:
            return await asyncio.to_thread(self._remove_sync, ref)
        async with coll.write_lock:
            return await asyncio.to_thread(self._remove_sync, ref)

    async def expire(self, now: float | None = None) -> int:
        def run() -> int:
            with self._catalog:
                gone = [i.ref for i in self._list_sync(None) if is_expired(i, now)]
                for ref in gone:
                    self._remove_sync(ref)
                return len(gone)

        return await asyncio.to_thread(run)

    # -- records -----------------------------------------------------------------------------

    async def upsert(self, ref: CollectionRef, records: Sequence[Record]) -> None:
        coll = await self._need(ref)
        if not records:
            return

        def run() -> None:  # checking a big batch takes a while too: all of it off the loop
            batch, matrix = check_batch(records, coll.info.dim)
            self._write(coll, coll.upsert, batch, matrix)

        async with coll.write_lock:
            await asyncio.to_thread(run)
        self._indexer.kick()

    async def delete(self, ref: CollectionRef, ids: Sequence[str] | None = None, *,
                     where: Filter | None = None) -> int:
        coll = await self._need(ref)
        if ids is None and where is None:
            raise UsageError("delete needs ids=, where= or both")
        if ids is not None and not ids:
            return 0
        async with coll.write_lock:
            n: int = await asyncio.to_thread(self._write, coll, coll.delete, ids, where)
        self._indexer.kick()
        return n

    def _write(self, coll: CollectionDir, fn: Any, *args: Any) -> Any:
        if coll.closed:  # dropped (or the store closed) while this write waited
            raise CollectionNotFound(coll.info.ref)
        return fn(*args)

    async def get(self, ref: CollectionRef, ids: Sequence[str], *,
                  with_vectors: bool = False) -> list[Record]:
        coll = await self._need(ref)
        wanted = list(dict.fromkeys(ids))
        rows = coll.fetch(wanted)
        return self._records(coll, [rows[i] for i in wanted if i in rows], with_vectors)

    def _records(self, coll: CollectionDir, rows: list[tuple[str, str, str, str, str]],
                 with_vectors: bool) -> list[Record]:
        vectors: list[Vectors | None] = [None] * len(rows)
        if with_vectors:
            with coll.state:
                labels = [coll.label_of.get(r[0], -1) for r in rows]
                found = coll.read_vectors([lab for lab in labels if lab >= 0])
            it = iter(found)
            vectors = [next(it) if lab >= 0 else None for lab in labels]
        return [Record(id=r[0], doc_id=r[1], doc_hash=r[2], text=r[3], metadata=_meta(r[4]),
                       vector=v) for r, v in zip(rows, vectors, strict=True)]

    async def search(self, ref: CollectionRef, vector: Vectors, *, k: int = 10,
                     where: Filter | None = None, with_vectors: bool = False) -> list[Hit]:
        coll = await self._need(ref)
        query = check_vector(vector, coll.info.dim, "query")
        if k <= 0:
            return []
        query = coll.index.prepare(query[None, :])[0]
        coll.readers += 1
        try:
            with coll.state:
                allowed = None if where is None else coll.columns.mask(where, coll.index.size)
                labels, scores = coll.index.search(query, k, allowed)
                label_list = labels.tolist()
                ids = [coll.ids[lab] for lab in label_list]
                vectors = coll.read_vectors(label_list) if with_vectors else None
        finally:
            coll.readers -= 1
        rows = coll.fetch_hits(label_list, ids)
        hits = []
        for pos, (rid, score) in enumerate(zip(ids, scores.tolist(), strict=True)):
            row = rows.get(rid) if rid is not None else None
            if row is None:  # deleted while we read
                continue
            hits.append(Hit(id=row[0], score=float(score), text=row[3], doc_id=row[1],
                            metadata=_meta(row[4]),
                            vector=None if vectors is None else vectors[pos]))
        return hits

    async def keyword_search(self, ref: CollectionRef, query: str, *, k: int = 10,
                             where: Filter | None = None) -> list[Hit]:
        coll = await self._need(ref)
        if k <= 0:
            return []
        allowed = None
        if where is not None:
            with coll.state:
                size = coll.index.size
                mask = coll.columns.mask(where, size) & coll.index.alive[:size]
                allowed = _AllowedIds(mask, coll.ids, coll.label_of)
        found = coll.bm25.search(query, k, allowed=allowed)
        rows = coll.fetch([rid for rid, _ in found])
        return [Hit(id=rid, score=score, text=rows[rid][3], doc_id=rows[rid][1],
                    metadata=_meta(rows[rid][4])) for rid, score in found if rid in rows]

    async def doc_hashes(self, ref: CollectionRef) -> dict[str, str]:
        coll = await self._need(ref)
        return coll.doc_hashes()

    async def scan(self, ref: CollectionRef, *, batch: int = 256,
                   with_vectors: bool = False) -> AsyncIterator[list[Record]]:
        """Every record in id order (keyset pages; records written during a scan may or may
        not be seen, none twice)."""
        coll = await self._need(ref)
        if batch <= 0:
            raise UsageError(f"batch must be positive, got {batch}")
        after: str | None = None
        while True:
            if coll.closed:
                return
            rows = coll.page(after, batch)
            if not rows:
                return
            yield self._records(coll, rows, with_vectors)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    async def stats(self, ref: CollectionRef) -> CollectionStats:
        coll = await self._need(ref)
        count, docs = coll.counts()
        return CollectionStats(ref=ref, count=count, documents=docs, dim=coll.info.dim,
                               embedder=coll.info.embedder, bytes=coll.disk_bytes())

    async def settle(self, timeout: float | None = None) -> None:
        """Wait until the background thread has linked every new vector into its graph and
        finished due compactions (searches never need this; benchmarks and tests do)."""
        async with asyncio.timeout(timeout):
            while any(c.index.pending or c.compact_due for c in list(self._colls.values())
                      if not c.closed):
                self._indexer.kick()
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Stop the background thread, write every snapshot and release the directory."""
        if self._closed:
            return
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        self._indexer.stop()
        with self._catalog:
            self._closed = True
            for coll in self._colls.values():
                coll.close()
            self._colls.clear()
        self._lock_file.close()


def _meta(text: str) -> dict[str, Any]:
    if text == "{}":
        return {}
    value: dict[str, Any] = json.loads(text)
    return value


def _lock_dir(path: Path) -> Any:
    """Hold an exclusive lock on ``path/.lock`` for the store's lifetime (POSIX)."""
    fh = open(path / ".lock", "a+b")  # noqa: SIM115 - closed by close()
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.close()
        raise UsageError(f"the vector store at {path} is open elsewhere (another process or "
                         "another EmbeddedVectorStore); close that one first") from exc
    return fh
