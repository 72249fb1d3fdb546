from __future__ import annotations

import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from plait.errors import UsageError
from plait.rag.filters import Eq, In, Range, matches
from plait.rag.stores import open_store
from plait.rag.stores.embedded import EmbeddedVectorStore
from plait.rag.stores.memory import MemoryVectorStore
from plait.rag.types import CollectionRef, Record, VectorStore

from .conformance import StoreFactory, VectorStoreConformance

faiss.omp_set_num_threads(1)


class TestEmbeddedVectorStore(VectorStoreConformance):
    persistent = True

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        async def open_store() -> VectorStore:
            return EmbeddedVectorStore(tmp_path / "vectors")

        return open_store


class TestEmbeddedGraphPaths(VectorStoreConformance):
    """The same suite with every search through the HNSW graph (no exact shortcut) and
    compaction after a handful of deletes."""

    persistent = True

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        async def open_store() -> VectorStore:
            return EmbeddedVectorStore(tmp_path / "vectors", exact_limit=0, compact_min=4,
                                       ef_search=128)

        return open_store


# -- embedded-only behaviour ------------------------------------------------------------------

REF = CollectionRef("acme", "docs")


def lowrank(rng: np.random.Generator, n: int, dim: int = 48) -> np.ndarray:
    """Unit vectors with a low intrinsic dimension, like real embeddings (random Gaussian
    vectors in many dimensions are a worst case no graph index handles well)."""
    z = rng.standard_normal((n, 12)) @ rng.standard_normal((12, dim))
    x = (z + 0.2 * rng.standard_normal((n, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def files(root: Path, pattern: str) -> list[str]:
    return sorted(p.name for p in root.rglob(pattern))


def tear_vector_log(root: Path) -> None:
    (log,) = root.rglob("vectors.*.f32")
    with open(log, "ab") as fh:
        fh.write(b"\x00" * 10)
    (root / ".lock").unlink()


def all_inside(root: Path) -> bool:
    return all(p.resolve().is_relative_to(root.resolve()) for p in root.rglob("*"))


def records(vectors: np.ndarray, *, prefix: str = "r") -> list[Record]:
    return [Record(id=f"{prefix}{i}", text=f"text {i} {'even' if i % 2 == 0 else 'odd'}",
                   vector=v, doc_id=f"d{i // 4}", doc_hash="h",
                   metadata={"cat": f"c{i % 10}", "i": i})
            for i, v in enumerate(vectors)]


async def test_graph_search_recall_with_and_without_filters(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base, queries = lowrank(rng, 3000), lowrank(rng, 40)
    store = EmbeddedVectorStore(tmp_path, exact_limit=100, ef_construction=64)
    try:
        await store.create_collection(REF, dim=base.shape[1])
        await store.upsert(REF, records(base))
        await store.settle(timeout=60)
        coll = store._colls[REF]
        assert coll.index.indexed == 3000
        assert coll.index.pending == 0
        cats = np.arange(3000) % 10
        for where, allowed in [(None, np.ones(3000, dtype=bool)),
                               (In("cat", ("c1", "c2", "c3")), np.isin(cats, [1, 2, 3])),
                               (Eq("cat", "c7"), cats == 7),
                               (Range("i", lt=80), np.arange(3000) < 80)]:  # exact path
            hit_rate = []
            for q in queries:
                scores = np.where(allowed, base @ q, -np.inf)
                truth = {f"r{i}" for i in np.argsort(-scores)[:10]}
                hits = await store.search(REF, q, k=10, where=where)
                assert len(hits) == 10
                assert all(where is None or matches(where, h.metadata) for h in hits)
                hit_rate.append(len(truth & {h.id for h in hits}) / 10)
            assert np.mean(hit_rate) >= 0.95, (where, np.mean(hit_rate))
    finally:
        await store.close()


async def test_fresh_vectors_are_searchable_before_indexing(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    store = EmbeddedVectorStore(tmp_path)
    try:
        await store.create_collection(REF, dim=16)
        store._indexer.stop()  # park the background thread: everything stays fresh
        vectors = lowrank(rng, 500, dim=16)
        await store.upsert(REF, records(vectors))
        assert store._colls[REF].index.pending == 500
        for i in (0, 123, 499):
            assert (await store.search(REF, vectors[i], k=1))[0].id == f"r{i}"
        hits = await store.search(REF, vectors[5], k=3, where=Eq("cat", "c5"))
        assert hits[0].id == "r5"
        assert all(h.metadata["cat"] == "c5" for h in hits)
    finally:
        await store.close()


async def test_compaction_renumbers_and_survives_reload(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vectors = lowrank(rng, 400, dim=16)
    store = EmbeddedVectorStore(tmp_path, compact_min=50, compact_ratio=0.2)
    await store.create_collection(REF, dim=16)
    await store.upsert(REF, records(vectors))
    await store.delete(REF, [f"r{i}" for i in range(0, 400, 2)])  # half the records
    newer = lowrank(rng, 10, dim=16)
    await store.upsert(REF, records(newer, prefix="new"))
    await store.settle(timeout=60)
    coll = store._colls[REF]
    assert coll.gen >= 1
    assert coll.index.size == 210
    assert files(tmp_path, "vectors.*.f32") == [f"vectors.{coll.gen}.f32"]
    live = {f"r{i}": vectors[i] for i in range(1, 400, 2)} | {
        f"new{i}": v for i, v in enumerate(newer)}

    async def check(s: EmbeddedVectorStore) -> None:
        assert (await s.stats(REF)).count == 210
        for rid in ("r1", "r201", "new3"):
            hits = await s.search(REF, live[rid], k=1)
            assert hits[0].id == rid
            [rec] = await s.get(REF, [rid], with_vectors=True)
            np.testing.assert_allclose(rec.vector, live[rid], rtol=1e-6)
        assert await s.get(REF, ["r0", "r2"]) == []
        assert [h.id for h in await s.keyword_search(REF, "text 7 odd", k=1)] == ["r7"]
        assert {h.id for h in await s.keyword_search(REF, "even", k=500)} == {
            f"r{i}" for i in range(1, 400, 2) if i % 2 == 0} | {
            f"new{i}" for i in range(0, 10, 2)}

    await check(store)
    await store.close()
    again = EmbeddedVectorStore(tmp_path)
    try:
        await check(again)
    finally:
        await again.close()


async def test_recovers_from_a_crash(tmp_path: Path) -> None:
    """A copy of a live store's directory (no snapshots written, a torn vector append)
    opens with every committed record: SQLite and the vector log are the truth."""
    rng = np.random.default_rng(3)
    vectors = lowrank(rng, 300, dim=16)
    store = EmbeddedVectorStore(tmp_path / "live")
    await store.create_collection(REF, dim=16)
    await store.upsert(REF, records(vectors))
    await store.delete(REF, ["r5"])
    crashed = tmp_path / "crashed"
    shutil.copytree(tmp_path / "live", crashed)
    await store.close()
    tear_vector_log(crashed)  # half a row: a write that never committed
    assert files(crashed, "graph.*") == []
    assert files(crashed, "bm25.*") == []
    again = EmbeddedVectorStore(crashed)
    try:
        assert (await again.stats(REF)).count == 299
        assert (await again.search(REF, vectors[42], k=1))[0].id == "r42"
        assert (await again.keyword_search(REF, "text 42", k=1))[0].id == "r42"
        assert await again.get(REF, ["r5"]) == []
        await again.upsert(REF, records(vectors[:1], prefix="after"))
        assert (await again.stats(REF)).count == 300
    finally:
        await again.close()


async def test_one_owner_per_directory(tmp_path: Path) -> None:
    store = EmbeddedVectorStore(tmp_path)
    with pytest.raises(UsageError, match="open elsewhere"):
        EmbeddedVectorStore(tmp_path)
    await store.close()
    await store.close()  # twice is harmless
    with pytest.raises(UsageError, match="closed"):
        await store.create_collection(REF, dim=4)
    EmbeddedVectorStore(tmp_path)._lock_file.close()


async def test_any_names_are_safe_and_separate(tmp_path: Path) -> None:
    store = EmbeddedVectorStore(tmp_path)
    try:
        odd = ["..", "../escape", "a/b", "", "tenant with spaces", "ÄÖÜ", "a" * 300]
        vec = np.ones(4, dtype=np.float32)
        for i, tenant in enumerate(odd):
            ref = CollectionRef(tenant, odd[-1 - i], namespace=odd[i - 1])
            await store.create_collection(ref, dim=4)
            await store.upsert(ref, [Record(id="x", text=tenant, vector=vec)])
        for i, tenant in enumerate(odd):
            ref = CollectionRef(tenant, odd[-1 - i], namespace=odd[i - 1])
            assert [r.text for r in await store.get(ref, ["x"])] == [tenant]
            assert [c.ref for c in await store.list_collections(tenant)] == [ref]
        assert all_inside(tmp_path)
    finally:
        await store.close()


async def test_open_store_factory(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryVectorStore)
    for spec in (tmp_path / "a", str(tmp_path / "b"), f"file://{tmp_path / 'c'}"):
        store = open_store(spec)
        assert isinstance(store, EmbeddedVectorStore)
        await store.close()
    assert (tmp_path / "c" / "tenants").is_dir()
    with pytest.raises(UsageError, match="unknown vector store URL scheme"):
        open_store("redis://localhost")
    with pytest.raises(UsageError):
        open_store("")
