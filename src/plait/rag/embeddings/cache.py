"""A persistent embedding cache in one SQLite file: a text embedded once is never sent to the
model again, across runs and across processes.

Entries are keyed by ``(model_id, kind, blake3(text))``; the vector is stored as little-endian
float32. Only the misses go to the wrapped embedder (each distinct text once, in slices of
``chunk_size``, each slice saved as soon as it returns, so an interrupted ingestion keeps what
it paid for), and the results come back in the order asked.

The file is in WAL mode with a busy timeout, and every write is one ``BEGIN IMMEDIATE``
transaction of ``INSERT OR IGNORE``: two processes can share a file (the second writer of a
text keeps the first one's vector). All SQLite work happens in one worker thread per cache,
never on the event loop.

The file also records each model's vector size: vectors of another size for the same model
id (a model replaced behind its name) raise :class:`~plait.errors.DimensionMismatch` instead
of mixing into the cache.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self, TypeVar

import numpy as np
from blake3 import blake3

from plait.errors import DimensionMismatch, UsageError
from plait.rag.embeddings.base import EmbedKind, check_texts

if TYPE_CHECKING:
    from collections.abc import Callable

    from plait.rag.types import Embedder, Vectors

__all__ = ["CacheStats", "CachedEmbedder"]

T = TypeVar("T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS embedding_models (
    model TEXT PRIMARY KEY,
    dim INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    hash BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, kind, hash)
) WITHOUT ROWID;
"""
_PARAMS: Final = 500
"""Hashes per ``IN (...)`` lookup."""
_BUSY_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Texts answered from the file (``hits``) and not found there (``misses``) since the
    cache was made; ``hits + misses`` is every text asked for. ``embedded`` counts the texts
    actually sent to the model (a text asked twice in one call is sent once)."""

    hits: int = 0
    misses: int = 0
    embedded: int = 0


def _key(text: str) -> bytes:
    return blake3(text.encode("utf-8", "surrogatepass")).digest()


class CachedEmbedder:
    """``inner`` with a persistent cache at ``path`` (an SQLite file, made if missing).

    It is an :class:`~plait.rag.types.Embedder` with ``inner``'s ``model_id`` and ``dim``.
    :meth:`aclose` closes the file and ``inner``.
    """

    def __init__(self, inner: Embedder, path: str | Path, *, chunk_size: int = 256) -> None:
        if chunk_size < 1:
            raise UsageError("chunk_size must be >= 1")
        self.inner = inner
        self.path = Path(path)
        self.chunk_size = chunk_size
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None
        self._dim: int | None = None
        self._stats = CacheStats()

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r}, {str(self.path)!r})"

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int | None:
        return self.inner.dim if self.inner.dim is not None else self._dim

    @property
    def stats(self) -> CacheStats:
        return self._stats

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "document") -> Vectors:
        items = check_texts(texts, kind)
        if not items:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        model = self.model_id
        keys, found, stored_dim = await self._run(self._lookup, model, kind, items)
        expected = stored_dim
        if expected is not None and self.inner.dim is not None and self.inner.dim != expected:
            raise self._mismatch(expected, self.inner.dim)
        missing: dict[bytes, int] = {}  # key -> index of its first text
        for i, key in enumerate(keys):
            if key not in found and key not in missing:
                missing[key] = i
        todo = list(missing.items())
        for start in range(0, len(todo), self.chunk_size):
            chunk = todo[start:start + self.chunk_size]
            vectors = await self.inner.embed([items[i] for _, i in chunk], kind=kind)
            if expected is not None and vectors.shape[1] != expected:
                raise self._mismatch(expected, int(vectors.shape[1]))
            expected = int(vectors.shape[1])
            chunk_keys = [key for key, _ in chunk]
            await self._run(self._store, model, kind, chunk_keys, vectors)
            found.update(zip(chunk_keys, vectors, strict=True))
        misses = sum(1 for key in keys if key in missing)
        self._stats = CacheStats(self._stats.hits + len(keys) - misses,
                                 self._stats.misses + misses, self._stats.embedded + len(todo))
        self._dim = expected
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)

    async def count(self, *, model: str | None = None) -> int:
        """Entries in the file (of one model id, or all)."""
        return await self._run(self._count, model)

    async def clear(self, *, model: str | None = None) -> int:
        """Delete the entries of one model id (or all); returns how many went."""
        return await self._run(self._clear, model)

    async def aclose(self) -> None:
        """Close the file (and ``inner``). The cache reopens if used again."""
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
            executor.shutdown(wait=False)
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- in the worker thread

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="plait-embed-cache")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=_BUSY_SECONDS, isolation_level=None)
            deadline = time.monotonic() + _BUSY_SECONDS
            while True:  # switching to WAL needs a moment alone with a brand-new file
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(_SCHEMA)
                    break
                except sqlite3.OperationalError as err:
                    if "locked" not in str(err) or time.monotonic() > deadline:
                        db.close()
                        raise
                    time.sleep(0.05)
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        return self._db

    def _lookup(self, model: str, kind: str, texts: list[str],
                ) -> tuple[list[bytes], dict[bytes, np.ndarray], int | None]:
        keys = [_key(t) for t in texts]
        db = self._conn()
        row = db.execute("SELECT dim FROM embedding_models WHERE model = ?", (model,)).fetchone()
        found: dict[bytes, np.ndarray] = {}
        if row is None:
            return keys, found, None
        distinct = list(dict.fromkeys(keys))
        for start in range(0, len(distinct), _PARAMS):
            part = distinct[start:start + _PARAMS]
            marks = ",".join("?" * len(part))
            for key, blob in db.execute(
                    f"SELECT hash, vector FROM embeddings WHERE model = ? AND kind = ? "
                    f"AND hash IN ({marks})", (model, kind, *part)):
                if len(blob) == 4 * row[0]:  # anything else is not ours to trust: re-embed
                    found[key] = np.frombuffer(blob, dtype="<f4")
        return keys, found, int(row[0])

    def _store(self, model: str, kind: str, keys: list[bytes], vectors: Vectors) -> None:
        dim = int(vectors.shape[1])
        blobs = np.ascontiguousarray(vectors, dtype="<f4")
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT OR IGNORE INTO embedding_models VALUES (?, ?)", (model, dim))
            (stored,) = db.execute("SELECT dim FROM embedding_models WHERE model = ?",
                                   (model,)).fetchone()
            if stored != dim:
                raise self._mismatch(int(stored), dim)
            db.executemany("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?, ?)",
                           [(model, kind, key, blobs[i].tobytes())
                            for i, key in enumerate(keys)])
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _count(self, model: str | None) -> int:
        query = "SELECT count(*) FROM embeddings" + (" WHERE model = ?" if model else "")
        (n,) = self._conn().execute(query, (model,) if model else ()).fetchone()
        return int(n)

    def _clear(self, model: str | None) -> int:
        db = self._conn()
        where, args = (" WHERE model = ?", (model,)) if model else ("", ())
        db.execute("BEGIN IMMEDIATE")
        try:
            gone = db.execute("DELETE FROM embeddings" + where, args).rowcount
            db.execute("DELETE FROM embedding_models" + where, args)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return int(gone)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _mismatch(self, stored: int, new: int) -> DimensionMismatch:
        return DimensionMismatch(
            f"the embedding cache {self.path} holds {stored}-dim vectors for "
            f"{self.model_id}, but the model now returns {new}-dim vectors (a different model "
            f"under the same name?): clear it with clear(model={self.model_id!r}) or use "
            "another file", expected=stored, actual=new)
