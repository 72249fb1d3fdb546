"""The systems the vector search benchmark compares, behind one small async interface.

Every side holds the same records: row ``i`` of the data set has the id ``str(i)`` (or ``i``),
its vector, its text and ``category`` = ``c0`` .. ``c9``. A search returns row numbers, best
first. Filters are named: ``none``, ``narrow`` (``category == c3``, 10 %) and ``broad``
(``category in c0..c4``, 50 %).

- ``plait/embedded``: :class:`plait.rag.stores.embedded.EmbeddedVectorStore`, public API;
- ``faiss/hnsw``: ``faiss.IndexHNSWFlat`` (inner product on unit vectors), same M and
  efConstruction, filters as an ``IDSelectorBitmap`` in ``SearchParametersHNSW``;
- ``plait/chroma`` and ``chroma/raw``: plait's ``ChromaStore``; ``chromadb.PersistentClient``
  with ``embedding_function=None``, ids only (``include=[]``);
- ``plait/pgvector`` and ``pgvector/raw``: plait's ``PgVectorStore``; asyncpg with a binary
  ``vector`` codec, ``COPY`` then ``CREATE INDEX`` (pgvector's fastest build path), a prepared
  ``ORDER BY embedding <=> $1 LIMIT 10`` with ``hnsw.iterative_scan = strict_order`` for filters;
- ``numpy/exact``: a float32 matrix and one matrix-vector product per query (the ground truth).
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.rag_data import BROAD, NARROW, VectorSet

FILTERS = ("none", "narrow", "broad")
TENANT = "bench"


def category_name(c: int) -> str:
    return f"c{int(c)}"


def masks(cats: np.ndarray) -> dict[str, np.ndarray]:
    broad = {int(c[1:]) for c in BROAD}
    return {"narrow": cats == int(NARROW[1:]),
            "broad": np.isin(cats, sorted(broad))}


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


class Side:
    """One system. ``open(create=True)`` makes an empty index; ``add`` appends rows
    ``start .. start+len(vectors)``; ``search`` returns row numbers."""

    name: ClassVar[str]
    label: ClassVar[str]
    ef_construction_default: ClassVar[int] = 64
    """Each plait store is measured at its defaults, and the library under it at the same."""
    tunable: ClassVar[bool] = True
    server: ClassVar[bool] = False
    """Data lives in another process (memory = its relation size, not our RSS)."""

    def __init__(self, folder: Path, data: VectorSet, params: dict[str, Any]) -> None:
        self.folder = folder
        self.data = data
        self.m = int(params.get("m", 16))
        self.ef_construction = int(params.get("ef_construction")
                                   or self.ef_construction_default)
        self.ef = int(params.get("ef_search", 64))
        self.params = params
        self.masks = masks(data.categories)

    async def open(self, *, create: bool) -> None:
        raise NotImplementedError

    async def add(self, start: int, vectors: np.ndarray, *, bulk: bool) -> None:
        raise NotImplementedError

    async def search(self, query: np.ndarray, k: int, flt: str) -> list[int]:
        raise NotImplementedError

    async def set_ef(self, ef: int) -> None:
        self.ef = ef

    def preload(self) -> None:
        """Import what the side needs (before a memory baseline)."""

    async def settle(self) -> None:
        """Wait for background indexing, where a side has it."""

    async def size_bytes(self) -> int | None:
        """Bytes on disk (in-process sides) or of the relation (servers)."""
        return dir_bytes(self.folder)

    async def close(self) -> None:
        return None

    def texts(self, start: int, n: int) -> list[str]:
        return self.data.texts[start:start + n]

    def cats(self, start: int, n: int) -> list[str]:
        return [category_name(c) for c in self.data.categories[start:start + n]]


# -- plait's stores, through the public VectorStore API ----------------------------------------


class PlaitSide(Side):
    """Any plait ``VectorStore``: records with text and metadata, typed filters."""

    collection = "bench"
    store: Any

    def ref(self) -> Any:
        from plait.rag.types import CollectionRef

        return CollectionRef(TENANT, self.collection)

    def where(self, flt: str) -> Any:
        from plait.rag.filters import Eq, In

        return {"none": None, "narrow": Eq("category", NARROW),
                "broad": In("category", BROAD)}[flt]

    def make_store(self) -> Any:
        raise NotImplementedError

    async def open(self, *, create: bool) -> None:
        self.store = self.make_store()
        if create:
            await self.store.create_collection(self.ref(), dim=self.data.base.shape[1],
                                               metric="cosine")
        self._where = {f: self.where(f) for f in FILTERS}
        if not create:  # load the collection now, not in the first timed query
            await self.search(self.data.queries[0], 10, "none")

    async def add(self, start: int, vectors: np.ndarray, *, bulk: bool) -> None:
        from plait.rag.types import Record

        n = len(vectors)
        texts, cats = self.texts(start, n), self.cats(start, n)
        step = 10_000
        for at in range(0, n, step):
            records = [Record(id=str(start + i), text=texts[i], vector=vectors[i],
                              doc_id=f"d{(start + i) // 10}", doc_hash="h",
                              metadata={"category": cats[i]})
                       for i in range(at, min(n, at + step))]
            await self.store.upsert(self.ref(), records)

    async def search(self, query: np.ndarray, k: int, flt: str) -> list[int]:
        hits = await self.store.search(self.ref(), query, k=k, where=self._where[flt])
        return [int(h.id) for h in hits]

    async def close(self) -> None:
        await self.store.close()


class PlaitEmbedded(PlaitSide):
    name = "plait/embedded"
    label = "plait embedded store"
    ef_construction_default = 200

    def preload(self) -> None:
        import faiss  # noqa: F401

        import plait.rag.stores.embedded  # noqa: F401

    def make_store(self) -> Any:
        return embedded_store(self.folder, m=self.m, ef_construction=self.ef_construction,
                              ef_search=self.ef)

    async def set_ef(self, ef: int) -> None:
        # the store's HnswParams are read at every search (the constructor's ef_search)
        self.ef = ef
        self.store.params.ef_search = ef
        if hasattr(self.store.params, "ef_max"):  # a cap on the beam of filtered searches
            self.store.params.ef_max = max(self.store.params.ef_max, ef)

    async def settle(self) -> None:
        await self.store.settle()


def embedded_store(folder: Path, **options: Any) -> Any:
    """plait's embedded store in ``folder`` (imported late: it may be missing)."""
    from plait.rag.stores.embedded import EmbeddedVectorStore

    return EmbeddedVectorStore(folder, **options)


class PlaitChroma(PlaitSide):
    name = "plait/chroma"
    label = "plait ChromaStore"
    ef_construction_default = 100

    def preload(self) -> None:
        import chromadb  # noqa: F401

        import plait.rag.stores.chroma  # noqa: F401

    def make_store(self) -> Any:
        from plait.rag.stores.chroma import ChromaStore

        return ChromaStore(self.folder, m=self.m, ef_construction=self.ef_construction,
                           ef_search=self.ef)

    async def set_ef(self, ef: int) -> None:
        # ChromaStore takes ef_search for new collections only, and Chroma (1.5) applies a
        # changed ef_search only to a collection loaded afterwards: change the configuration
        # through Chroma, then reopen the store.
        if ef == self.ef:
            return
        store = self.store

        def modify() -> None:
            coll = store._need(self.ref())
            coll.collection.modify(configuration={"hnsw": {"ef_search": ef}})

        await store._call(modify)
        await store.close()
        self.ef = ef
        self.store = self.make_store()


class PlaitPg(PlaitSide):
    name = "plait/pgvector"
    label = "plait PgVectorStore"
    server = True

    def preload(self) -> None:
        import asyncpg  # noqa: F401

        import plait.rag.stores.pgvector  # noqa: F401

    def make_store(self) -> Any:
        from plait.rag.stores.pgvector import PgVectorStore

        options: dict[str, Any] = {"ef_search": self.ef}
        if "filtered_ef_search" in inspect.signature(PgVectorStore).parameters:
            options["filtered_ef_search"] = self.ef  # the sweep tunes each filter apart
        return PgVectorStore(self.params["pg_url"], m=self.m,
                             ef_construction=self.ef_construction, max_size=2, **options)

    async def set_ef(self, ef: int) -> None:
        # A store is configured with its ef_search: one store (and pool) per value, as a user
        # would configure it; the old one is closed.
        if ef == self.ef:
            return
        await self.store.close()
        self.ef = ef
        self.store = self.make_store()

    async def size_bytes(self) -> int | None:
        stats = await self.store.stats(self.ref())
        return stats.bytes


# -- raw libraries -----------------------------------------------------------------------------


class FaissHNSW(Side):
    name = "faiss/hnsw"
    label = "faiss IndexHNSWFlat"
    ef_construction_default = 200

    def preload(self) -> None:
        import faiss  # noqa: F401

    async def open(self, *, create: bool) -> None:
        import faiss

        self.faiss = faiss
        path = self.folder / "index.faiss"
        if create:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.index = faiss.IndexHNSWFlat(self.data.base.shape[1], self.m,
                                             faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = self.ef_construction
        else:
            self.index = faiss.read_index(str(path))
        self._bitmaps: dict[str, Any] = {}
        self._selectors: dict[str, Any] = {}
        self._params: dict[str, Any] = {}
        self._refresh()

    def _refresh(self) -> None:
        n = self.index.ntotal
        for flt, mask in self.masks.items():
            bits = np.packbits(mask[:n], bitorder="little")
            self._bitmaps[flt] = bits  # the selector points into it: keep it alive
            self._selectors[flt] = self.faiss.IDSelectorBitmap(n, self.faiss.swig_ptr(bits))
        self.set_ef_sync(self.ef)

    def set_ef_sync(self, ef: int) -> None:
        self.ef = ef
        self._params = {"none": self.faiss.SearchParametersHNSW(efSearch=ef)}
        for flt, sel in self._selectors.items():
            self._params[flt] = self.faiss.SearchParametersHNSW(efSearch=ef, sel=sel)

    async def set_ef(self, ef: int) -> None:
        self.set_ef_sync(ef)

    async def add(self, start: int, vectors: np.ndarray, *, bulk: bool) -> None:
        assert start == self.index.ntotal
        self.index.add(vectors)
        self._refresh()

    async def search(self, query: np.ndarray, k: int, flt: str) -> list[int]:
        _, ids = self.index.search(query[None, :], k, params=self._params[flt])
        return [int(i) for i in ids[0] if i >= 0]

    async def close(self) -> None:
        self.faiss.write_index(self.index, str(self.folder / "index.faiss"))


class NumpyExact(Side):
    name = "numpy/exact"
    label = "NumPy brute force"
    tunable = False

    async def open(self, *, create: bool) -> None:
        path = self.folder / "base.npy"
        if create:
            self.folder.mkdir(parents=True, exist_ok=True)
            # untouched pages cost nothing: the capacity only saves copies on append
            rows = int(self.params.get("capacity", 0))
            self.matrix = np.empty((rows, self.data.base.shape[1]), dtype=np.float32)
            self.n = 0
        else:
            self.matrix = np.load(path)
            self.n = len(self.matrix)

    async def add(self, start: int, vectors: np.ndarray, *, bulk: bool) -> None:
        assert start == self.n
        need = self.n + len(vectors)
        if need > len(self.matrix):  # beyond the capacity: grow by half again
            grown = np.empty((max(need, int(len(self.matrix) * 1.5)), self.matrix.shape[1]),
                             dtype=np.float32)
            grown[:self.n] = self.matrix[:self.n]
            self.matrix = grown
        self.matrix[self.n:need] = vectors
        self.n = need

    async def search(self, query: np.ndarray, k: int, flt: str) -> list[int]:
        scores = self.matrix[:self.n] @ query
        if flt != "none":
            scores = np.where(self.masks[flt][:self.n], scores, -np.inf)
        top = np.argpartition(-scores, k)[:k]
        return [int(i) for i in top[np.argsort(-scores[top])]]

    async def close(self) -> None:
        np.save(self.folder / "base.npy", self.matrix[:self.n])


class ChromaRaw(Side):
    name = "chroma/raw"
    label = "Chroma (chromadb)"
    ef_construction_default = 100

    def preload(self) -> None:
        import chromadb  # noqa: F401

    async def open(self, *, create: bool) -> None:
        import chromadb
        from chromadb.config import Settings

        self.client = chromadb.PersistentClient(
            path=str(self.folder), settings=Settings(anonymized_telemetry=False))
        if create:
            self.coll = self.client.create_collection(
                "bench", embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "max_neighbors": self.m,
                                        "ef_construction": self.ef_construction,
                                        "ef_search": self.ef}})
        else:
            self.coll = self.client.get_collection("bench", embedding_function=None)
        self._where = {"none": None, "narrow": {"category": NARROW},
                       "broad": {"category": {"$in": list(BROAD)}}}
        if not create:  # load the index now, not in the first timed query
            await self.search(self.data.queries[0], 10, "none")

    async def add(self, start: int, vectors: np.ndarray, *, bulk: bool) -> None:
        n = len(vectors)
        step = self.client.get_max_batch_size()
        cats = self.cats(start, n)
        for at in range(0, n, step):
            end = min(n, at + step)
            self.coll.add(ids=[str(start + i) for i in range(at, end)],
                          embeddings=vectors[at:end],
                          metadatas=[{"category": c} for c in cats[at:end]])

    async def set_ef(self, ef: int) -> None:
        # Chroma (1.5) applies a changed ef_search only to a collection loaded afterwards.
        if ef == self.ef:
            return
        self.ef = ef
        self.coll.modify(configuration={"hnsw": {"ef_search": ef}})
        self.client.close()  # type: ignore[attr-defined]
        await self.open(create=False)

    async def search(self, query: np.ndarray, k: int, flt: str) -> list[int]:
        got = self.coll.query(query_embeddings=query[None, :], n_results=k,
                              where=self._where[flt], include=[])
        return [int(i) for i in got["ids"][0]]

    async def close(self) -> None:
        self.client.close()  # type: ignore[attr-defined]


def _vector_codec(dim: int) -> tuple[Any, Any]:
    head = struct.pack(">HH", dim, 0)

    def encode(v: Sequence[float] | np.ndarray) -> bytes:
        return head + np.asarray(v, dtype=">f4").tobytes()

    def decode(data: bytes) -> np.ndarray:
        n, _ = struct.unpack_from(">HH", data)
        return np.frombuffer(data, dtype=">f4", count=n, offset=4).astype(np.float32)

    return encode, decode


class PgRaw(Side):
    name = "pgvector/raw"
    label = "pgvector (asyncpg SQL)"
    server = True
    table = "bench_raw"

    async def open(self, *, create: bool) -> None:
        import asyncpg

        dim = self.data.base.shape[1]
        encode, decode = _vector_codec(dim)

        async def init(conn: Any) -> None:
            await conn.set_type_codec("vector", encoder=encode, decoder=decode,
                                      schema="public", format="binary")

        self.conn = await asyncpg.connect(self.params["pg_url"])
        await init(self.conn)
        if create:
            await self.conn.execute(f"DROP TABLE IF EXISTS {self.table}")
            await self.conn.execute(
                f"CREATE TABLE {self.table} (id integer PRIMARY KEY, category text NOT NULL, "
                f"embedding vector({dim}) NOT NULL)")
        self.indexed = not create
        await self._prepare()

    async def _prepare(self) -> None:
        await self.conn.execute("SET hnsw.iterative_scan = strict_order")
        await self.conn.execute(f"SET hnsw.ef_search = {int(self.ef)}")
        base = f"SELECT id FROM {self.table}"
        order = "ORDER BY embedding <=> $1 LIMIT $2"
        self._stmts = {
            "none": await self.conn.prepare(f"{base} {order}"),
            "narrow": await self.conn.prepare(f"{base} WHERE category = $3 {order}"),
            "broad": await self.conn.prepare(
                f"{base} WHERE category = ANY($3::text[]) {order}"),
        }
        self._args: dict[str, tuple[Any, ...]] = {"none": (), "narrow": (NARROW,),
                                                  "broad": (list(BROAD),)}

    async def add(self, start: int, vectors: np.ndarray, *, bulk: bool) -> None:
        n = len(vectors)
        cats = self.cats(start, n)
        rows = [(start + i, cats[i], vectors[i]) for i in range(n)]
        await self.conn.copy_records_to_table(self.table, records=rows,
                                              columns=["id", "category", "embedding"])
        if not self.indexed:  # pgvector's fastest build: load, then index
            await self.conn.execute("SET maintenance_work_mem = '1GB'")
            await self.conn.execute(
                f"CREATE INDEX ON {self.table} USING hnsw (embedding vector_cosine_ops) "
                f"WITH (m = {self.m}, ef_construction = {self.ef_construction})")
            await self.conn.execute(f"ANALYZE {self.table}")
            self.indexed = True

    async def set_ef(self, ef: int) -> None:
        self.ef = ef
        await self.conn.execute(f"SET hnsw.ef_search = {int(ef)}")

    async def search(self, query: np.ndarray, k: int, flt: str) -> list[int]:
        rows = await self._stmts[flt].fetch(query, k, *self._args[flt])
        return [r[0] for r in rows]

    async def size_bytes(self) -> int | None:
        return int(await self.conn.fetchval(
            f"SELECT pg_total_relation_size('{self.table}')"))

    async def close(self) -> None:
        await self.conn.close()


SIDES: dict[str, type[Side]] = {cls.name: cls for cls in (
    PlaitEmbedded, FaissHNSW, PlaitChroma, ChromaRaw, PlaitPg, PgRaw, NumpyExact)}
PAIRS = {"plait/embedded": "faiss/hnsw", "plait/chroma": "chroma/raw",
         "plait/pgvector": "pgvector/raw"}
"""plait's side -> the raw library under it (the ratio the report gives)."""


def side(name: str, folder: Path, data: VectorSet, params: dict[str, Any]) -> Side:
    return SIDES[name](folder, data, params)


def reset(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


async def settle() -> None:
    await asyncio.sleep(0)
