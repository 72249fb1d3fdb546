"""One collection of the embedded store: its directory on disk and its in-memory indexes.

Files (``gen`` changes only when a compaction renumbers the labels)::

    collection.json        the CollectionInfo (written once, at creation)
    records.sqlite3        id, label, doc_id, doc_hash, text, metadata (JSON); meta: gen, seq
    vectors.<gen>.f32      every vector ever written in this generation, raw float32, row = label
    graph.<gen>.faiss      HNSW snapshot of labels 0 .. n-1 (any n; the rest is re-indexed)
    bm25.<gen>.<seq>.npz   BM25 snapshot, valid when ``seq`` equals the database's

Write order makes every crash recoverable: vectors are appended (and flushed) before the
SQLite transaction that makes their rows live; SQLite is the source of truth for which labels
live; the graph and BM25 snapshots are only caches, rebuilt from the log and the database when
missing or stale. Snapshots and new generations are written to a temp file and renamed.

Locks: ``mutex`` serializes writers (worker threads) and compaction; ``state`` guards the
in-memory indexes for the short moments searches read them and writers publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from plait.rag.bm25 import BM25Index
from plait.rag.stores.columns import MetadataColumns
from plait.rag.stores.hnsw import HnswParams, VectorIndex
from plait.rag.types import CollectionInfo, CollectionRef, Metadata, Record

if TYPE_CHECKING:
    import numpy.typing as npt

    from plait.rag.filters import Filter

    Vectors = npt.NDArray[np.float32]

__all__ = ["CollectionDir", "read_info", "write_info"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    label    INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    doc_id   TEXT NOT NULL,
    doc_hash TEXT NOT NULL,
    text     TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_doc ON records (doc_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('gen', 0), ('seq', 0);
"""


def write_info(path: Path, info: CollectionInfo) -> None:
    ref = info.ref
    data = {"tenant": ref.tenant, "namespace": ref.namespace, "name": ref.name, "dim": info.dim,
            "metric": info.metric, "embedder": info.embedder, "expires_at": info.expires_at,
            "created_at": info.created_at}
    _atomic_write(path / "collection.json", json.dumps(data).encode())


def read_info(path: Path) -> CollectionInfo | None:
    try:
        data = json.loads((path / "collection.json").read_text())
    except (OSError, ValueError):
        return None
    return CollectionInfo(ref=CollectionRef(data["tenant"], data["name"], data["namespace"]),
                          dim=data["dim"], metric=data["metric"], embedder=data["embedder"],
                          expires_at=data["expires_at"], created_at=data["created_at"])


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class CollectionDir:
    def __init__(self, path: Path, info: CollectionInfo, params: HnswParams) -> None:
        self.path = path
        self.info = info
        self.params = params
        self.mutex = threading.RLock()
        self.state = threading.RLock()
        self.write_lock = asyncio.Lock()
        self.closed = False
        self.compact_due = False
        self.readers = 0
        """Searches waiting for or holding ``state``: the indexer makes way for them."""
        db = path / "records.sqlite3"
        self._writer = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=NORMAL")
        self._writer.executescript(_SCHEMA)
        self._reader = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self._reader.execute("PRAGMA query_only=1")
        self.gen = self._meta("gen")
        self.seq = self._meta("seq")
        self._row_bytes = 4 * info.dim
        self._log = open(self._vectors_path(self.gen), "a+b")  # noqa: SIM115 - closed in close()
        self.index = VectorIndex(info.dim, info.metric, params)
        self.columns = MetadataColumns()
        self.ids: list[str | None] = []
        self.label_of: dict[str, int] = {}
        self.bm25 = BM25Index()
        self._saved_graph = -1
        self._saved_seq = -1
        self._load()

    def _meta(self, key: str) -> int:
        row = self._writer.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def _vectors_path(self, gen: int) -> Path:
        return self.path / f"vectors.{gen}.f32"

    def _graph_path(self, gen: int) -> Path:
        return self.path / f"graph.{gen}.faiss"

    # -- load ---------------------------------------------------------------------------------

    def _load(self) -> None:
        size = self._log.seek(0, os.SEEK_END)
        rows = size // self._row_bytes
        if size != rows * self._row_bytes:  # a torn append: its rows never went live
            self._log.truncate(rows * self._row_bytes)
        indexed = self.index.indexed if self.index.load_graph(self._graph_path(self.gen),
                                                              rows) else 0
        self._saved_graph = indexed
        for start in range(indexed, rows, 8192):
            stop = min(rows, start + 8192)
            self.index.append(self.index.prepare(self._read_rows(start, stop)), alive=False)
        self.index.kill(np.arange(indexed))
        self.ids = [None] * rows
        alive: list[int] = []
        metas: list[Metadata] = []
        for label, rid, meta in self._reader.execute(
                "SELECT label, id, metadata FROM records ORDER BY label"):
            if label >= rows:  # cannot happen with the write order; never trust it blindly
                log.warning("record %r of %s has no vector; ignored", rid, self.info.ref)
                continue
            self.ids[label] = rid
            self.label_of[rid] = label
            alive.append(label)
            metas.append(json.loads(meta))
        self.index.revive(alive)
        self.columns.set_at(alive, metas)
        snapshot = self.path / f"bm25.{self.gen}.{self.seq}.npz"
        if snapshot.exists():
            with contextlib.suppress(Exception):
                self.bm25 = BM25Index.load(snapshot)
                self._saved_seq = self.seq
        if self._saved_seq != self.seq or len(self.bm25) != len(self.label_of):
            self.bm25 = BM25Index()
            self.bm25.add_many(self._reader.execute("SELECT id, text FROM records"))
        self._check_compaction()

    def _read_rows(self, start: int, stop: int) -> Vectors:
        self._log.flush()
        data = os.pread(self._log.fileno(), (stop - start) * self._row_bytes,
                        start * self._row_bytes)
        return np.frombuffer(data, dtype=np.float32).reshape(stop - start, self.info.dim)

    def read_vectors(self, labels: Sequence[int]) -> list[Vectors]:
        """Raw vectors of labels (call under ``state``: labels are of the current gen)."""
        fd = self._log.fileno()
        rb = self._row_bytes
        return [np.frombuffer(os.pread(fd, rb, lab * rb), dtype=np.float32).copy()
                for lab in labels]

    # -- writes (under ``mutex``, in a worker thread) -------------------------------------------

    def upsert(self, batch: list[Record], matrix: Vectors) -> None:
        with self.mutex:
            prepared = self.index.prepare(matrix)
            first = self.index.size
            old = [self.label_of[r.id] for r in batch if r.id in self.label_of]
            self._log.seek(0, os.SEEK_END)
            self._log.write(np.ascontiguousarray(matrix, dtype=np.float32).data)
            self._log.flush()
            rows = [(first + i, r.id, r.doc_id, r.doc_hash, r.text,
                     json.dumps(dict(r.metadata), ensure_ascii=False, allow_nan=False))
                    for i, r in enumerate(batch)]
            with self._transaction() as db:
                db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)", rows)
            self.bm25.add_many((r.id, r.text) for r in batch)
            with self.state:
                self.index.append(prepared)
                self.index.kill(old)
                for lab in old:
                    self.ids[lab] = None
                self.columns.set_many(first, [r.metadata for r in batch])
                for i, r in enumerate(batch):
                    self.ids.append(r.id)
                    self.label_of[r.id] = first + i
            self._check_compaction()

    def delete(self, ids: Sequence[str] | None, where: Filter | None) -> int:
        with self.mutex:
            with self.state:
                size = self.index.size
                if ids is None:
                    labels = np.flatnonzero(self.index.alive[:size])
                else:
                    picked = [self.label_of[i] for i in dict.fromkeys(ids) if i in self.label_of]
                    labels = np.array(picked, dtype=np.int64)
                if where is not None and len(labels):
                    labels = labels[self.columns.mask(where, size)[labels]]
                gone = [self.ids[lab] for lab in labels.tolist()]
                self.index.kill(labels)
                for lab, rid in zip(labels.tolist(), gone, strict=True):
                    self.ids[lab] = None
                    del self.label_of[rid]  # type: ignore[arg-type]
            if not gone:
                return 0
            self.bm25.remove_many(gone)  # type: ignore[arg-type]
            with self._transaction() as db:
                db.executemany("DELETE FROM records WHERE label = ?",
                               [(lab,) for lab in labels.tolist()])
            self._check_compaction()
            return len(gone)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            self.seq += 1
            db.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (self.seq,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self.seq = self._meta("seq")
            raise

    def _check_compaction(self) -> None:
        size = self.index.size
        dead = size - self.index.live
        self.compact_due = dead > max(self.params.compact_min, self.params.compact_ratio * size)

    # -- reads (inline) -----------------------------------------------------------------------

    def fetch(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str, str, str]]:
        """``id -> (id, doc_id, doc_hash, text, metadata JSON)`` of the ids that exist."""
        out: dict[str, tuple[str, str, str, str, str]] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            for row in self._reader.execute(
                    "SELECT id, doc_id, doc_hash, text, metadata FROM records "
                    f"WHERE id IN ({marks})", part):
                out[row[0]] = row
        return out

    def fetch_hits(self, labels: Sequence[int], ids: Sequence[str | None]
                   ) -> dict[str, tuple[str, str, str, str, str]]:
        """Like :meth:`fetch` for search results: by label (a rowid lookup, twice as fast as
        by id), each row checked against the id the label had when the search ran; rows whose
        label moved meanwhile (a compaction) are fetched again by id."""
        expected = {lab: rid for lab, rid in zip(labels, ids, strict=True) if rid is not None}
        if not expected:
            return {}
        marks = ",".join("?" * len(expected))
        out: dict[str, tuple[str, str, str, str, str]] = {}
        for row in self._reader.execute(
                "SELECT label, id, doc_id, doc_hash, text, metadata FROM records "
                f"WHERE label IN ({marks})", list(expected)):
            if expected.get(row[0]) == row[1]:
                out[row[1]] = row[1:]
        missing = [rid for rid in expected.values() if rid not in out]
        if missing:
            out.update(self.fetch(missing))
        return out

    def page(self, after: str | None, limit: int) -> list[tuple[str, str, str, str, str]]:
        return list(self._reader.execute(
            "SELECT id, doc_id, doc_hash, text, metadata FROM records "
            "WHERE ?1 IS NULL OR id > ?1 ORDER BY id LIMIT ?2", (after, limit)))

    def doc_hashes(self) -> dict[str, str]:
        return dict(self._reader.execute(
            "SELECT doc_id, max(doc_hash) FROM records GROUP BY doc_id"))

    def counts(self) -> tuple[int, int]:
        row = self._reader.execute(
            "SELECT count(*), count(DISTINCT doc_id) FROM records").fetchone()
        return int(row[0]), int(row[1])

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())

    # -- background (the store's indexer thread) ----------------------------------------------

    def index_some(self, limit: int) -> int:
        with self.state:
            if self.closed:
                return 0
            return self.index.index_some(limit)

    def persist(self, *, force: bool = False) -> None:
        """Write the graph and BM25 snapshots that are out of date. Called by the thread that
        indexes (or after it stopped): the graph cannot change meanwhile, and searches go on;
        writers wait only while the BM25 snapshot is written (it must match ``seq``)."""
        if self.closed:
            return
        if self.index.indexed != self._saved_graph and (force or self._graph_due()):
            gen, index = self.gen, self.index
            index.save_graph(self._graph_path(gen))
            self._saved_graph = index.indexed
        with self.mutex:
            if self.closed:
                return
            if self.seq != self._saved_seq:
                path = self.path / f"bm25.{self.gen}.{self.seq}.npz"
                self.bm25.save(path)
                self._saved_seq = self.seq
                for old in self.path.glob("bm25.*.npz"):
                    if old != path:
                        old.unlink(missing_ok=True)
            os.fsync(self._log.fileno())

    def _graph_due(self) -> bool:
        return self.index.indexed - self._saved_graph >= max(5000, self.index.indexed // 10)

    def close(self, *, persist: bool = True) -> None:
        with self.mutex, self.state:
            if self.closed:
                return
            if persist:
                self.persist(force=True)
            self.closed = True
            self._log.close()
            self._reader.close()
            self._writer.close()

    # -- compaction ---------------------------------------------------------------------------

    def compact(self, abort: Callable[[], bool] = lambda: False) -> None:
        """Renumber the live labels densely and rebuild the graph without the dead ones.

        The graph is built from a snapshot of the live labels without blocking anyone; then,
        with writers paused, the labels added or killed meanwhile are carried over, the new
        generation's vector log and graph are written and the database's labels rewritten in
        one transaction; the in-memory swap takes a moment under ``state``. ``abort`` is
        polled while the graph is built (the store stops a compaction when it closes)."""
        with self.state:
            keep = np.flatnonzero(self.index.alive[:self.index.size])
            size0 = self.index.size
        new = VectorIndex(self.info.dim, self.info.metric, self.params)
        for start in range(0, len(keep), 1024):
            if abort() or self.closed:
                return
            rows = self._read_rows_prepared(keep[start:start + 1024])
            new.append(rows)
            new.index_some(len(rows))
        with self.mutex:  # writers wait; searches go on until the swap
            if self.closed:
                return
            size1 = self.index.size
            post = np.arange(size0, size1)
            carried = np.concatenate([keep, post]).astype(np.int64)
            alive = self.index.alive[carried]
            if len(post):
                new.append(self._read_rows_prepared(post))
            new.kill(np.flatnonzero(~alive))
            gen = self.gen + 1
            tmp = self._vectors_path(gen).with_name(f".vectors.{gen}.tmp")
            with open(tmp, "wb") as out:
                for start in range(0, len(carried), 4096):
                    for lab in carried[start:start + 4096].tolist():
                        out.write(os.pread(self._log.fileno(), self._row_bytes,
                                           lab * self._row_bytes))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self._vectors_path(gen))
            new.save_graph(self._graph_path(gen))
            moves = [(-1 - new_lab, int(old_lab)) for new_lab, old_lab in enumerate(carried)
                     if self.ids[old_lab] is not None]
            with self._transaction() as db:
                db.executemany("UPDATE records SET label = ? WHERE label = ?", moves)
                db.execute("UPDATE records SET label = -1 - label")
                db.execute("UPDATE meta SET value = ? WHERE key = 'gen'", (gen,))
            ids = [self.ids[lab] for lab in carried.tolist()]
            label_of = {rid: i for i, rid in enumerate(ids) if rid is not None}
            with self.state:
                old_gen, self.gen = self.gen, gen
                self._log.close()
                self._log = open(self._vectors_path(gen), "a+b")  # noqa: SIM115
                self.index = new
                self.columns.take(carried)
                self.ids, self.label_of = ids, label_of
            self._saved_graph = new.indexed
            self._saved_seq = -1
            for name in (f"vectors.{old_gen}.f32", f"graph.{old_gen}.faiss"):
                (self.path / name).unlink(missing_ok=True)
            self._check_compaction()

    def _read_rows_prepared(self, labels: npt.NDArray[np.intp]) -> Vectors:
        raw = np.stack(self.read_vectors(labels.tolist())) if len(labels) else np.zeros(
            (0, self.info.dim), dtype=np.float32)
        return self.index.prepare(raw)
