"""ChromaStore: the conformance suite, plus what is particular to Chroma: collection names
derived from the ref (tenants never collide), no embedding function ever, the filter
pushdown (a superset that the post-filter makes exact), Chroma's metadata merge on upsert, and
the BM25 index beside Chroma surviving reopen and recovering from a torn journal."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from plait.errors import UsageError
from plait.rag.filters import And, Eq, Filter, In, Ne, Not, Or, Range, matches
from plait.rag.stores.chroma import ChromaStore, chroma_where
from plait.rag.types import CollectionRef, Metadata, Record

from .conformance import StoreFactory, VectorStoreConformance

REF = CollectionRef("acme", "docs")


class TestChromaConformance(VectorStoreConformance):
    persistent = True

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        async def open_store() -> ChromaStore:
            return ChromaStore(tmp_path / "store")

        return open_store  # type: ignore[return-value]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ChromaStore]:
    s = ChromaStore(tmp_path / "store")
    yield s
    await s.close()


def vec(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


# -- names and tenants ----------------------------------------------------------------------------

async def test_refs_map_to_distinct_valid_chroma_names(store: ChromaStore) -> None:
    refs = [CollectionRef(t, n, namespace=ns) for t in ("a", "a/b", "é 🎉")
            for n in ("x" * 600, "", "1.2.3.4", "a\x00b") for ns in ("default", "../..")]
    for i, ref in enumerate(refs):
        await store.create_collection(ref, dim=2)
        await store.upsert(ref, [Record(id="same", text=str(ref), vector=vec(1, i))])
    client = store._db()
    names = [c.name for c in client.list_collections()]
    assert len(set(names)) == len(refs)
    assert all(n.startswith("plait-") and len(n) == 54 for n in names)
    for ref in refs:
        assert [r.text for r in await store.get(ref, ["same"])] == [str(ref)]
        listed = {c.ref for c in await store.list_collections(ref.tenant)}
        assert listed == {r for r in refs if r.tenant == ref.tenant}


async def test_a_collection_holding_another_ref_is_refused(store: ChromaStore) -> None:
    await store.create_collection(REF, dim=2)
    coll = store._colls[REF].collection
    meta = dict(coll.metadata or {})
    meta["plait:tenant"] = "intruder"
    coll.modify(metadata=meta)
    store._colls.clear()
    with pytest.raises(UsageError, match="does not hold"):
        await store.get(REF, ["x"])


async def test_never_uses_an_embedding_function(store: ChromaStore,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import chromadb.api.types as chroma_types

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Chroma's default embedding function was used")

    monkeypatch.setattr(chroma_types.DefaultEmbeddingFunction, "__call__", refuse)
    await store.create_collection(REF, dim=2)
    await store.upsert(REF, [Record(id="a", text="alpha", vector=vec(1, 0))])
    assert [h.id for h in await store.search(REF, vec(1, 0))] == ["a"]
    assert [h.id for h in await store.keyword_search(REF, "alpha")] == ["a"]
    assert store._colls[REF].collection._embedding_function is None
    settings = store._db().get_settings()
    assert settings.anonymized_telemetry is False
    assert settings.allow_reset is False


# -- filters --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("flt", "where", "exact"), [
    (Eq("a", "x"), {"m:a": {"$eq": "x"}}, True),
    (Eq("a", 1), {"m:a": {"$eq": 1.0}}, True),
    (Eq("a", True), {"m:a": {"$eq": True}}, True),
    (Eq("a", None), None, False),
    (Eq("a", 2**60), {"m:a": {"$eq": float(2**60)}}, False),
    (Ne("a", "x"), {"m:a": {"$ne": "x"}}, True),
    (Ne("a", 3), None, False),
    (In("a", ("x", "y", 1, 2.5)), {"$or": [{"m:a": {"$in": ["x", "y"]}},
                                           {"m:a": {"$in": [1.0, 2.5]}}]}, True),
    (In("a", ("x", False), negate=True), {"$and": [{"m:a": {"$ne": "x"}},
                                                   {"m:a": {"$ne": False}}]}, True),
    (In("a", ()), None, False),
    (Range("a", gte=1, lt=5), {"$and": [{"m:a": {"$gte": 1.0}}, {"m:a": {"$lt": 5.0}}]}, True),
    (Range("a", gt=2**60), {"m:a": {"$gte": float(2**60)}}, False),
    (Range("a", gte="b"), None, False),
    (Range("a", lt=math.inf), None, False),
    (Not(Eq("a", "x")), {"m:a": {"$ne": "x"}}, True),
    (Not(And(Eq("a", "x"), Eq("b", True))), {"$or": [{"m:a": {"$ne": "x"}},
                                                     {"m:b": {"$ne": True}}]}, True),
    (Not(Or(Eq("a", "x"), Range("b", gt=1))), {"m:a": {"$ne": "x"}}, False),
    (Or(Eq("a", "x"), Range("b", gte="q")), None, False),
    (Not(Not(Range("a", gte=1))), {"m:a": {"$gte": 1.0}}, True),
])
def test_pushdown(flt: Filter, where: dict[str, object] | None, exact: bool) -> None:
    assert chroma_where(flt) == (where, exact)


async def test_filters_on_numbers_chroma_rounds(store: ChromaStore) -> None:
    """Chroma compares numbers as doubles; the post-filter restores exact integer semantics."""
    rows: list[Metadata] = [{"a": 2**60}, {"a": 2**60 + 1}, {"a": float(2**60)}, {"a": 1},
                            {"a": 1.0}, {"a": True}, {"a": None}, {}, {"a": -(2**62)}]
    await store.create_collection(REF, dim=2)
    await store.upsert(REF, [Record(id=f"r{i}", text="word", vector=vec(1, i), metadata=m)
                             for i, m in enumerate(rows)])
    filters: list[Filter] = [
        Eq("a", 2**60 + 1), Eq("a", float(2**60)), Ne("a", 2**60), Range("a", gt=2**60),
        Range("a", gte=2**60 + 1), In("a", (1, 2**60 + 1)), In("a", (2**60,), negate=True),
        Eq("a", None), Ne("a", None), Eq("a", 10**400), Range("a", gt=10**399),
        Range("a", lt=-(10**399)), Not(Range("a", lt=2)), Range("a", lt=math.inf), Eq("a", 1)]
    for flt in filters:
        want = sorted(f"r{i}" for i, m in enumerate(rows) if matches(flt, m))
        hits = await store.search(REF, vec(1, 1), k=20, where=flt)
        assert sorted(h.id for h in hits) == want, flt
        words = await store.keyword_search(REF, "word", k=20, where=flt)
        assert sorted(h.id for h in words) == want, flt


async def test_replacing_a_record_drops_its_old_fields(store: ChromaStore) -> None:
    """Chroma's upsert merges metadata; the store deletes the fields a replacement lacks."""
    await store.create_collection(REF, dim=2)
    await store.upsert(REF, [Record(id="a", text="", vector=vec(1, 0),
                                    metadata={"old": "x", "keep": 1})])
    await store.upsert(REF, [Record(id="a", text="", vector=vec(1, 0), metadata={"keep": 2})])
    raw = store._colls[REF].collection.get(ids=["a"], include=["metadatas"])
    stored = (raw["metadatas"] or [{}])[0] or {}
    assert "m:old" not in stored
    assert stored["m:keep"] == 2.0
    assert await store.search(REF, vec(1, 0), where=Eq("old", "x")) == []
    assert [h.id for h in await store.search(REF, vec(1, 0), where=Ne("old", "x"))] == ["a"]


# -- BM25 beside Chroma ---------------------------------------------------------------------------

async def _fill(store: ChromaStore) -> None:
    await store.create_collection(REF, dim=2)
    await store.upsert(REF, [
        Record(id="a", text="checkpoints are immutable", vector=vec(1, 0)),
        Record(id="b", text="the scheduler runs nodes", vector=vec(0, 1))])


async def test_keyword_index_survives_a_crash_without_close(tmp_path: Path) -> None:
    """No close() (no snapshot): a new store replays the journal."""
    first = ChromaStore(tmp_path / "s")
    await _fill(first)
    await first.upsert(REF, [Record(id="c", text="zebra checkpoints", vector=vec(1, 1))])
    await first.delete(REF, ["a"])
    bm25 = tmp_path / "s" / "bm25"
    assert [p.suffix for p in bm25.iterdir()] == [".log"]
    second = ChromaStore(tmp_path / "s")
    try:
        assert [h.id for h in await second.keyword_search(REF, "checkpoint")] == ["c"]
        assert [h.id for h in await second.keyword_search(REF, "scheduler")] == ["b"]
    finally:
        await second.close()
        await first.close()
    assert sorted(p.suffix for p in bm25.iterdir()) == [".npz"]


async def test_torn_journal_rebuilds_from_chroma(tmp_path: Path) -> None:
    first = ChromaStore(tmp_path / "s")
    await _fill(first)
    await first.keyword_search(REF, "nodes")  # loads the index: close() snapshots it
    await first.close()
    (log,) = [p for p in (tmp_path / "s" / "bm25").iterdir() if p.suffix == ".npz"]
    journal = log.with_suffix(".log")
    # a write journaled, then a crash before Chroma confirmed it (no "ok" line)
    journal.write_text(json.dumps({"add": [["ghost", "phantom checkpoints"]]}) + "\n")
    second = ChromaStore(tmp_path / "s")
    try:
        assert [h.id for h in await second.keyword_search(REF, "checkpoint")] == ["a"]
        assert await second.keyword_search(REF, "phantom") == []
    finally:
        await second.close()
    # a lost snapshot: rebuilt from Chroma's documents
    log.unlink()
    third = ChromaStore(tmp_path / "s")
    try:
        assert [h.id for h in await third.keyword_search(REF, "scheduler")] == ["b"]
    finally:
        await third.close()


async def test_drop_removes_the_keyword_index(store: ChromaStore, tmp_path: Path) -> None:
    await _fill(store)
    await store.keyword_search(REF, "nodes")
    await store.close()
    bm25 = tmp_path / "store" / "bm25"
    assert list(bm25.iterdir())
    await store.drop_collection(REF)
    assert list(bm25.iterdir()) == []
    await store.create_collection(REF, dim=2)
    assert await store.keyword_search(REF, "nodes") == []
