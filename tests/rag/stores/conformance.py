"""The conformance suite every :class:`~plait.rag.types.VectorStore` backend passes.

A backend's test module subclasses :class:`VectorStoreConformance` and provides one fixture,
``store_factory``: an async callable that opens a store. Each call must open the *same*
storage (same directory, same database), so a persistent backend sees what an earlier, closed
store wrote; set ``persistent = True`` for those. Stores the factory opens are closed by the
suite. ``metrics`` lists the metrics the backend supports. Example::

    class TestMemoryVectorStore(VectorStoreConformance):
        @pytest.fixture
        def store_factory(self) -> StoreFactory:
            async def open_store() -> VectorStore:
                return MemoryVectorStore()
            return open_store

The suite uses the protocol only. It pins down the behaviour the protocol's docstrings leave
open, the same way for every backend:

- operations on a missing (or expired) collection raise ``CollectionNotFound``, except
  ``get_collection`` (None), ``drop_collection`` (False) and ``list_collections``;
- ``upsert``: later duplicates in one batch win; a record without a vector, or of the wrong
  size (``DimensionMismatch``), fails the whole batch before anything is written;
- ``delete(ids, where=...)`` deletes records whose id is listed *and* that match the filter;
- ``get`` returns records in the order of the ids asked for, once each, missing ids skipped;
- ``search`` scores: cosine similarity (``cosine``), minus the Euclidean distance (``l2``), the
  inner product (``ip``); best first; ``k <= 0`` gives nothing;
- filters follow :func:`plait.rag.filters.matches` exactly (every operator, mixed types);
- a collection with a ``ttl`` reads as absent once it has passed, before ``expire`` runs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pytest

from plait.errors import CollectionExists, CollectionNotFound, DimensionMismatch, UsageError
from plait.rag.filters import And, Eq, Filter, In, Ne, Not, Or, Range, matches
from plait.rag.types import (
    CollectionInfo,
    CollectionRef,
    Hit,
    Metadata,
    MetaValue,
    Record,
    VectorStore,
)

__all__ = ["StoreFactory", "VectorStoreConformance", "brute_force", "random_filter"]

StoreFactory = Callable[[], Awaitable[VectorStore]]
Metric = Literal["cosine", "l2", "ip"]
Vectors = npt.NDArray[np.float32]

DIM = 8
REF = CollectionRef("acme", "docs")
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")


# -- helpers (public: backend-specific tests reuse them) ----------------------------------------

def brute_force(vectors: Vectors, query: Vectors, metric: Metric) -> npt.NDArray[np.float64]:
    """Exact scores of every row against ``query``; higher is better (the suite's contract)."""
    v = vectors.astype(np.float64)
    q = query.astype(np.float64)
    if metric == "cosine":
        return (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    if metric == "ip":
        return v @ q
    return -np.linalg.norm(v - q, axis=1)


def random_vectors(rng: np.random.Generator, n: int, dim: int = DIM) -> Vectors:
    return rng.standard_normal((n, dim)).astype(np.float32)


def random_metadata(rng: random.Random) -> dict[str, MetaValue]:
    """Mixed-type metadata: fields sometimes missing, ints and floats that compare equal,
    booleans (never equal to numbers), nulls and strings."""
    meta: dict[str, MetaValue] = {}
    if rng.random() < 0.85:
        meta["color"] = rng.choice(["red", "green", "blue", "Red", ""])
    if rng.random() < 0.85:
        meta["n"] = rng.choice([0, 1, 2, 3, 5, 8, -1, 2.5, 3.0])
    if rng.random() < 0.7:
        meta["flag"] = rng.choice([True, False])
    if rng.random() < 0.5:
        meta["maybe"] = rng.choice([None, "x", 1, True])
    if rng.random() < 0.6:
        meta["page"] = rng.randint(1, 20)
    return meta


_VALUES: dict[str, list[MetaValue]] = {
    "color": ["red", "green", "blue", "Red", "", "purple"],
    "n": [0, 1, 2, 3, 2.5, 3.0, -1, 100, True],
    "flag": [True, False, 1, 0],
    "maybe": [None, "x", 1, True, False],
    "page": [1, 5, 10, 20, 7.5],
    "absent": ["x", 1, None],
}


def random_filter(rng: random.Random, depth: int = 0) -> Filter:
    """A random filter over :func:`random_metadata`'s fields, every operator included."""
    kinds = ["eq", "ne", "in", "nin", "range"] + (["and", "or", "not"] if depth < 2 else [])
    kind = rng.choice(kinds)
    name = rng.choice(list(_VALUES))
    values = _VALUES[name]
    match kind:
        case "eq":
            return Eq(name, rng.choice(values))
        case "ne":
            return Ne(name, rng.choice(values))
        case "in" | "nin":
            return In(name, tuple(rng.sample(values, rng.randint(1, 3))), negate=kind == "nin")
        case "range":
            if name == "color" or (name == "absent" and rng.random() < 0.5):
                lo, hi = sorted(rng.sample(["", "Red", "blue", "green", "red", "z"], 2))
            else:
                lo, hi = sorted(rng.sample([-1, 0, 1, 2, 2.5, 3, 5, 10, 20], 2))
            bounds: dict[str, float | str] = {}
            if rng.random() < 0.7:
                bounds[rng.choice(["gt", "gte"])] = lo
            if rng.random() < 0.7 or not bounds:
                bounds[rng.choice(["lt", "lte"])] = hi
            return Range(name, **bounds)  # type: ignore[arg-type]
        case "and":
            return And(*(random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))))
        case "or":
            return Or(*(random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))))
        case _:
            return Not(random_filter(rng, depth + 1))


def make_records(n: int, *, seed: int = 0, dim: int = DIM, prefix: str = "r",
                 docs: int = 5) -> list[Record]:
    rng = random.Random(seed)
    vectors = random_vectors(np.random.default_rng(seed), n, dim)
    return [Record(id=f"{prefix}{i:03d}", text=" ".join(rng.choices(WORDS, k=6)),
                   vector=vectors[i], doc_id=f"doc{i % docs}", doc_hash=f"h{i % docs}",
                   metadata=random_metadata(rng))
            for i in range(n)]


def ids_of(hits: Sequence[Hit] | Sequence[Record]) -> list[str]:
    return [h.id for h in hits]


async def scan_all(store: VectorStore, ref: CollectionRef, *, batch: int = 256,
                   with_vectors: bool = False) -> list[Record]:
    out: list[Record] = []
    async for chunk in store.scan(ref, batch=batch, with_vectors=with_vectors):
        assert 0 < len(chunk) <= batch
        out.extend(chunk)
    return out


def same_metadata(a: Metadata, b: Metadata) -> bool:
    """Equal values of the same kind: strings, booleans and nulls keep their type exactly;
    numbers compare by value (a backend may hand ``3.0`` back as ``3``)."""
    if set(a) != set(b):
        return False
    for key, va in a.items():
        vb = b[key]
        if isinstance(va, bool) or isinstance(vb, bool) or va is None or vb is None:
            if type(va) is not type(vb) or va != vb:
                return False
        elif va != vb or isinstance(va, str) != isinstance(vb, str):
            return False
    return True


# -- the suite ------------------------------------------------------------------------------------

class VectorStoreConformance:
    """Subclass it and provide the ``store_factory`` fixture (see the module docstring)."""

    persistent: ClassVar[bool] = False
    """True when a store opened again by the factory sees what a closed one wrote."""
    metrics: ClassVar[tuple[Metric, ...]] = ("cosine", "l2", "ip")

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        raise NotImplementedError("a backend's test class provides the store_factory fixture")

    @pytest.fixture
    async def opened(self, store_factory: StoreFactory) -> AsyncIterator[
            Callable[[], Awaitable[VectorStore]]]:
        """Opens stores through the factory and closes whatever is still open at the end."""
        stores: list[VectorStore] = []
        closed: set[int] = set()

        async def open_store() -> VectorStore:
            s = await store_factory()
            stores.append(s)
            return s

        yield open_store
        for s in stores:
            if id(s) not in closed:
                closed.add(id(s))
                await s.close()

    @pytest.fixture
    async def store(self, opened: Callable[[], Awaitable[VectorStore]]) -> VectorStore:
        return await opened()

    # -- collections -----------------------------------------------------------------------

    async def test_protocol(self, store: VectorStore) -> None:
        assert isinstance(store, VectorStore)

    async def test_create_get_list_drop(self, store: VectorStore) -> None:
        before = time.time()
        info = await store.create_collection(REF, dim=DIM, embedder="test:model")
        assert isinstance(info, CollectionInfo)
        assert (info.ref, info.dim, info.metric, info.embedder, info.expires_at) == (
            REF, DIM, "cosine", "test:model", None)
        assert before - 1 <= info.created_at <= time.time() + 1
        assert await store.get_collection(REF) == info
        other = CollectionRef("acme", "notes", namespace="team")
        await store.create_collection(other, dim=3, metric="l2")
        listed = await store.list_collections("acme")
        assert sorted(str(c.ref) for c in listed) == ["acme/default/docs", "acme/team/notes"]
        assert {c.ref: c for c in listed}[REF] == info
        assert await store.list_collections("globex") == []
        assert await store.get_collection(CollectionRef("globex", "docs")) is None

        assert await store.drop_collection(REF) is True
        assert await store.drop_collection(REF) is False
        assert await store.get_collection(REF) is None
        assert [c.ref for c in await store.list_collections("acme")] == [other]
        again = await store.create_collection(REF, dim=4)
        assert again.dim == 4
        assert (await store.stats(REF)).count == 0

    async def test_create_twice(self, store: VectorStore) -> None:
        info = await store.create_collection(REF, dim=DIM)
        with pytest.raises(CollectionExists) as caught:
            await store.create_collection(REF, dim=DIM)
        assert caught.value.code == "collection_exists"
        assert str(REF) in str(caught.value)
        assert await store.create_collection(REF, dim=DIM, exist_ok=True) == info
        with pytest.raises(DimensionMismatch):
            await store.create_collection(REF, dim=DIM + 1, exist_ok=True)

    async def test_bad_collection_arguments(self, store: VectorStore) -> None:
        for dim in (0, -3):
            with pytest.raises(UsageError):
                await store.create_collection(REF, dim=dim)
        with pytest.raises(UsageError):
            await store.create_collection(REF, dim=DIM, metric="hamming")  # type: ignore[arg-type]
        assert await store.get_collection(REF) is None

    async def test_missing_collection(self, store: VectorStore) -> None:
        missing = CollectionRef("acme", "nope")
        await store.create_collection(CollectionRef("other", "nope"), dim=DIM)
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: store.upsert(missing, make_records(1)),
            lambda: store.delete(missing, ["a"]),
            lambda: store.get(missing, ["a"]),
            lambda: store.search(missing, np.ones(DIM, dtype=np.float32)),
            lambda: store.keyword_search(missing, "alpha"),
            lambda: store.doc_hashes(missing),
            lambda: store.stats(missing),
            lambda: scan_all(store, missing),
        ]
        for call in calls:
            with pytest.raises(CollectionNotFound) as caught:
                await call()
            assert caught.value.code == "collection_not_found"

    # -- records -----------------------------------------------------------------------------

    async def test_upsert_get_replace(self, store: VectorStore) -> None:
        await store.create_collection(REF, dim=DIM)
        records = make_records(20, seed=1)
        await store.upsert(REF, records)
        by_id = {r.id: r for r in records}
        asked = ["r005", "missing", "r001", "r005", "r019"]
        got = await store.get(REF, asked)
        assert ids_of(got) == ["r005", "r001", "r019"]
        for rec in got:
            want = by_id[rec.id]
            assert (rec.text, rec.doc_id, rec.doc_hash) == (want.text, want.doc_id, want.doc_hash)
            assert same_metadata(rec.metadata, want.metadata), (rec.metadata, want.metadata)
            assert rec.vector is None
        with_vec = await store.get(REF, ["r003"], with_vectors=True)
        assert with_vec[0].vector is not None
        np.testing.assert_allclose(with_vec[0].vector, by_id["r003"].vector, rtol=1e-5, atol=1e-6)
        assert await store.get(REF, []) == []

        new_vec = np.ones(DIM, dtype=np.float32)
        replaced = Record(id="r003", text="replaced text", vector=new_vec, doc_id="docX",
                          doc_hash="hX", metadata={"only": "this"})
        await store.upsert(REF, [replaced])
        [rec] = await store.get(REF, ["r003"], with_vectors=True)
        assert (rec.text, rec.doc_id, rec.doc_hash, dict(rec.metadata)) == (
            "replaced text", "docX", "hX", {"only": "this"})
        assert rec.vector is not None
        np.testing.assert_allclose(rec.vector, new_vec, rtol=1e-6)
        assert (await store.stats(REF)).count == 20
        hits = await store.search(REF, new_vec, k=1)
        assert ids_of(hits) == ["r003"]
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        await store.upsert(REF, [])
        assert (await store.stats(REF)).count == 20

    async def test_metadata_round_trip(self, store: VectorStore) -> None:
        await store.create_collection(REF, dim=DIM)
        meta: dict[str, MetaValue] = {"s": "héllo \"q\" ' ; --", "i": 42, "neg": -7,
                                      "f": 2.5, "t": True, "fa": False, "none": None,
                                      "big": 2**40, "empty": ""}
        vec = np.ones(DIM, dtype=np.float32)
        await store.upsert(REF, [Record(id="m", text="", vector=vec, metadata=meta),
                                 Record(id="e", text="emoji 🎉 text", vector=vec)])
        [m, e] = await store.get(REF, ["m", "e"])
        assert same_metadata(m.metadata, meta), m.metadata
        assert (m.text, m.doc_id, m.doc_hash) == ("", "", "")
        assert (e.text, dict(e.metadata)) == ("emoji 🎉 text", {})

    async def test_batch_duplicates_and_bad_batches(self, store: VectorStore) -> None:
        await store.create_collection(REF, dim=DIM)
        vec = np.ones(DIM, dtype=np.float32)
        await store.upsert(REF, [Record(id="a", text="first", vector=vec),
                                 Record(id="a", text="second", vector=vec)])
        assert [r.text for r in await store.get(REF, ["a"])] == ["second"]
        good = Record(id="good", text="ok", vector=vec)
        with pytest.raises(DimensionMismatch) as caught:
            await store.upsert(REF, [good, Record(id="bad", text="x",
                                                  vector=np.ones(DIM + 2, dtype=np.float32))])
        assert (caught.value.expected, caught.value.actual) == (DIM, DIM + 2)
        with pytest.raises(UsageError):
            await store.upsert(REF, [good, Record(id="novec", text="x")])
        for bad_meta in ({"nested": {"a": 1}}, {"list": [1, 2]}, {"nan": float("nan")},
                         {"inf": float("inf")}):
            with pytest.raises(UsageError):
                await store.upsert(REF, [good, Record(id="badmeta", text="x", vector=vec,
                                                      metadata=bad_meta)])  # type: ignore[arg-type]
        assert await store.get(REF, ["good", "bad", "novec", "badmeta"]) == []
        assert (await store.stats(REF)).count == 1

    async def test_delete(self, store: VectorStore) -> None:
        await store.create_collection(REF, dim=DIM)
        records = make_records(30, seed=2)
        await store.upsert(REF, records)
        assert await store.delete(REF, ["r000", "r001", "nope"]) == 2
        assert await store.delete(REF, ["r000"]) == 0
        assert await store.delete(REF, []) == 0
        where = Eq("doc_id_field", "x")  # no record has it
        assert await store.delete(REF, where=where) == 0
        live = [r for r in records if r.id not in {"r000", "r001"}]
        flt = Or(Eq("color", "red"), Range("page", gte=15))
        expect = {r.id for r in live if matches(flt, r.metadata)}
        assert expect, "the seed should give some matches"
        assert await store.delete(REF, where=flt) == len(expect)
        live = [r for r in live if r.id not in expect]
        # ids and a filter together: listed AND matching
        listed = [r.id for r in live[:10]]
        both = Eq("flag", True)
        gone = {r.id for r in live[:10] if matches(both, r.metadata)}
        assert await store.delete(REF, listed, where=both) == len(gone)
        live = [r for r in live if r.id not in gone]
        assert sorted(ids_of(await scan_all(store, REF))) == sorted(r.id for r in live)
        assert (await store.stats(REF)).count == len(live)
        with pytest.raises(UsageError):
            await store.delete(REF)
        hits = await store.search(REF, np.ones(DIM, dtype=np.float32), k=100)
        assert sorted(ids_of(hits)) == sorted(r.id for r in live)
        assert not set(ids_of(await store.keyword_search(REF, " ".join(WORDS), k=100))) & (
            expect | gone | {"r000", "r001"})

    # -- search ------------------------------------------------------------------------------

    async def test_search_matches_brute_force(self, store: VectorStore) -> None:
        rng = np.random.default_rng(3)
        n = 60
        for metric in self.metrics:
            ref = CollectionRef("acme", f"bf-{metric}")
            await store.create_collection(ref, dim=DIM, metric=metric)
            vectors = random_vectors(rng, n)
            await store.upsert(ref, [Record(id=f"v{i:02d}", text=f"v{i}", vector=vectors[i])
                                     for i in range(n)])
            for _ in range(5):
                query = random_vectors(rng, 1)[0]
                exact = brute_force(vectors, query, metric)
                order = np.argsort(-exact, kind="stable")
                for k in (1, 5, 17, n, n + 10):
                    hits = await store.search(ref, query, k=k)
                    assert ids_of(hits) == [f"v{i:02d}" for i in order[:k]], (metric, k)
                    assert [h.score for h in hits] == pytest.approx(
                        [float(exact[i]) for i in order[:k]], abs=1e-4)
                assert await store.search(ref, query, k=0) == []
            best = int(np.argmax(brute_force(vectors, vectors[7], metric)))
            hits = await store.search(ref, vectors[7], k=1, with_vectors=True)
            assert hits[0].id == f"v{best:02d}"
            assert hits[0].text == f"v{best}"
            assert hits[0].vector is not None
            np.testing.assert_allclose(hits[0].vector, vectors[best], rtol=1e-5, atol=1e-6)
            assert (await store.search(ref, vectors[7], k=1))[0].vector is None

    async def test_search_empty_collection(self, store: VectorStore) -> None:
        await store.create_collection(REF, dim=DIM)
        assert await store.search(REF, np.ones(DIM, dtype=np.float32)) == []
        assert await store.keyword_search(REF, "alpha") == []
        assert await store.doc_hashes(REF) == {}
        assert await scan_all(store, REF) == []

    async def test_dimension_mismatch(self, store: VectorStore) -> None:
        await store.create_collection(REF, dim=DIM)
        await store.upsert(REF, make_records(3))
        with pytest.raises(DimensionMismatch) as caught:
            await store.search(REF, np.ones(DIM - 1, dtype=np.float32))
        assert caught.value.code == "dimension_mismatch"
        assert (caught.value.expected, caught.value.actual) == (DIM, DIM - 1)
        with pytest.raises(DimensionMismatch):
            await store.upsert(REF, make_records(1, dim=DIM * 2, prefix="big"))
        assert (await store.stats(REF)).count == 3

    @pytest.mark.parametrize("seed", [0, 1])
    async def test_filters_match_reference(self, store: VectorStore, seed: int) -> None:
        await store.create_collection(REF, dim=DIM)
        n = 80
        records = make_records(n, seed=10 + seed)
        await store.upsert(REF, records)
        rng = random.Random(seed)
        query = random_vectors(np.random.default_rng(seed), 1)[0]
        vectors = np.stack([r.vector for r in records])  # type: ignore[misc]
        exact = brute_force(vectors, query, "cosine")
        operators: set[type] = set()
        for _ in range(60):
            flt = random_filter(rng)
            operators.add(type(flt))
            allowed = [i for i, r in enumerate(records) if matches(flt, r.metadata)]
            want = sorted(allowed, key=lambda i: -exact[i])
            hits = await store.search(REF, query, k=n, where=flt)
            assert ids_of(hits) == [records[i].id for i in want], flt
            hits = await store.search(REF, query, k=3, where=flt)
            assert ids_of(hits) == [records[i].id for i in want[:3]], flt
            for h in hits:
                assert matches(flt, h.metadata)
            words = await store.keyword_search(REF, " ".join(WORDS), k=n, where=flt)
            assert sorted(ids_of(words)) == sorted(records[i].id for i in allowed), flt
        assert operators == {Eq, Ne, In, Range, And, Or, Not}

    async def test_keyword_search(self, store: VectorStore) -> None:
        await store.create_collection(REF, dim=DIM)
        texts = {
            "sched": "The scheduler starts a node as soon as all of its inputs are resolved.",
            "ckpt": "A checkpoint is written after each completed node and never changes.",
            "tenant": "Tenants are isolated: no query returns another tenant's chunks.",
            "bm25": "Keyword search ranks documents with Okapi BM25 over stemmed terms.",
            "ttl": "Session collections expire after their time to live has passed.",
        }
        vec = np.ones(DIM, dtype=np.float32)
        await store.upsert(REF, [Record(id=i, text=t, vector=vec, metadata={"len": len(t)})
                                 for i, t in texts.items()])
        for query, best in [("scheduler inputs", "sched"), ("checkpoint", "ckpt"),
                            ("isolated tenants", "tenant"), ("Okapi BM25 keyword", "bm25"),
                            ("session collections expire", "ttl")]:
            hits = await store.keyword_search(REF, query, k=3)
            assert hits, query
            assert hits[0].id == best, (query, ids_of(hits))
            assert hits[0].text == texts[best]
            assert hits[0].metadata == {"len": len(texts[best])}
            scores = [h.score for h in hits]
            assert scores == sorted(scores, reverse=True)
            assert all(s > 0 for s in scores)
        assert len(await store.keyword_search(REF, "node", k=1)) == 1
        assert await store.keyword_search(REF, "zebra xylophone") == []
        assert await store.keyword_search(REF, "node", k=0) == []
        hits = await store.keyword_search(REF, "node", where=Eq("len", len(texts["ckpt"])))
        assert ids_of(hits) == ["ckpt"]
        await store.delete(REF, ["ckpt"])
        assert await store.keyword_search(REF, "checkpoint") == []
        await store.upsert(REF, [Record(id="sched", text="now about zebras", vector=vec)])
        assert ids_of(await store.keyword_search(REF, "zebra")) == ["sched"]
        assert "sched" not in ids_of(await store.keyword_search(REF, "scheduler"))

    async def test_doc_hashes_scan_stats(self, store: VectorStore) -> None:
        await store.create_collection(REF, dim=DIM, embedder="test:model")
        records = make_records(45, seed=4, docs=4)
        await store.upsert(REF, records)
        assert await store.doc_hashes(REF) == {f"doc{i}": f"h{i}" for i in range(4)}
        stats = await store.stats(REF)
        assert (stats.ref, stats.count, stats.documents, stats.dim, stats.embedder) == (
            REF, 45, 4, DIM, "test:model")
        assert stats.bytes is None or stats.bytes > 0

        for batch in (1, 7, 45, 256):
            scanned = await scan_all(store, REF, batch=batch)
            assert sorted(ids_of(scanned)) == sorted(r.id for r in records)
            assert len(ids_of(scanned)) == 45
            assert ids_of(await scan_all(store, REF, batch=batch)) == ids_of(scanned)
        with_vec = await scan_all(store, REF, batch=10, with_vectors=True)
        by_id = {r.id: r for r in records}
        for rec in with_vec:
            assert rec.vector is not None
            np.testing.assert_allclose(rec.vector, by_id[rec.id].vector, rtol=1e-5, atol=1e-6)
            assert rec.text == by_id[rec.id].text
            assert rec.doc_hash == by_id[rec.id].doc_hash
        assert all(r.vector is None for r in await scan_all(store, REF))

        await store.delete(REF, [r.id for r in records if r.doc_id == "doc2"])
        assert await store.doc_hashes(REF) == {"doc0": "h0", "doc1": "h1", "doc3": "h3"}
        assert (await store.stats(REF)).documents == 3

    # -- tenancy -----------------------------------------------------------------------------

    async def test_namespaces_are_separate(self, store: VectorStore) -> None:
        a = CollectionRef("acme", "kb", namespace="one")
        b = CollectionRef("acme", "kb", namespace="two")
        await store.create_collection(a, dim=DIM)
        await store.create_collection(b, dim=DIM * 2)
        vec = np.ones(DIM, dtype=np.float32)
        await store.upsert(a, [Record(id="same", text="alpha in one", vector=vec)])
        await store.upsert(b, [Record(id="same", text="bravo in two", vector=np.ones(
            DIM * 2, dtype=np.float32))])
        assert [r.text for r in await store.get(a, ["same"])] == ["alpha in one"]
        assert [r.text for r in await store.get(b, ["same"])] == ["bravo in two"]
        assert await store.keyword_search(a, "bravo") == []
        await store.drop_collection(a)
        assert [r.text for r in await store.get(b, ["same"])] == ["bravo in two"]

    async def test_tenant_isolation_randomized(self, store: VectorStore) -> None:
        """Many tenants with the same collection names and overlapping ids, random interleaved
        writes and reads: no operation ever returns another tenant's record."""
        rng = random.Random(1234)
        nprng = np.random.default_rng(1234)
        tenants = [f"t{i}" for i in range(5)]
        refs = [CollectionRef(t, name, namespace=ns) for t in tenants
                for name in ("kb", "chat") for ns in ("default", "x")]
        model: dict[CollectionRef, dict[str, Record]] = {r: {} for r in refs}
        for ref in refs:
            await store.create_collection(ref, dim=DIM)

        def owner(ref: CollectionRef) -> str:
            return str(ref)

        def check(ref: CollectionRef, recs: Sequence[Hit] | Sequence[Record]) -> None:
            for rec in recs:
                assert rec.metadata.get("owner") == owner(ref), (ref, rec)
                assert rec.id in model[ref], (ref, rec.id)
                assert rec.text == model[ref][rec.id].text, (ref, rec.id)

        for step in range(300):
            ref = rng.choice(refs)
            op = rng.choices(["upsert", "delete", "delete_where", "search", "keyword", "get",
                              "scan", "hashes", "stats"], weights=[6, 2, 1, 3, 3, 2, 1, 1, 1])[0]
            if op == "upsert":
                batch = []
                for _ in range(rng.randint(1, 8)):
                    rid = f"id{rng.randint(0, 15)}"
                    batch.append(Record(
                        id=rid, text=f"{ref.tenant} {' '.join(rng.choices(WORDS, k=4))} s{step}",
                        vector=random_vectors(nprng, 1)[0], doc_id=f"d{rng.randint(0, 3)}",
                        doc_hash=f"{owner(ref)}#{step}",
                        metadata={"owner": owner(ref), "k": rng.randint(0, 3)}))
                await store.upsert(ref, batch)
                model[ref].update({r.id: r for r in batch})
            elif op == "delete":
                ids = [f"id{rng.randint(0, 15)}" for _ in range(rng.randint(1, 4))]
                n = await store.delete(ref, ids)
                assert n == len(set(ids) & set(model[ref]))
                for i in ids:
                    model[ref].pop(i, None)
            elif op == "delete_where":
                flt = Eq("k", rng.randint(0, 3))
                gone = {i for i, r in model[ref].items() if matches(flt, r.metadata)}
                assert await store.delete(ref, where=flt) == len(gone)
                for i in gone:
                    del model[ref][i]
            elif op == "search":
                where = Eq("k", rng.randint(0, 3)) if rng.random() < 0.3 else None
                k = rng.randint(1, 30)
                hits = await store.search(ref, random_vectors(nprng, 1)[0], k=k, where=where)
                check(ref, hits)
                if where is None:
                    assert len(hits) == min(len(model[ref]), k)
            elif op == "keyword":
                hits = await store.keyword_search(ref, " ".join(rng.sample(WORDS, 3)) +
                                                  f" {rng.choice(tenants)}", k=50)
                check(ref, hits)
            elif op == "get":
                got = await store.get(ref, [f"id{i}" for i in range(16)])
                check(ref, got)
                assert sorted(ids_of(got)) == sorted(model[ref])
            elif op == "scan":
                got = await scan_all(store, ref, batch=rng.randint(1, 10))
                check(ref, got)
                assert sorted(ids_of(got)) == sorted(model[ref])
            elif op == "hashes":
                hashes = await store.doc_hashes(ref)
                assert all(h.startswith(owner(ref) + "#") for h in hashes.values())
                assert set(hashes) == {r.doc_id for r in model[ref].values()}
            else:
                assert (await store.stats(ref)).count == len(model[ref])
        for ref in refs:
            got = await scan_all(store, ref)
            check(ref, got)
            assert len(got) == len(model[ref])
            hits = await store.search(ref, np.ones(DIM, dtype=np.float32), k=100)
            assert sorted(ids_of(hits)) == sorted(model[ref])
        listed = await store.list_collections("t0")
        assert {c.ref for c in listed} == {r for r in refs if r.tenant == "t0"}

    # -- TTL ---------------------------------------------------------------------------------

    async def test_ttl_expiry(self, store: VectorStore) -> None:
        session = CollectionRef("acme", "session-1", namespace="sessions")
        info = await store.create_collection(session, dim=DIM, ttl=3600)
        assert info.expires_at is not None
        assert info.expires_at == pytest.approx(info.created_at + 3600, abs=1)
        await store.create_collection(REF, dim=DIM)
        await store.upsert(session, make_records(5))
        assert await store.expire(now=time.time() + 60) == 0
        assert len(await store.search(session, np.ones(DIM, dtype=np.float32))) == 5
        assert await store.expire(now=info.expires_at + 1) == 1
        assert await store.get_collection(session) is None
        assert await store.get_collection(REF) is not None
        with pytest.raises(CollectionNotFound):
            await store.search(session, np.ones(DIM, dtype=np.float32))
        assert [c.ref for c in await store.list_collections("acme")] == [REF]
        assert await store.expire(now=info.expires_at + 1) == 0
        for ttl in (0, -5):
            with pytest.raises(UsageError):
                await store.create_collection(session, dim=DIM, ttl=ttl)

    async def test_expired_collection_reads_as_absent(self, store: VectorStore) -> None:
        session = CollectionRef("acme", "short", namespace="sessions")
        made = await store.create_collection(session, dim=DIM, ttl=2.0)
        await store.upsert(session, make_records(3))
        assert made.expires_at is not None
        await asyncio.sleep(max(0.0, made.expires_at - time.time()) + 0.05)
        assert await store.get_collection(session) is None
        assert await store.list_collections("acme") == []
        with pytest.raises(CollectionNotFound):
            await store.search(session, np.ones(DIM, dtype=np.float32))
        with pytest.raises(CollectionNotFound):
            await store.keyword_search(session, "alpha")
        with pytest.raises(CollectionNotFound):
            await store.upsert(session, make_records(1))
        # an expired collection can be created afresh, empty
        info = await store.create_collection(session, dim=DIM)
        assert info.expires_at is None
        assert (await store.stats(session)).count == 0
        assert await store.expire() == 0

    # -- persistence and concurrency -------------------------------------------------------------

    async def test_persist_and_reload(self,
                                      opened: Callable[[], Awaitable[VectorStore]]) -> None:
        if not self.persistent:
            pytest.skip("not a persistent backend")
        store = await opened()
        info = await store.create_collection(REF, dim=DIM, embedder="test:model")
        session = CollectionRef("acme", "s", namespace="sessions")
        sinfo = await store.create_collection(session, dim=DIM, ttl=3600)
        records = make_records(40, seed=5)
        await store.upsert(REF, records)
        await store.upsert(session, records[:3])
        await store.delete(REF, ["r000", "r001"])
        await store.upsert(REF, [Record(id="r002", text="kilo replaced", vector=records[2].vector,
                                        doc_id="doc2", doc_hash="h2")])
        query = random_vectors(np.random.default_rng(5), 1)[0]
        flt = Ne("color", "red")
        before = {
            "search": ids_of(await store.search(REF, query, k=10)),
            "filtered": ids_of(await store.search(REF, query, k=10, where=flt)),
            "keyword": ids_of(await store.keyword_search(REF, "kilo alpha", k=10)),
            "hashes": await store.doc_hashes(REF),
            "scan": ids_of(await scan_all(store, REF)),
        }
        await store.close()

        again = await opened()
        assert await again.get_collection(REF) == info
        assert await again.get_collection(session) == sinfo
        after = {
            "search": ids_of(await again.search(REF, query, k=10)),
            "filtered": ids_of(await again.search(REF, query, k=10, where=flt)),
            "keyword": ids_of(await again.keyword_search(REF, "kilo alpha", k=10)),
            "hashes": await again.doc_hashes(REF),
            "scan": ids_of(await scan_all(again, REF)),
        }
        assert after == before
        assert (await again.stats(REF)).count == 38
        [rec] = await again.get(REF, ["r002"], with_vectors=True)
        assert rec.text == "kilo replaced"
        assert rec.vector is not None
        np.testing.assert_allclose(rec.vector, records[2].vector, rtol=1e-6)
        # it keeps working after the reload
        await again.upsert(REF, make_records(3, seed=6, prefix="new"))
        assert (await again.stats(REF)).count == 41
        assert await again.expire(now=sinfo.expires_at + 1) == 1  # type: ignore[operator]
        await again.close()
        third = await opened()
        assert await third.get_collection(session) is None
        assert (await third.stats(REF)).count == 41

    async def test_concurrent_upserts_lose_nothing(self, store: VectorStore) -> None:
        other = CollectionRef("globex", "docs")
        await store.create_collection(REF, dim=DIM)
        await store.create_collection(other, dim=DIM)
        batches = [make_records(10, seed=i, prefix=f"b{i}-") for i in range(20)]
        query = np.ones(DIM, dtype=np.float32)

        async def reader() -> None:
            for _ in range(10):
                check = await store.search(REF, query, k=5)
                assert all(h.id.startswith("b") for h in check)
                await asyncio.sleep(0)

        await asyncio.gather(
            *(store.upsert(REF, b) for b in batches),
            *(store.upsert(other, b[:2]) for b in batches[:5]),
            reader(), reader())
        assert (await store.stats(REF)).count == 200
        assert (await store.stats(other)).count == 10
        scanned = ids_of(await scan_all(store, REF))
        assert sorted(scanned) == sorted(r.id for b in batches for r in b)
        hits = await store.search(REF, query, k=200)
        assert len(hits) == 200

