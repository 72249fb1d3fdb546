"""A :class:`~plait.rag.types.VectorStore` on Chroma's embedded ``PersistentClient`` (the GenAI
Stack's store), with plait's BM25 beside it for keyword search.

::

    store = ChromaStore("data/chroma")      # data/chroma/chroma (Chroma), data/chroma/bm25
    await store.create_collection(CollectionRef("acme", "docs"), dim=384)

**No embedding function.** Collections are created and opened with
``embedding_function=None`` and every call passes vectors, so Chroma never loads (or downloads)
its default model. Telemetry is off and ``reset`` is disallowed.

**Names and tenants.** Chroma restricts collection names, so a collection is named
``plait-`` + the SHA-256 of its ``[tenant, namespace, name]`` (JSON); the ref itself is kept in
the collection's metadata (``plait:tenant`` ...) and checked on every open, so two tenants never
share a collection and a name collision fails loudly instead of mixing data.

**Records.** Chroma keeps the text as the document; metadata holds ``plait:doc_id``,
``plait:doc_hash``, the exact metadata as JSON (``plait:meta``), and a copy of each field under
``m:<field>`` for Chroma's own filtering (numbers as floats; ``None`` values left out). Chroma's
upsert merges metadata, so fields a replacement no longer has are deleted explicitly.

**Filters.** A filter is translated to a Chroma ``where`` that matches a *superset* of the
records, then every candidate is checked with :func:`plait.rag.filters.matches`, so semantics
are identical to the other stores; a search over-fetches until it has ``k`` matches. Chroma
expresses equality, ``$ne`` / ``$nin`` on strings and booleans (Chroma counts a missing field as
"not equal", as plait does), ``$in`` and numeric ranges. Not pushed down, and handled by the
post-filter alone: ``null`` values, ``$ne`` / ``$nin`` on numbers (float rounding could drop a
match), string ranges (Chroma compares numbers only) and ``Not`` over a range.

**Keyword search** is plait's BM25 (:mod:`plait.rag.bm25`), one index per collection, updated
with every write and persisted beside the Chroma directory: a ``.npz`` snapshot written on
:meth:`close` plus an append-only journal of the writes since. A journal that ends inside a
write (a crash between Chroma and the journal) or an index whose size disagrees with Chroma's
count is rebuilt from Chroma's documents.

**TTL** lives in the collection metadata (``plait:expires_at``); an expired collection reads
as absent and :meth:`expire` drops it. Chroma's API is synchronous: every call runs in one
worker thread per store, which also keeps Chroma and the BM25 indexes in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import math
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import numpy as np

from plait.errors import CollectionExists, CollectionNotFound, DimensionMismatch, UsageError
from plait.rag.bm25 import BM25Index
from plait.rag.filters import And, Eq, Filter, In, Ne, Not, Or, Range, matches
from plait.rag.stores.checks import (
    check_batch,
    check_collection_args,
    check_vector,
    is_expired,
)
from plait.rag.types import (
    CollectionInfo,
    CollectionRef,
    CollectionStats,
    Hit,
    Metadata,
    MetaValue,
    Record,
)

if TYPE_CHECKING:
    import os

    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from plait.rag.types import Vectors

__all__ = ["ChromaStore", "chroma_where"]

Metric = Literal["cosine", "l2", "ip"]
T = TypeVar("T")
Where = dict[str, Any]

_P = "plait:"
_FIELD = "m:"
_EXACT_INT = 2**53


# -- filters -----------------------------------------------------------------------------------


def chroma_where(f: Filter) -> tuple[Where | None, bool]:
    """A Chroma ``where`` matching a superset of what ``f`` matches (None = no restriction)
    and whether it is exact. Callers post-filter with :func:`~plait.rag.filters.matches`."""
    return _push(f, negated=False)


def _num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _value(v: MetaValue) -> str | float | bool | None:
    """How a value is stored in (and compared by) Chroma; None when it cannot be."""
    if v is None:
        return None
    if isinstance(v, bool | str):
        return v
    try:
        fv = float(v)
    except OverflowError:  # an int beyond doubles: clamping keeps the order monotonic
        fv = sys.float_info.max if v > 0 else -sys.float_info.max
    return fv if math.isfinite(fv) else None


def _eq(name: str, values: Sequence[MetaValue], negate: bool) -> tuple[Where | None, bool]:
    """``name`` equal to one of ``values`` (or, negated, to none of them)."""
    if not values:
        return None, negate  # In(()) matches nothing: the post-filter says so
    stored = [_value(v) for v in values]
    if any(s is None for s in stored):
        return None, False
    if negate and any(_num(v) for v in values):
        return None, False  # float rounding of stored numbers could hide a match
    key = _FIELD + name
    groups: dict[type, list[Any]] = {}
    for s in stored:
        groups.setdefault(type(s), []).append(s)
    parts: list[Where] = []
    for vals in groups.values():
        uniq = list(dict.fromkeys(vals))
        if len(uniq) == 1:
            parts.append({key: {"$ne" if negate else "$eq": uniq[0]}})
        else:
            parts.append({key: {"$nin" if negate else "$in": uniq}})
    exact = all(abs(s) < _EXACT_INT for s in stored if isinstance(s, float))
    return _join("$and" if negate else "$or", parts), exact


def _join(op: str, parts: list[Where]) -> Where:
    return parts[0] if len(parts) == 1 else {op: parts}


def _range(f: Range) -> tuple[Where | None, bool]:
    key = _FIELD + f.field
    parts: list[Where] = []
    exact = True
    for bound, op, wide in ((f.gt, "$gt", "$gte"), (f.gte, "$gte", "$gte"),
                            (f.lt, "$lt", "$lte"), (f.lte, "$lte", "$lte")):
        if bound is None:
            continue
        b = _value(bound) if _num(bound) else None
        if not isinstance(b, float):
            exact = False  # strings, booleans, nan, inf: the post-filter decides
            continue
        if abs(b) < _EXACT_INT:
            parts.append({key: {op: b}})
        else:
            # A stored number rounds monotonically, so the wide bound never drops a match.
            parts.append({key: {wide: b}})
            exact = False
    if not parts:
        return None, False
    return _join("$and", parts), exact


def _push(f: Filter, *, negated: bool) -> tuple[Where | None, bool]:
    match f:
        case Eq(field=name, value=value):
            return _eq(name, [value], negated)
        case Ne(field=name, value=value):
            return _eq(name, [value], not negated)
        case In(field=name, values=values, negate=negate):
            return _eq(name, list(values), negate != negated)
        case Range():
            return (None, False) if negated else _range(f)
        case And(items=items) | Or(items=items):
            is_and = isinstance(f, And) != negated  # De Morgan under a negation
            pushed = [_push(i, negated=negated) for i in items]
            exact = all(e for _, e in pushed)
            wheres = [w for w, _ in pushed if w is not None]
            if is_and:
                return (_join("$and", wheres) if wheres else None), exact
            if len(wheres) < len(pushed) or not wheres:
                return None, False
            return _join("$or", wheres), exact
        case Not(item=item):
            return _push(item, negated=not negated)
    raise TypeError(f"not a filter: {f!r}")


# -- records -----------------------------------------------------------------------------------


def _collection_name(ref: CollectionRef) -> str:
    key = json.dumps([ref.tenant, ref.namespace, ref.name], ensure_ascii=False)
    return "plait-" + hashlib.sha256(key.encode()).hexdigest()[:48]


def _chroma_meta(record: Record) -> dict[str, Any]:
    try:
        exact = json.dumps(dict(record.metadata), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"record {record.id!r}: metadata must be flat JSON scalars with finite "
                         f"numbers: {exc}") from exc
    meta: dict[str, Any] = {_P + "doc_id": record.doc_id, _P + "doc_hash": record.doc_hash,
                            _P + "meta": exact}
    for name, value in record.metadata.items():
        stored = _value(value)
        if stored is not None:
            meta[_FIELD + name] = stored
    return meta


def _exact_meta(meta: Mapping[str, Any] | None) -> Metadata:
    if not meta or _P + "meta" not in meta:
        return {}
    return cast(Metadata, json.loads(meta[_P + "meta"]))


class _Bm25:
    """One collection's BM25 index, its snapshot (``<name>.npz``) and its journal
    (``<name>.log``: one JSON line per write, then ``{"ok": 1}`` once Chroma took it).

    Writes only append to the journal until a keyword search needs the index: loading reads
    the snapshot and replays the journal."""

    _SNAPSHOT_AFTER = 32 << 20  # journal bytes that trigger a snapshot

    def __init__(self, directory: Path, name: str, collection: Collection) -> None:
        self.snapshot = directory / f"{name}.npz"
        self.journal = directory / f"{name}.log"
        self.collection = collection
        self.index = BM25Index()
        self.loaded = False

    def load(self) -> BM25Index:
        if self.loaded:
            return self.index
        self.index = BM25Index.load(self.snapshot) if self.snapshot.exists() else BM25Index()
        pending: dict[str, Any] | None = None
        if self.journal.exists():
            with open(self.journal, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        break  # a line cut short by a crash
                    if "ok" in entry and pending is not None:
                        self._apply(pending)
                    pending = None if "ok" in entry or "abort" in entry else entry
        self.loaded = True
        if pending is not None or len(self.index) != self.collection.count():
            self.rebuild()  # a crash between the journal and Chroma: Chroma is the truth
        return self.index

    def _apply(self, entry: dict[str, Any]) -> None:
        if "add" in entry:
            self.index.add_many((i, t) for i, t in entry["add"])
        else:
            self.index.remove_many(entry["remove"])

    def rebuild(self, page: int = 2000) -> None:
        self.index = BM25Index()
        offset = 0
        while True:
            got = self.collection.get(include=["documents"], limit=page, offset=offset)
            self.index.add_many(zip(got["ids"], got["documents"] or [], strict=True))
            if len(got["ids"]) < page:
                break
            offset += page
        self.save()

    def write(self, entry: dict[str, Any], chroma_write: Callable[[], object]) -> None:
        """Journal ``entry``, run the Chroma write, then apply ``entry`` to the index."""
        self._append(entry)
        try:
            chroma_write()
        except BaseException:
            self._append({"abort": 1})
            raise
        self._append({"ok": 1})
        if self.loaded:
            self._apply(entry)
        if self.journal.stat().st_size > self._SNAPSHOT_AFTER:
            self.load()
            self.save()

    def _append(self, entry: dict[str, Any]) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def save(self) -> None:
        """Snapshot the loaded index and empty the journal."""
        if not self.loaded:
            return
        self.snapshot.parent.mkdir(parents=True, exist_ok=True)
        self.index.save(self.snapshot)
        self.journal.unlink(missing_ok=True)

    def remove_files(self) -> None:
        self.snapshot.unlink(missing_ok=True)
        self.journal.unlink(missing_ok=True)


class _Coll:
    __slots__ = ("bm25", "collection", "info")

    def __init__(self, info: CollectionInfo, collection: Collection, bm25_dir: Path) -> None:
        self.info = info
        self.collection = collection
        self.bm25 = _Bm25(bm25_dir, collection.name, collection)

    @property
    def expired(self) -> bool:
        return is_expired(self.info)


def _info(meta: dict[str, Any]) -> CollectionInfo:
    return CollectionInfo(
        ref=CollectionRef(tenant=meta[_P + "tenant"], namespace=meta[_P + "namespace"],
                          name=meta[_P + "name"]),
        dim=int(meta[_P + "dim"]), metric=cast(Metric, meta[_P + "metric"]),
        embedder=meta.get(_P + "embedder"), expires_at=meta.get(_P + "expires_at"),
        created_at=float(meta.get(_P + "created_at", 0.0)))


def _is_plait(meta: Mapping[str, Any]) -> bool:
    return all(_P + k in meta for k in ("tenant", "namespace", "name", "dim"))


class ChromaStore:
    """Chroma's embedded client in ``path`` (``path/chroma``), BM25 indexes in ``path/bm25``.

    ``m``, ``ef_construction`` and ``ef_search`` go to each new collection's HNSW
    configuration (Chroma's ``max_neighbors``, ``ef_construction``, ``ef_search``)."""

    _ID_BATCH = 5000

    def __init__(self, path: str | os.PathLike[str], *, m: int = 16,
                 ef_construction: int = 100, ef_search: int = 200) -> None:
        self.path = Path(path)
        self.m = int(m)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        self._client: ClientAPI | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._colls: dict[CollectionRef, _Coll] = {}

    # -- plumbing ---------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the store's one worker thread."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="plait-chroma")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _db(self) -> ClientAPI:
        if self._client is None:
            try:
                import chromadb
                from chromadb.config import Settings
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise UsageError("ChromaStore needs chromadb: pip install 'plait[chroma]'") \
                    from exc
            self._client = chromadb.PersistentClient(
                path=str(self.path / "chroma"),
                settings=Settings(anonymized_telemetry=False, allow_reset=False))
        return self._client

    def _open(self, ref: CollectionRef) -> _Coll | None:
        """The collection, expired or not; None when absent."""
        coll = self._colls.get(ref)
        if coll is not None:
            return coll
        from chromadb.errors import NotFoundError

        name = _collection_name(ref)
        try:
            collection = self._db().get_collection(name, embedding_function=None)
        except NotFoundError:
            return None
        meta = dict(collection.metadata or {})
        if not _is_plait(meta) or _info(meta).ref != ref:
            raise UsageError(f"Chroma collection {name} does not hold {ref}")
        coll = self._colls[ref] = _Coll(_info(meta), collection, self.path / "bm25")
        return coll

    def _live(self, ref: CollectionRef) -> _Coll | None:
        coll = self._open(ref)
        return None if coll is None or coll.expired else coll

    def _need(self, ref: CollectionRef) -> _Coll:
        coll = self._live(ref)
        if coll is None:
            raise CollectionNotFound(ref)
        return coll

    def _drop(self, coll: _Coll) -> None:
        from chromadb.errors import NotFoundError

        self._colls.pop(coll.info.ref, None)
        with contextlib.suppress(NotFoundError):
            self._db().delete_collection(coll.collection.name)
        coll.bm25.remove_files()

    async def close(self) -> None:
        """Snapshot the BM25 indexes written to and release Chroma."""
        if self._executor is None:
            return
        await self._call(self._close)
        self._executor.shutdown(wait=True)
        self._executor = None

    def _close(self) -> None:
        for coll in self._colls.values():
            if coll.bm25.journal.exists():
                coll.bm25.save()
        self._colls.clear()
        if self._client is not None:
            self._client.close()  # type: ignore[attr-defined]
            self._client = None

    # -- collections ------------------------------------------------------------------------

    async def create_collection(self, ref: CollectionRef, *, dim: int,
                                metric: Metric = "cosine", embedder: str | None = None,
                                ttl: float | None = None,
                                exist_ok: bool = False) -> CollectionInfo:
        check_collection_args(dim, metric, ttl)
        return await self._call(self._create, ref, dim, metric, embedder, ttl, exist_ok)

    def _create(self, ref: CollectionRef, dim: int, metric: Metric, embedder: str | None,
                ttl: float | None, exist_ok: bool) -> CollectionInfo:
        coll = self._open(ref)
        if coll is not None and coll.expired:
            self._drop(coll)
            coll = None
        if coll is not None:
            if not exist_ok:
                raise CollectionExists(ref)
            if coll.info.dim != dim:
                raise DimensionMismatch(
                    f"collection {ref} holds {coll.info.dim}-dim vectors, not {dim}",
                    expected=coll.info.dim, actual=dim)
            return coll.info
        now = time.time()
        info = CollectionInfo(ref=ref, dim=dim, metric=metric, embedder=embedder,
                              expires_at=None if ttl is None else now + ttl, created_at=now)
        meta: dict[str, Any] = {
            _P + "tenant": ref.tenant, _P + "namespace": ref.namespace, _P + "name": ref.name,
            _P + "dim": dim, _P + "metric": metric, _P + "created_at": now}
        if embedder is not None:
            meta[_P + "embedder"] = embedder
        if info.expires_at is not None:
            meta[_P + "expires_at"] = info.expires_at
        name = _collection_name(ref)
        collection = self._db().create_collection(
            name, metadata=meta, embedding_function=None,
            configuration={"hnsw": {"space": metric, "max_neighbors": self.m,
                                    "ef_construction": self.ef_construction,
                                    "ef_search": self.ef_search}})
        coll = self._colls[ref] = _Coll(info, collection, self.path / "bm25")
        coll.bm25.remove_files()  # leftovers of a collection dropped behind the store's back
        return info

    async def get_collection(self, ref: CollectionRef) -> CollectionInfo | None:
        coll = await self._call(self._live, ref)
        return None if coll is None else coll.info

    async def list_collections(self, tenant: str) -> list[CollectionInfo]:
        now = time.time()
        return [info for info in await self._call(self._list, tenant)
                if info.expires_at is None or info.expires_at > now]

    def _list(self, tenant: str | None) -> list[CollectionInfo]:
        infos = []
        for collection in self._db().list_collections():
            meta = dict(collection.metadata or {})
            if _is_plait(meta) and (tenant is None or meta[_P + "tenant"] == tenant):
                infos.append(_info(meta))
        return sorted(infos, key=lambda i: (i.ref.tenant, i.ref.namespace, i.ref.name))

    async def drop_collection(self, ref: CollectionRef) -> bool:
        return await self._call(self._drop_ref, ref)

    def _drop_ref(self, ref: CollectionRef) -> bool:
        coll = self._open(ref)
        if coll is None:
            return False
        live = not coll.expired
        self._drop(coll)
        return live

    async def expire(self, now: float | None = None) -> int:
        return await self._call(self._expire, time.time() if now is None else now)

    def _expire(self, now: float) -> int:
        dropped = 0
        for info in self._list(None):
            if info.expires_at is not None and info.expires_at <= now:
                coll = self._open(info.ref)
                if coll is not None:
                    self._drop(coll)
                    dropped += 1
        return dropped

    # -- records ----------------------------------------------------------------------------

    async def upsert(self, ref: CollectionRef, records: Sequence[Record]) -> None:
        await self._call(self._upsert, ref, list(records))

    def _upsert(self, ref: CollectionRef, records: list[Record]) -> None:
        coll = self._need(ref)
        batch, matrix = check_batch(records, coll.info.dim)  # all checked, then written
        metas = [_chroma_meta(r) for r in batch]
        step = self._db().get_max_batch_size()
        for at in range(0, len(batch), step):
            self._upsert_batch(coll, batch[at:at + step], matrix[at:at + step],
                               metas[at:at + step])

    @staticmethod
    def _upsert_batch(coll: _Coll, batch: list[Record], vectors: Vectors,
                      metas: list[dict[str, Any]]) -> None:
        ids = [r.id for r in batch]
        # Chroma's upsert merges metadata: delete the fields a replacement no longer has.
        old = coll.collection.get(ids=ids, include=["metadatas"])
        old_meta = dict(zip(old["ids"], old["metadatas"] or [], strict=True))
        for rid, meta in zip(ids, metas, strict=True):
            for key in old_meta.get(rid) or {}:
                meta.setdefault(key, None)

        def write() -> None:
            coll.collection.upsert(ids=ids, embeddings=vectors,
                                   documents=[r.text for r in batch],
                                   metadatas=cast(Any, metas))

        coll.bm25.write({"add": [[r.id, r.text] for r in batch]}, write)

    async def delete(self, ref: CollectionRef, ids: Sequence[str] | None = None, *,
                     where: Filter | None = None) -> int:
        if ids is None and where is None:
            raise UsageError("delete needs ids=, where= or both")
        return await self._call(self._delete, ref, None if ids is None else list(ids), where)

    def _delete(self, ref: CollectionRef, ids: list[str] | None, where: Filter | None) -> int:
        coll = self._need(ref)
        if ids is not None and not ids:
            return 0
        include: Any = ["metadatas"] if where is not None else []
        if ids is not None:
            found = self._get_ids(coll, list(dict.fromkeys(ids)), include)
        else:
            assert where is not None
            found = self._get_where(coll, where, include)
        targets = [i for i, meta in found
                   if where is None or matches(where, _exact_meta(meta))]
        for start in range(0, len(targets), self._ID_BATCH):
            chunk = targets[start:start + self._ID_BATCH]
            coll.bm25.write({"remove": chunk}, functools.partial(coll.collection.delete,
                                                                 ids=chunk))
        return len(targets)

    def _get_ids(self, coll: _Coll, ids: list[str],
                 include: Any) -> list[tuple[str, Mapping[str, Any] | None]]:
        out: list[tuple[str, Mapping[str, Any] | None]] = []
        for start in range(0, len(ids), self._ID_BATCH):
            got = coll.collection.get(ids=ids[start:start + self._ID_BATCH], include=include)
            metas: list[Any] = got["metadatas"] or [None] * len(got["ids"])
            out.extend(zip(got["ids"], metas, strict=True))
        return out

    def _get_where(self, coll: _Coll, where: Filter | None,
                   include: Any) -> list[tuple[str, Mapping[str, Any] | None]]:
        """Every (id, metadata) the pushed-down part of ``where`` lets through, by pages."""
        push = None if where is None else chroma_where(where)[0]
        out: list[tuple[str, Mapping[str, Any] | None]] = []
        offset = 0
        while True:
            got = coll.collection.get(where=push, include=include, limit=self._ID_BATCH,
                                      offset=offset)
            metas: list[Any] = got["metadatas"] or [None] * len(got["ids"])
            out.extend(zip(got["ids"], metas, strict=True))
            if len(got["ids"]) < self._ID_BATCH:
                return out
            offset += self._ID_BATCH

    async def get(self, ref: CollectionRef, ids: Sequence[str], *,
                  with_vectors: bool = False) -> list[Record]:
        return await self._call(self._get, ref, list(ids), with_vectors)

    def _get(self, ref: CollectionRef, ids: list[str], with_vectors: bool) -> list[Record]:
        coll = self._need(ref)
        wanted = list(dict.fromkeys(ids))
        include: Any = ["documents", "metadatas", *(["embeddings"] if with_vectors else [])]
        by_id: dict[str, Record] = {}
        for start in range(0, len(wanted), self._ID_BATCH):
            got = coll.collection.get(ids=wanted[start:start + self._ID_BATCH],
                                      include=include)
            embeddings = got["embeddings"] if with_vectors else None
            for n, rid in enumerate(got["ids"]):
                meta = (got["metadatas"] or [])[n] or {}
                vector = (None if embeddings is None
                          else np.asarray(embeddings[n], dtype=np.float32))
                by_id[rid] = Record(
                    id=rid, text=(got["documents"] or [])[n] or "", vector=vector,
                    doc_id=str(meta.get(_P + "doc_id", "")),
                    doc_hash=str(meta.get(_P + "doc_hash", "")), metadata=_exact_meta(meta))
        return [by_id[i] for i in wanted if i in by_id]

    async def search(self, ref: CollectionRef, vector: Vectors, *, k: int = 10,
                     where: Filter | None = None, with_vectors: bool = False) -> list[Hit]:
        return await self._call(self._search, ref, vector, k, where, with_vectors)

    def _search(self, ref: CollectionRef, vector: Vectors, k: int, where: Filter | None,
                with_vectors: bool) -> list[Hit]:
        coll = self._need(ref)
        query = check_vector(vector, coll.info.dim, "query")
        if k <= 0:
            return []
        push, exact = (None, True) if where is None else chroma_where(where)
        include: Any = ["documents", "metadatas", "distances",
                        *(["embeddings"] if with_vectors else [])]
        n = k if exact else 4 * k
        while True:  # Chroma returns fewer than n_results when it has no more
            got = coll.collection.query(query_embeddings=query[None, :], n_results=n, where=push,
                                        include=include)
            ids = got["ids"][0]
            hits = []
            for j, rid in enumerate(ids):
                meta = (got["metadatas"] or [[]])[0][j] or {}
                exact_meta = _exact_meta(meta)
                if where is not None and not matches(where, exact_meta):
                    continue
                vec = (np.asarray(got["embeddings"][0][j], dtype=np.float32)  # type: ignore[index]
                       if with_vectors else None)
                hits.append(Hit(
                    id=rid, score=self._score(coll.info.metric,
                                              float((got["distances"] or [[]])[0][j])),
                    text=(got["documents"] or [[]])[0][j] or "",
                    doc_id=str(meta.get(_P + "doc_id", "")), metadata=exact_meta,
                    vector=vec))
            if len(hits) >= k or len(ids) < n:
                return hits[:k]
            n *= 4

    @staticmethod
    def _score(metric: Metric, distance: float) -> float:
        """Chroma's distance as a higher-is-better score: cosine similarity, inner product,
        or minus the Euclidean distance (Chroma's l2 is squared)."""
        if metric == "l2":
            return -math.sqrt(max(distance, 0.0))
        return 1.0 - distance

    async def keyword_search(self, ref: CollectionRef, query: str, *, k: int = 10,
                             where: Filter | None = None) -> list[Hit]:
        return await self._call(self._keyword, ref, query, k, where)

    def _keyword(self, ref: CollectionRef, query: str, k: int,
                 where: Filter | None) -> list[Hit]:
        coll = self._need(ref)
        if k <= 0:
            return []
        index = coll.bm25.load()
        n = k if where is None else 4 * k
        seen: dict[str, Record] = {}
        while True:
            pairs = index.search(query, n)
            new = [i for i, _ in pairs if i not in seen]
            if new:
                for record in self._get(ref, new, False):
                    seen[record.id] = record
            hits = [Hit(id=i, score=score, text=seen[i].text, doc_id=seen[i].doc_id,
                        metadata=seen[i].metadata)
                    for i, score in pairs
                    if i in seen and (where is None or matches(where, seen[i].metadata))]
            if len(hits) >= k or len(pairs) < n:
                return hits[:k]
            n *= 4

    async def doc_hashes(self, ref: CollectionRef) -> dict[str, str]:
        return await self._call(self._doc_hashes, ref)

    def _doc_hashes(self, ref: CollectionRef) -> dict[str, str]:
        coll = self._need(ref)
        return {str(m.get(_P + "doc_id", "")): str(m.get(_P + "doc_hash", ""))
                for _, m in self._get_where(coll, None, ["metadatas"]) if m is not None}

    async def scan(self, ref: CollectionRef, *, batch: int = 256,
                   with_vectors: bool = False) -> AsyncIterator[list[Record]]:
        """Every record in id order (code points): the ids are listed once, then fetched."""
        if batch <= 0:
            raise UsageError(f"batch must be positive, got {batch}")
        ids = await self._call(self._all_ids, ref)
        for start in range(0, len(ids), batch):
            records = await self._call(self._get, ref, ids[start:start + batch], with_vectors)
            if records:
                yield records

    def _all_ids(self, ref: CollectionRef) -> list[str]:
        return sorted(i for i, _ in self._get_where(self._need(ref), None, []))

    async def stats(self, ref: CollectionRef) -> CollectionStats:
        return await self._call(self._stats, ref)

    def _stats(self, ref: CollectionRef) -> CollectionStats:
        coll = self._need(ref)
        metas = self._get_where(coll, None, ["metadatas"])
        docs = {str(m.get(_P + "doc_id", "")) for _, m in metas if m is not None}
        return CollectionStats(ref=ref, count=len(metas), documents=len(docs),
                               dim=coll.info.dim, embedder=coll.info.embedder, bytes=None)
