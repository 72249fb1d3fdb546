"""PgVectorStore: the conformance suite, plus what only PostgreSQL shows: the SQL it sends
(bound parameters, the tenant in every WHERE clause), the tenant pinned on each chunks table,
filter edge cases checked row by row against ``matches()``, and HNSW under selective filters."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import numpy as np
import pytest

from plait.errors import CollectionNotFound
from plait.rag.filters import And, Eq, Filter, In, Ne, Not, Or, Range, matches
from plait.rag.stores.pgvector import PgVectorStore, compile_filter
from plait.rag.types import CollectionRef, Metadata, Record

from .conformance import (
    StoreFactory,
    VectorStoreConformance,
    brute_force,
    random_filter,
    random_metadata,
)

REF = CollectionRef("acme", "docs")


class TestPgVectorConformance(VectorStoreConformance):
    persistent = True

    @pytest.fixture
    def store_factory(self, pg_url: str) -> StoreFactory:
        async def open_store() -> PgVectorStore:
            return PgVectorStore(pg_url)

        return open_store  # type: ignore[return-value]


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PgVectorStore]:
    s = PgVectorStore(pg_url)
    yield s
    await s.close()


def vec(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


# -- filters, row by row --------------------------------------------------------------------------

EDGE_ROWS: list[Metadata] = [
    {},
    {"a": 1}, {"a": 1.0}, {"a": True}, {"a": False}, {"a": 0}, {"a": None}, {"a": "1"},
    {"a": 2**60}, {"a": 2**60 + 1}, {"a": -0.5}, {"a": 1e300}, {"a": 3.25},
    {"a": ""}, {"a": "Z"}, {"a": "a"}, {"a": "é"}, {"a": "z"}, {"a": "ab"}, {"a": "\U0001f389"},
    {"b": 1}, {"a": 1, "b": "x"},
]

EDGE_FILTERS: list[Filter] = [
    Eq("a", 1), Eq("a", 1.0), Eq("a", True), Eq("a", False), Eq("a", 0), Eq("a", None),
    Eq("a", "1"), Eq("a", 2**60), Eq("a", float(2**60)), Eq("a", math.nan), Eq("a", math.inf),
    Ne("a", 1), Ne("a", None), Ne("a", True), Ne("a", "z"),
    In("a", ()), In("a", (), negate=True), In("a", (1, "z", None)),
    In("a", (True, 0), negate=True),
    Range("a"), Range("a", gt=0), Range("a", gte=1, lte=1), Range("a", lt=2**60 + 1),
    Range("a", gt=math.nan), Range("a", gte=math.nan), Range("a", lte=math.nan),
    Range("a", lt=math.inf), Range("a", gt=-math.inf), Range("a", gt=True),  # type: ignore[arg-type]
    Range("a", gte="a", lt="z"), Range("a", gt="Z"), Range("a", lte=""), Range("a", gt="z"),
    Range("b", gte=0), Not(Range("a", gt=0)), Not(Eq("a", None)),
    And(), Or(), Not(And()), Not(Or()), And(Eq("a", 1), Eq("b", "x")),
    Or(Eq("b", 1), Range("a", gte="z")),
]


async def test_compiled_filters_match_reference_row_by_row(store: PgVectorStore) -> None:
    """Every edge filter, compiled to SQL, selects exactly the rows ``matches()`` accepts."""
    pool = await store._db()
    async with pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE m (n int, metadata jsonb NOT NULL)")
        await conn.executemany("INSERT INTO m VALUES ($1, $2::jsonb)",
                               [(i, json.dumps(r)) for i, r in enumerate(EDGE_ROWS)])
        for flt in EDGE_FILTERS:
            sql, params = compile_filter(flt)
            got = [r["n"] for r in await conn.fetch(
                f"SELECT n FROM m WHERE {sql} ORDER BY n", *params)]
            want = [i for i, row in enumerate(EDGE_ROWS) if matches(flt, row)]
            assert got == want, (flt, sql)
        rng = random.Random(7)
        rows = [random_metadata(rng) for _ in range(150)]
        await conn.execute("TRUNCATE m")
        await conn.executemany("INSERT INTO m VALUES ($1, $2::jsonb)",
                               [(i, json.dumps(r)) for i, r in enumerate(rows)])
        for _ in range(300):
            flt = random_filter(rng)
            sql, params = compile_filter(flt)
            got = [r["n"] for r in await conn.fetch(
                f"SELECT n FROM m WHERE {sql} ORDER BY n", *params)]
            assert got == [i for i, row in enumerate(rows) if matches(flt, row)], flt


def test_compiled_filters_bind_every_value() -> None:
    nasty = "x'); DROP TABLE plait_rag_collections; --"
    sql, params = compile_filter(And(Eq(nasty, nasty), Range(nasty, gte=nasty),
                                     In("$1", (nasty, 3)), Range("a")), first_param=4)
    assert nasty not in sql
    assert "DROP" not in sql
    assert set(re.findall(r"\$\d+", sql)) == {f"${i}" for i in range(4, 4 + len(params))}
    assert any(nasty in str(p) for p in params)


async def test_injection_attempts_are_data(store: PgVectorStore) -> None:
    nasty = ["'; DROP TABLE plait_rag_collections; --", 'a"b', "$1", "\\", "%s", "?|",
             "x' OR '1'='1", "é\u200b", "a->>'b'"]
    refs = [CollectionRef(t, n, namespace=t) for t in nasty[:4] for n in nasty[4:7]]
    for ref in refs:
        await store.create_collection(ref, dim=2)
        await store.upsert(ref, [Record(id=name, text=name, vector=vec(1, i + 1),
                                        metadata={name: name, "owner": str(ref)})
                                 for i, name in enumerate(nasty)])
    for ref in refs:
        for name in nasty:
            hits = await store.search(ref, vec(1, 1), k=20, where=Eq(name, name))
            assert [h.id for h in hits] == [name]
            assert hits[0].metadata["owner"] == str(ref)
            words = await store.keyword_search(ref, name, k=20, where=Ne(name, name))
            assert name not in [h.id for h in words]
        assert len(await store.get(ref, nasty)) == len(nasty)
        assert await store.delete(ref, where=In(nasty[0], (nasty[0], nasty[1]))) == 1
    listed = await store.list_collections(nasty[0])
    assert sorted(c.ref.name for c in listed) == sorted(nasty[4:7])
    pool = await store._db()
    assert await pool.fetchval("SELECT count(*) FROM plait_rag_collections") == len(refs)


# -- tenant isolation, in the database itself -----------------------------------------------------

async def test_each_chunks_table_is_pinned_to_its_tenant(store: PgVectorStore) -> None:
    refs = [CollectionRef(t, "kb", namespace=ns) for t in ("t1", "t2", "o'brien")
            for ns in ("default", "x")]
    for i, ref in enumerate(refs):
        await store.create_collection(ref, dim=2)
        await store.upsert(ref, [Record(id="same", text=ref.tenant, vector=vec(1, i))])
    pool = await store._db()
    rows = await pool.fetch("SELECT id, tenant FROM plait_rag_collections")
    assert len(rows) == len(refs)
    for row in rows:
        table = f"plait_rag_chunks_{row['id']}"
        tenants = await pool.fetch(f"SELECT DISTINCT tenant FROM {table}")
        assert [r["tenant"] for r in tenants] == [row["tenant"]]
        other = "t2" if row["tenant"] != "t2" else "t1"
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute(
                f"INSERT INTO {table} (tenant, id, embedding) VALUES ($1, 'x', '[1,1]')", other)
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute(f"UPDATE {table} SET tenant = $1", other)


class _Recording(asyncpg.Connection):  # type: ignore[misc]
    """A connection that records every SQL text it sends."""

    sent: list[str] = []

    async def execute(self, query: str, *args: Any, **kw: Any) -> Any:
        self.sent.append(query)
        return await super().execute(query, *args, **kw)

    async def executemany(self, command: str, args: Any, **kw: Any) -> Any:
        self.sent.append(command)
        return await super().executemany(command, args, **kw)

    async def fetch(self, query: str, *args: Any, **kw: Any) -> Any:
        self.sent.append(query)
        return await super().fetch(query, *args, **kw)

    async def fetchrow(self, query: str, *args: Any, **kw: Any) -> Any:
        self.sent.append(query)
        return await super().fetchrow(query, *args, **kw)

    async def fetchval(self, query: str, *args: Any, **kw: Any) -> Any:
        self.sent.append(query)
        return await super().fetchval(query, *args, **kw)


async def test_every_chunk_query_filters_on_the_tenant(pg_url: str) -> None:
    """Through a caller's pool that records the SQL: every statement that reads or writes a
    chunks table names the tenant (``tenant = $1``), and no value is spliced into SQL."""
    _Recording.sent = []
    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=3,
                                     connection_class=_Recording)
    store = PgVectorStore(pool=pool)
    secret = "s3cr3t-value"
    try:
        await store.create_collection(REF, dim=2)
        await store.upsert(REF, [Record(id="a", text="alpha " + secret, vector=vec(1, 0),
                                        doc_id="d", metadata={"k": secret})])
        await store.search(REF, vec(1, 0), k=3, where=Eq("k", secret))
        await store.search(REF, vec(1, 0), k=300)
        await store.keyword_search(REF, "alpha " + secret, where=Ne("k", secret))
        await store.get(REF, ["a"], with_vectors=True)
        await store.doc_hashes(REF)
        await store.stats(REF)
        async for _ in store.scan(REF, batch=1):
            pass
        await store.delete(REF, ["a"], where=Eq("k", secret))
        await store.delete(REF, where=Range("k", gte=secret))
    finally:
        await store.close()
    assert not pool.is_closing()  # a caller's pool stays open
    await pool.close()
    chunk_sql = [q for q in _Recording.sent
                 if "plait_rag_chunks_" in q and not q.lstrip().startswith(
                     ("CREATE", "ANALYZE", "ALTER", "DROP"))
                 and "format(" not in q]
    assert len(chunk_sql) >= 10
    for q in chunk_sql:
        if q.startswith("INSERT"):  # the row's tenant is $1, and part of the conflict key
            assert "(tenant, id, " in q, q
            assert "VALUES ($1, " in q, q
            assert "ON CONFLICT (tenant, id)" in q, q
        else:
            assert "tenant = $1" in q, q
    assert not [q for q in _Recording.sent if secret in q]


# -- search behaviour -----------------------------------------------------------------------------

async def test_a_filtered_graph_walk_that_stops_short_goes_exact(pg_url: str) -> None:
    """The planner walks the HNSW graph for a broad filter (a quarter of the rows), but every
    match lies far from the query: with a short candidate list and scan budget the walk gives
    up with fewer than k hits, and the exact pass returns the true top k. Unfiltered searches
    through the index (default settings) keep high recall."""
    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=2, server_settings={
        "enable_seqscan": "off", "enable_bitmapscan": "off"})
    store = PgVectorStore(pool=pool)
    short = PgVectorStore(pool=pool, filtered_ef_search=10, max_scan_tuples=1)
    try:
        await store.create_collection(REF, dim=16)
        rng = np.random.default_rng(0)
        vectors = rng.standard_normal((1200, 16)).astype(np.float32)
        query = rng.standard_normal(16).astype(np.float32)
        exact = brute_force(vectors, query, "cosine")
        far = set(np.argsort(exact)[:300].tolist())
        await store.upsert(REF, [Record(id=f"r{i:04d}", text="", vector=vectors[i],
                                        metadata={"far": i in far, "bucket": i % 10})
                                 for i in range(1200)])
        table = store._cache[REF].table
        plan = await pool.fetch(
            f"EXPLAIN SELECT id FROM {table} WHERE tenant = $1 AND metadata @> $3::jsonb "
            "ORDER BY embedding <=> (SELECT $2::float4[]::vector) LIMIT 10", "acme",
            query.tolist(), '{"far": true}')
        assert f"{table}_hnsw" in "\n".join(r[0] for r in plan)
        hits = await short.search(REF, query, k=10, where=Eq("far", True))
        want = sorted(far, key=lambda i: -exact[i])[:10]
        assert [h.id for h in hits] == [f"r{i:04d}" for i in want]
        found = 0
        for q in rng.standard_normal((20, 16)).astype(np.float32):
            truth = set(np.argsort(-brute_force(vectors, q, "cosine"))[:10].tolist())
            got = await store.search(REF, q, k=10, where=Eq("bucket", 3))
            assert len(got) == 10
            assert all(int(h.id[1:]) % 10 == 3 for h in got)
            found += len(truth & {int(h.id[1:]) for h in await store.search(REF, q, k=10)})
        assert found / 200 >= 0.95
    finally:
        await store.close()
        await short.close()
        await pool.close()


async def test_keyword_search_is_postgres_full_text(store: PgVectorStore) -> None:
    await store.create_collection(REF, dim=2)
    await store.upsert(REF, [
        Record(id="a", text="Running checkpoints for the workflows", vector=vec(1, 0)),
        Record(id="b", text="A workflow runs nodes", vector=vec(0, 1)),
        Record(id="c", text="nothing relevant here", vector=vec(1, 1))])
    hits = await store.keyword_search(REF, "checkpoint workflow")
    assert [h.id for h in hits] == ["a", "b"]  # stemmed, OR-ed, ranked by ts_rank_cd
    assert await store.keyword_search(REF, "the of and") == []  # only stopwords
    assert await store.keyword_search(REF, "") == []
    assert [h.id for h in await store.keyword_search(REF, "!|&:*<->'")] == []


async def test_a_collection_recreated_elsewhere_is_followed(pg_url: str) -> None:
    """Another process drops and recreates a collection: the cached table name goes stale and
    the store looks the collection up again."""
    a, b = PgVectorStore(pg_url), PgVectorStore(pg_url)
    try:
        await a.create_collection(REF, dim=2)
        await a.upsert(REF, [Record(id="old", text="", vector=vec(1, 0))])
        assert [h.id for h in await a.search(REF, vec(1, 0))] == ["old"]
        await b.drop_collection(REF)
        with pytest.raises(CollectionNotFound):
            await a.search(REF, vec(1, 0))
        await b.create_collection(REF, dim=2)
        await b.upsert(REF, [Record(id="new", text="", vector=vec(1, 0))])
        assert [h.id for h in await a.search(REF, vec(1, 0))] == ["new"]
    finally:
        await a.close()
        await b.close()


async def test_expire_drops_the_tables(store: PgVectorStore) -> None:
    session = CollectionRef("acme", "s1", namespace="sessions")
    info = await store.create_collection(session, dim=2, ttl=60)
    await store.create_collection(REF, dim=2)
    pool = await store._db()
    count = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'plait_rag_chunks_%'"
    assert await pool.fetchval(count) == 2
    assert info.expires_at is not None
    assert await store.expire(now=info.expires_at + 1) == 1
    assert await pool.fetchval(count) == 1


async def test_non_finite_values_are_refused(store: PgVectorStore) -> None:
    await store.create_collection(REF, dim=2)
    with pytest.raises(ValueError, match="NaN"):
        await store.upsert(REF, [Record(id="a", text="", vector=vec(math.nan, 1))])
    with pytest.raises(ValueError, match="finite"):
        await store.upsert(REF, [Record(id="a", text="", vector=vec(1, 1),
                                        metadata={"x": math.inf})])
    assert (await store.stats(REF)).count == 0


def test_needs_exactly_one_of_url_and_pool() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        PgVectorStore()

