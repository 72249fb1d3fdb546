"""A :class:`~plait.rag.types.VectorStore` on PostgreSQL with pgvector, through asyncpg.

::

    store = PgVectorStore("postgresql://user@host/db")
    await store.create_collection(CollectionRef("acme", "docs"), dim=384)

**Layout.** The schema is created on first use (idempotent, under an advisory lock):
``plait_rag_collections`` has one row per collection (tenant, namespace, name, dim, metric,
embedder, ``expires_at``) and each collection has its own chunks table
``plait_rag_chunks_<id>`` holding ``tenant, id, doc_id, doc_hash, text, metadata jsonb,
embedding vector(dim)`` and a stored ``tsvector`` of the text. Per-collection tables give each
collection its own dimension, an HNSW index over exactly its rows (no partial-index planning
surprises with bound parameters), an instant ``DROP TABLE`` and an exact
``pg_total_relation_size``.

**Tenant isolation** is structural: a chunks table is only reached through a lookup keyed by
the full ``(tenant, namespace, name)``; its rows carry their tenant, a ``CHECK`` constraint pins
the table to that one tenant, and every query has ``tenant = $1`` in its ``WHERE`` clause.

**Search.** HNSW (``vector_cosine_ops`` / ``vector_l2_ops`` / ``vector_ip_ops``, ``m`` and
``ef_construction`` configurable) with ``hnsw.ef_search`` raised for recall and
``hnsw.iterative_scan = strict_order`` so a filtered search keeps walking the graph until it
has ``k`` matches; when the index still returns fewer than ``k``, the query is repeated as an
exact scan, so a selective filter never loses results. Collections above 2,000 dimensions
(pgvector's HNSW limit) are searched exactly.

**Filters** compile to SQL over the ``jsonb`` metadata with every value bound as a parameter
(field names too); see :func:`compile_filter`. The semantics are exactly
:func:`plait.rag.filters.matches`: equality through ``@>`` containment (numeric equality,
booleans never equal numbers, ``null`` equals ``null``), ranges only between two numbers or two
strings (code-point order), and a missing field satisfies only ``$ne`` / ``$nin``.

**Keyword search** is PostgreSQL full-text search: ``to_tsvector('english', text)`` in a GIN
index, the query's lexemes OR-ed together, ranked by ``ts_rank_cd`` (cover density, normalized
by document length). That is PostgreSQL's ranking, not BM25: scores are not comparable with
the embedded store's BM25, and hybrid fusion by rank (RRF) is the better fit.

Vectors travel as ``float4[]`` and are cast to ``vector`` by the server, so any asyncpg pool
works without a type codec.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar, cast

import numpy as np

from plait.errors import CollectionExists, CollectionNotFound, DimensionMismatch, UsageError
from plait.rag.filters import And, Eq, Filter, In, Ne, Not, Or, Range
from plait.rag.stores.checks import check_batch, check_collection_args, check_vector
from plait.rag.types import (
    CollectionInfo,
    CollectionRef,
    CollectionStats,
    Hit,
    Metadata,
    Record,
)

if TYPE_CHECKING:
    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    from plait.rag.types import Vectors

    Conn = PoolConnectionProxy[asyncpg.Record]

__all__ = ["PgVectorStore", "compile_filter"]

Metric = Literal["cosine", "l2", "ip"]
T = TypeVar("T")
_OPS: dict[str, tuple[str, str]] = {
    # metric -> (distance operator, HNSW operator class)
    "cosine": ("<=>", "vector_cosine_ops"),
    "l2": ("<->", "vector_l2_ops"),
    "ip": ("<#>", "vector_ip_ops"),
}
_HNSW_MAX_DIM = 2000
_SCHEMA_LOCK = 0x706C616974_01  # pg_advisory_xact_lock key for schema creation
_COLUMNS = "id, text, doc_id, doc_hash, metadata::text"

_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS plait_rag_collections (
    id          bigserial PRIMARY KEY,
    tenant      text NOT NULL,
    namespace   text NOT NULL,
    name        text NOT NULL,
    dim         integer NOT NULL CHECK (dim > 0),
    metric      text NOT NULL CHECK (metric IN ('cosine', 'l2', 'ip')),
    embedder    text,
    expires_at  double precision,
    created_at  double precision NOT NULL,
    UNIQUE (tenant, namespace, name)
);
CREATE INDEX IF NOT EXISTS plait_rag_collections_expires
    ON plait_rag_collections (expires_at) WHERE expires_at IS NOT NULL;
"""


# -- filters -----------------------------------------------------------------------------------


class _Params:
    """Collects bound parameters; ``add`` returns the placeholder (``$n``)."""

    def __init__(self, start: int) -> None:
        self.values: list[object] = []
        self._start = start

    def add(self, value: object) -> str:
        self.values.append(value)
        return f"${self._start + len(self.values) - 1}"


def compile_filter(f: Filter, *, first_param: int = 1,
                   column: str = "metadata") -> tuple[str, list[object]]:
    """SQL for ``f`` over a ``jsonb`` column, and its parameters (numbered from
    ``first_param``). Every predicate is two-valued (never SQL ``NULL``), so ``NOT`` keeps the
    reference semantics of :func:`plait.rag.filters.matches`."""
    params = _Params(first_param)
    return _compile(f, params, column), params.values


def _number(value: int | float) -> str:
    """JSON text of a number that ``numeric`` compares exactly as Python does: an integral
    float beyond 2**53 is written with all its digits (``repr`` would round it)."""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 2**53:
        return f"{int(value)}.0"
    return json.dumps(value, allow_nan=False)


def _json_object(metadata: Metadata) -> str:
    """Flat metadata as JSON text for ``jsonb`` (numbers by :func:`_number`)."""
    return "{" + ", ".join(
        f"{json.dumps(str(k))}: "
        f"{_number(v) if isinstance(v, int | float) and not isinstance(v, bool) else json.dumps(v)}"
        for k, v in metadata.items()) + "}"


def _eq_sql(name: str, value: object, p: _Params, col: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "FALSE"  # stored metadata is always finite (JSON); nan never equals anything
    return f"({col} @> {p.add(_json_object({name: value}))}::jsonb)"  # type: ignore[dict-item]


def _bound_sql(name: str, op: str, bound: object, p: _Params, col: str) -> str:
    if isinstance(bound, bool) or not isinstance(bound, int | float | str):
        return "FALSE"  # matches(): booleans are never ordered
    if isinstance(bound, str):
        field = p.add(name)
        return (f"(CASE WHEN jsonb_typeof({col} -> {field}) = 'string' THEN "
                f"({col} ->> {field}) COLLATE \"C\" {op} ({p.add(bound)}::text) COLLATE \"C\" "
                "ELSE FALSE END)")
    if isinstance(bound, float) and math.isnan(bound):
        # matches() compares against nan as "equal": >= and <= hold, > and < do not.
        return f"(jsonb_typeof({col} -> {p.add(name)}) = 'number')" if op in (">=", "<=") \
            else "FALSE"
    if isinstance(bound, float) and math.isinf(bound):
        text = "Infinity" if bound > 0 else "-Infinity"
    else:
        text = _number(bound)
    field = p.add(name)
    return (f"(CASE WHEN jsonb_typeof({col} -> {field}) = 'number' THEN "
            f"({col} ->> {field})::numeric {op} {p.add(text)}::numeric ELSE FALSE END)")


def _compile(f: Filter, p: _Params, col: str) -> str:
    match f:
        case Eq(field=name, value=value):
            return _eq_sql(name, value, p, col)
        case Ne(field=name, value=value):
            return f"(NOT {_eq_sql(name, value, p, col)})"
        case In(field=name, values=values, negate=negate):
            any_of = " OR ".join(_eq_sql(name, v, p, col) for v in values) or "FALSE"
            return f"(NOT ({any_of}))" if negate else f"({any_of})"
        case Range(field=name):
            parts = [_bound_sql(name, op, bound, p, col)
                     for op, bound in ((">", f.gt), (">=", f.gte), ("<", f.lt), ("<=", f.lte))
                     if bound is not None]
            if not parts:
                return f"({col} ? {p.add(name)})"
            return "(" + " AND ".join(parts) + ")"
        case And(items=items):
            return "(" + (" AND ".join(_compile(i, p, col) for i in items) or "TRUE") + ")"
        case Or(items=items):
            return "(" + (" OR ".join(_compile(i, p, col) for i in items) or "FALSE") + ")"
        case Not(item=item):
            return f"(NOT {_compile(item, p, col)})"
    raise TypeError(f"not a filter: {f!r}")


# -- the store ---------------------------------------------------------------------------------


class _Coll:
    """A resolved collection: its info, its chunks table, and the rows this process wrote
    since it last refreshed the table's planner statistics."""

    __slots__ = ("analyzed", "info", "table", "written")

    def __init__(self, info: CollectionInfo, table: str) -> None:
        self.info = info
        self.table = table
        self.written = 0
        self.analyzed = 0


def _table(coll_id: int) -> str:
    return f"plait_rag_chunks_{int(coll_id)}"


def _info(row: asyncpg.Record) -> CollectionInfo:
    return CollectionInfo(
        ref=CollectionRef(tenant=row["tenant"], namespace=row["namespace"], name=row["name"]),
        dim=row["dim"], metric=cast(Metric, row["metric"]), embedder=row["embedder"],
        expires_at=row["expires_at"], created_at=row["created_at"])


def _record(row: asyncpg.Record, with_vectors: bool) -> Record:
    vector = (np.asarray(row["embedding"], dtype=np.float32)
              if with_vectors and row["embedding"] is not None else None)
    return Record(id=row["id"], text=row["text"], vector=vector, doc_id=row["doc_id"],
                  doc_hash=row["doc_hash"], metadata=cast(Metadata, json.loads(row["metadata"])))


class PgVectorStore:
    """PostgreSQL + pgvector. Give a libpq ``url`` (the store opens and closes its own pool) or
    an asyncpg ``pool`` (left open on :meth:`close`).

    ``m`` and ``ef_construction`` shape new collections' HNSW indexes. ``ef_search`` is the
    candidate list of an unfiltered search and ``filtered_ef_search`` of a filtered one (at
    least ``k``, at most pgvector's 1,000): a filter discards candidates, so it needs a longer
    list for the same recall. Raise them for recall at the cost of latency (measured figures
    in ``docs/rag/backends.md``)."""

    def __init__(self, url: str | None = None, *, pool: asyncpg.Pool | None = None,
                 min_size: int = 1, max_size: int = 10, m: int = 16,
                 ef_construction: int = 64, ef_search: int = 100,
                 filtered_ef_search: int = 400, max_scan_tuples: int = 20_000) -> None:
        if (url is None) == (pool is None):
            raise UsageError("PgVectorStore needs exactly one of url= or pool=")
        if url is not None:
            url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.url = url
        self._pool = pool
        self._own_pool = pool is None
        self._pool_size = (min_size, max_size)
        self.m = int(m)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        self.filtered_ef_search = int(filtered_ef_search)
        self.max_scan_tuples = int(max_scan_tuples)
        self._ready = False
        self._init_lock = asyncio.Lock()
        self._cache: dict[CollectionRef, _Coll] = {}
        self._session_settings: dict[str, str] = {}

    # -- connection and schema --------------------------------------------------------------

    async def _db(self) -> asyncpg.Pool:
        if self._ready:
            assert self._pool is not None
            return self._pool
        async with self._init_lock:
            if self._pool is None:
                self._session_settings = self._search_settings(0)
                try:
                    import asyncpg
                except ImportError as exc:  # pragma: no cover - depends on the install
                    raise UsageError("PgVectorStore needs asyncpg: pip install "
                                     "'plait[postgres]'") from exc
                self._pool = await asyncpg.create_pool(
                    self.url, min_size=self._pool_size[0], max_size=self._pool_size[1],
                    server_settings=self._session_settings)
            if not self._ready:
                async with self._pool.acquire() as conn, conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                    await conn.execute(_SCHEMA)
                self._ready = True
        return self._pool

    async def close(self) -> None:
        """Close the pool the store opened (a pool given to it stays open)."""
        self._ready = False
        self._cache.clear()
        if self._own_pool:
            pool, self._pool = self._pool, None
            if pool is not None:
                await pool.close()

    # -- collections ------------------------------------------------------------------------

    async def create_collection(self, ref: CollectionRef, *, dim: int,
                                metric: Metric = "cosine", embedder: str | None = None,
                                ttl: float | None = None,
                                exist_ok: bool = False) -> CollectionInfo:
        check_collection_args(dim, metric, ttl)
        pool = await self._db()
        now = time.time()
        expires = None if ttl is None else now + ttl
        async with pool.acquire() as conn, conn.transaction():
            await self._drop_expired(conn, ref)
            coll_id = await conn.fetchval(
                "INSERT INTO plait_rag_collections "
                "(tenant, namespace, name, dim, metric, embedder, expires_at, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (tenant, namespace, name) DO NOTHING RETURNING id",
                ref.tenant, ref.namespace, ref.name, dim, metric, embedder, expires, now)
            if coll_id is None:
                existing = await self._lookup(conn, ref)
                assert existing is not None
                if not exist_ok:
                    raise CollectionExists(ref)
                if existing.info.dim != dim:
                    raise DimensionMismatch(
                        f"collection {ref} holds {existing.info.dim}-dim vectors, not {dim}",
                        expected=existing.info.dim, actual=dim)
                return existing.info
            await self._create_table(conn, _table(coll_id), ref.tenant, dim, metric)
        info = CollectionInfo(ref=ref, dim=dim, metric=metric, embedder=embedder,
                              expires_at=expires, created_at=now)
        self._cache[ref] = _Coll(info, _table(coll_id))
        return info

    async def _create_table(self, conn: Conn, table: str, tenant: str,
                            dim: int, metric: str) -> None:
        await conn.execute(f"""
            CREATE TABLE {table} (
                tenant    text NOT NULL,
                id        text COLLATE "C" NOT NULL,
                doc_id    text NOT NULL DEFAULT '',
                doc_hash  text NOT NULL DEFAULT '',
                text      text NOT NULL DEFAULT '',
                metadata  jsonb NOT NULL DEFAULT '{{}}',
                embedding vector({int(dim)}) NOT NULL,
                tsv       tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
                PRIMARY KEY (tenant, id)
            )""")
        # The tenant pin is quoted by the server (format %L), never by string formatting here.
        pin = await conn.fetchval(
            "SELECT format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (tenant = %L)', "
            "$1::text, $2::text, $3::text)", table, f"{table}_tenant", tenant)
        await conn.execute(pin)
        await conn.execute(f"CREATE INDEX {table}_tsv ON {table} USING gin (tsv)")
        await conn.execute(
            f"CREATE INDEX {table}_meta ON {table} USING gin (metadata jsonb_path_ops)")
        if dim <= _HNSW_MAX_DIM:
            await conn.execute(
                f"CREATE INDEX {table}_hnsw ON {table} USING hnsw "
                f"(embedding {_OPS[metric][1]}) "
                f"WITH (m = {self.m}, ef_construction = {self.ef_construction})")

    async def _lookup(self, conn: Conn | asyncpg.Pool,
                      ref: CollectionRef) -> _Coll | None:
        row = await conn.fetchrow(
            "SELECT * FROM plait_rag_collections "
            "WHERE tenant = $1 AND namespace = $2 AND name = $3",
            ref.tenant, ref.namespace, ref.name)
        return None if row is None else _Coll(_info(row), _table(row["id"]))

    async def _drop_expired(self, conn: Conn, ref: CollectionRef) -> None:
        """Drop ``ref`` if its TTL has passed (so it can be created afresh)."""
        coll_id = await conn.fetchval(
            "DELETE FROM plait_rag_collections WHERE tenant = $1 AND namespace = $2 "
            "AND name = $3 AND expires_at <= $4 RETURNING id",
            ref.tenant, ref.namespace, ref.name, time.time())
        if coll_id is not None:
            await conn.execute(f"DROP TABLE IF EXISTS {_table(coll_id)}")
            self._cache.pop(ref, None)

    async def _resolve(self, ref: CollectionRef) -> _Coll | None:
        coll = self._cache.get(ref)
        if coll is None:
            coll = await self._lookup(await self._db(), ref)
            if coll is None:
                return None
            self._cache[ref] = coll
        expires = coll.info.expires_at
        if expires is not None and expires <= time.time():
            return None
        return coll

    async def _need(self, ref: CollectionRef) -> _Coll:
        coll = await self._resolve(ref)
        if coll is None:
            raise CollectionNotFound(ref)
        return coll

    async def _run(self, ref: CollectionRef,
                   op: Callable[[Conn, _Coll], Awaitable[T]]) -> T:
        """Run ``op(conn, coll)``; when the cached table went away (dropped by another
        process), forget it and retry once with a fresh lookup."""
        import asyncpg

        for attempt in (0, 1):
            coll = await self._need(ref)
            pool = await self._db()
            try:
                async with pool.acquire() as conn:
                    return await op(conn, coll)
            except asyncpg.UndefinedTableError:
                self._cache.pop(ref, None)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def get_collection(self, ref: CollectionRef) -> CollectionInfo | None:
        self._cache.pop(ref, None)  # always fresh: another process may have changed it
        coll = await self._resolve(ref)
        return None if coll is None else coll.info

    async def list_collections(self, tenant: str) -> list[CollectionInfo]:
        pool = await self._db()
        rows = await pool.fetch(
            "SELECT * FROM plait_rag_collections WHERE tenant = $1 "
            "AND (expires_at IS NULL OR expires_at > $2) ORDER BY namespace, name",
            tenant, time.time())
        return [_info(r) for r in rows]

    async def drop_collection(self, ref: CollectionRef) -> bool:
        pool = await self._db()
        self._cache.pop(ref, None)
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "DELETE FROM plait_rag_collections WHERE tenant = $1 AND namespace = $2 "
                "AND name = $3 RETURNING id, expires_at",
                ref.tenant, ref.namespace, ref.name)
            if row is None:
                return False
            await conn.execute(f"DROP TABLE IF EXISTS {_table(row['id'])}")
        expires = row["expires_at"]
        return expires is None or expires > time.time()

    async def expire(self, now: float | None = None) -> int:
        pool = await self._db()
        now = time.time() if now is None else now
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "DELETE FROM plait_rag_collections WHERE expires_at <= $1 "
                "RETURNING id, tenant, namespace, name", now)
            for row in rows:
                await conn.execute(f"DROP TABLE IF EXISTS {_table(row['id'])}")
        for row in rows:
            self._cache.pop(CollectionRef(row["tenant"], row["name"], row["namespace"]), None)
        return len(rows)

    # -- records ----------------------------------------------------------------------------

    async def upsert(self, ref: CollectionRef, records: Sequence[Record]) -> None:
        if not records:
            await self._need(ref)
            return

        async def op(conn: Conn, coll: _Coll) -> None:
            batch, matrix = check_batch(records, coll.info.dim)  # all checked, then written
            rows = [(ref.tenant, r.id, r.doc_id, r.doc_hash, r.text, _json_object(r.metadata), v)
                    for r, v in zip(batch, matrix.tolist(), strict=True)]
            async with conn.transaction():
                await conn.executemany(
                    f"INSERT INTO {coll.table} "
                    "(tenant, id, doc_id, doc_hash, text, metadata, embedding) "
                    "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::float4[]::vector) "
                    "ON CONFLICT (tenant, id) DO UPDATE SET doc_id = EXCLUDED.doc_id, "
                    "doc_hash = EXCLUDED.doc_hash, text = EXCLUDED.text, "
                    "metadata = EXCLUDED.metadata, embedding = EXCLUDED.embedding", rows)
            await self._maybe_analyze(conn, coll, len(rows))

        await self._run(ref, op)

    @staticmethod
    async def _maybe_analyze(conn: Conn, coll: _Coll, rows: int) -> None:
        """Refresh planner statistics each time the rows written by this process reach the
        count at the last refresh (at least 1,000): without them the planner misjudges the
        tenant and metadata predicates and sorts the whole table instead of walking the
        HNSW graph. Autovacuum does the same, later."""
        coll.written += rows
        if coll.written < max(1000, coll.analyzed):
            return
        await conn.execute(f"ANALYZE {coll.table}")
        coll.analyzed = int(await conn.fetchval(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::regclass",
            coll.table))
        coll.written = 0

    async def delete(self, ref: CollectionRef, ids: Sequence[str] | None = None, *,
                     where: Filter | None = None) -> int:
        if ids is None and where is None:
            raise UsageError("delete needs ids=, where= or both")
        if ids is not None and not ids:
            await self._need(ref)
            return 0
        sql, params = ["tenant = $1"], [ref.tenant]
        if ids is not None:
            sql.append("id = ANY($2::text[])")
            params.append(list(ids))  # type: ignore[arg-type]
        if where is not None:
            cond, values = compile_filter(where, first_param=len(params) + 1)
            sql.append(cond)
            params.extend(values)  # type: ignore[arg-type]

        async def op(conn: Conn, coll: _Coll) -> int:
            status = await conn.execute(
                f"DELETE FROM {coll.table} WHERE {' AND '.join(sql)}", *params)
            return int(status.split()[-1])

        return await self._run(ref, op)

    async def get(self, ref: CollectionRef, ids: Sequence[str], *,
                  with_vectors: bool = False) -> list[Record]:
        vec = ", embedding::float4[] AS embedding" if with_vectors else ""

        async def op(conn: Conn, coll: _Coll) -> list[Record]:
            if not ids:
                return []
            rows = await conn.fetch(
                f"SELECT {_COLUMNS}{vec} FROM {coll.table} "
                "WHERE tenant = $1 AND id = ANY($2::text[])", ref.tenant, list(ids))
            by_id = {row["id"]: _record(row, with_vectors) for row in rows}
            return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

        return await self._run(ref, op)

    async def search(self, ref: CollectionRef, vector: Vectors, *, k: int = 10,
                     where: Filter | None = None, with_vectors: bool = False) -> list[Hit]:
        if k <= 0:
            await self._need(ref)
            return []

        async def op(conn: Conn, coll: _Coll) -> list[Hit]:
            query = check_vector(vector, coll.info.dim, "query").tolist()
            dist_op = _OPS[coll.info.metric][0]
            # The query vector inline for the index path (measured twice as fast), and as an
            # InitPlan (cast once, not per row) for the exact scan.
            dist = f"(embedding {dist_op} $2::float4[]::vector)"
            once = f"(embedding {dist_op} (SELECT $2::float4[]::vector))"
            score = {"cosine": f"1 - {dist}", "l2": f"-{dist}", "ip": f"-{dist}"}[
                coll.info.metric]
            cond, values = ("TRUE", []) if where is None else compile_filter(where,
                                                                            first_param=4)
            vec = ", embedding::float4[] AS embedding" if with_vectors else ""
            sql = (f"SELECT {_COLUMNS}, {score} AS score{vec} FROM {coll.table} "
                   f"WHERE tenant = $1 AND {cond} ORDER BY {{order}} LIMIT $3")
            args = (ref.tenant, query, k, *values)
            await self._tune(conn, k, filtered=where is not None)
            rows = await conn.fetch(sql.format(order=dist), *args)
            if len(rows) < k and coll.info.dim <= _HNSW_MAX_DIM:
                # The graph walk can stop short under a selective filter: go exact. An order
                # by an expression of the distance is one no index can serve.
                rows = await conn.fetch(sql.format(order=f"{once} + 0, id"), *args)
            return [_hit(row, with_vectors) for row in rows]

        return await self._run(ref, op)

    def _search_settings(self, k: int, *, filtered: bool = False) -> dict[str, str]:
        ef = self.filtered_ef_search if filtered else self.ef_search
        return {"hnsw.ef_search": str(min(max(ef, k), 1000)),
                "hnsw.iterative_scan": "strict_order",
                "hnsw.max_scan_tuples": str(self.max_scan_tuples)}

    async def _tune(self, conn: Conn, k: int, *, filtered: bool) -> None:
        """Search settings for this session. The store's own pool has the unfiltered ones
        from the start (sent when connecting); a filtered search, a ``k`` above
        ``ef_search`` or a pool given to the store sets them here (asyncpg's pool resets them
        when the connection goes back)."""
        settings = self._search_settings(k, filtered=filtered)
        if self._own_pool and settings == self._session_settings:
            return
        await conn.execute(
            "SELECT set_config('hnsw.ef_search', $1, false), "
            "set_config('hnsw.iterative_scan', $2, false), "
            "set_config('hnsw.max_scan_tuples', $3, false)", *settings.values())

    async def keyword_search(self, ref: CollectionRef, query: str, *, k: int = 10,
                             where: Filter | None = None) -> list[Hit]:
        if k <= 0:
            await self._need(ref)
            return []
        tsq = ("(SELECT replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')"
               "::tsquery)")
        cond, values = ("TRUE", []) if where is None else compile_filter(where, first_param=4)

        async def op(conn: Conn, coll: _Coll) -> list[Hit]:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS}, ts_rank_cd(tsv, {tsq}, 1) AS score FROM {coll.table} "
                f"WHERE tenant = $1 AND tsv @@ {tsq} AND {cond} "
                "ORDER BY score DESC, id LIMIT $3", ref.tenant, query, k, *values)
            return [_hit(row, False) for row in rows]

        return await self._run(ref, op)

    async def doc_hashes(self, ref: CollectionRef) -> dict[str, str]:
        async def op(conn: Conn, coll: _Coll) -> dict[str, str]:
            rows = await conn.fetch(
                f"SELECT doc_id, max(doc_hash) AS doc_hash FROM {coll.table} "
                "WHERE tenant = $1 GROUP BY doc_id", ref.tenant)
            return {row["doc_id"]: row["doc_hash"] for row in rows}

        return await self._run(ref, op)

    async def scan(self, ref: CollectionRef, *, batch: int = 256,
                   with_vectors: bool = False) -> AsyncIterator[list[Record]]:
        """Every record in id order (code points), by keyset pagination."""
        if batch <= 0:
            raise UsageError(f"batch must be positive, got {batch}")
        after: str | None = None
        while True:
            records = await self._page(ref, after, batch, with_vectors)
            if not records:
                return
            yield records
            if len(records) < batch:
                return
            after = records[-1].id

    async def _page(self, ref: CollectionRef, after: str | None, batch: int,
                    with_vectors: bool) -> list[Record]:
        vec = ", embedding::float4[] AS embedding" if with_vectors else ""

        async def op(conn: Conn, coll: _Coll) -> list[Record]:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS}{vec} FROM {coll.table} WHERE tenant = $1 "
                "AND ($2::text IS NULL OR id > $2::text) ORDER BY id LIMIT $3",
                ref.tenant, after, batch)
            return [_record(row, with_vectors) for row in rows]

        return await self._run(ref, op)

    async def stats(self, ref: CollectionRef) -> CollectionStats:
        async def op(conn: Conn, coll: _Coll) -> CollectionStats:
            row = await conn.fetchrow(
                f"SELECT count(*) AS n, count(DISTINCT doc_id) AS docs, "
                f"pg_total_relation_size($2::regclass) AS bytes FROM {coll.table} "
                "WHERE tenant = $1", ref.tenant, coll.table)
            assert row is not None
            return CollectionStats(ref=ref, count=row["n"], documents=row["docs"],
                                   dim=coll.info.dim, embedder=coll.info.embedder,
                                   bytes=row["bytes"])

        return await self._run(ref, op)


def _hit(row: asyncpg.Record, with_vectors: bool) -> Hit:
    vector = (np.asarray(row["embedding"], dtype=np.float32)
              if with_vectors and row["embedding"] is not None else None)
    return Hit(id=row["id"], score=float(row["score"]), text=row["text"], doc_id=row["doc_id"],
               metadata=cast(Metadata, json.loads(row["metadata"])), vector=vector)
