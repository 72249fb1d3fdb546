"""Retrieval: fusion math, MMR, the retriever's modes, filters and rerankers, on the in-memory
store with the deterministic hashing embedder."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from plait.errors import EmbedderMismatch, UsageError
from plait.rag.embeddings import HashEmbedder
from plait.rag.filters import Eq, Range
from plait.rag.fusion import normalize_scores, rrf_fuse, weighted_fuse
from plait.rag.ingest import Ingestor, WholeDocumentChunker
from plait.rag.mmr import mmr_select
from plait.rag.retrieval import EmbeddingReranker, Reranker, Retriever
from plait.rag.stores.memory import MemoryVectorStore
from plait.rag.types import CollectionRef, Document, Hit, VectorStore

REF = CollectionRef("acme", "kb")


def hit(id: str, score: float = 0.0, vector: Sequence[float] | None = None) -> Hit:
    vec = None if vector is None else np.asarray(vector, dtype=np.float32)
    return Hit(id=id, score=score, text=f"text of {id}", doc_id=id, vector=vec)


# -- fusion -------------------------------------------------------------------------------

def test_rrf_scores_and_order() -> None:
    fused = rrf_fuse([[hit("a"), hit("b"), hit("c")], [hit("c"), hit("d")]], k=60)
    scores = {h.id: h.score for h in fused}
    assert scores == pytest.approx({"a": 1 / 61, "b": 1 / 62, "c": 1 / 63 + 1 / 61,
                                    "d": 1 / 62})
    # c is in both lists; b and d tie (rank 2 each), broken by id
    assert [h.id for h in fused] == ["c", "a", "b", "d"]
    assert fused[0].text == "text of c"


def test_rrf_weights_and_validation() -> None:
    fused = rrf_fuse([[hit("a")], [hit("b")]], k=0, weights=[1.0, 3.0])
    assert [(h.id, h.score) for h in fused] == [("b", 3.0), ("a", 1.0)]
    with pytest.raises(UsageError, match="2 ranked lists"):
        rrf_fuse([[hit("a")], [hit("b")]], weights=[1.0])
    with pytest.raises(UsageError, match="k must be"):
        rrf_fuse([[hit("a")]], k=-1)


def test_weighted_fusion_normalizes_each_list() -> None:
    vector = [hit("a", 0.9), hit("b", 0.5), hit("c", 0.1)]
    keyword = [hit("c", 10.0), hit("d", 5.0)]
    assert normalize_scores(vector) == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.0})
    assert normalize_scores(keyword, method="max") == pytest.approx({"c": 1.0, "d": 0.5})
    fused = weighted_fuse(vector, keyword, alpha=0.5)
    assert [h.id for h in fused] == ["a", "c", "b", "d"]  # a and c tie: a ranked first
    assert [h.score for h in fused] == pytest.approx([0.5, 0.5, 0.25, 0.0])
    fused = weighted_fuse(vector, keyword, alpha=0.8)
    assert {h.id: h.score for h in fused} == pytest.approx(
        {"a": 0.8, "b": 0.4, "c": 0.2, "d": 0.0})
    assert [h.id for h in weighted_fuse(vector, keyword, alpha=1.0)][:3] == ["a", "b", "c"]
    with pytest.raises(UsageError, match="alpha"):
        weighted_fuse(vector, keyword, alpha=1.5)


def test_fused_hits_keep_a_vector_from_either_list() -> None:
    fused = rrf_fuse([[hit("a")], [hit("a", vector=[1.0, 0.0])]])
    assert fused[0].vector is not None


# -- MMR ----------------------------------------------------------------------------------

def test_mmr_skips_near_duplicates() -> None:
    hits = [hit("a", vector=[1.0, 0.0]), hit("a2", vector=[0.99, 0.01]),
            hit("b", vector=[0.0, 1.0])]
    rel = [1.0, 0.95, 0.5]
    assert [h.id for h in mmr_select(hits, relevance=rel, k=2, lambda_=0.5)] == ["a", "b"]
    assert [h.id for h in mmr_select(hits, relevance=rel, k=2, lambda_=1.0)] == ["a", "a2"]
    assert [h.id for h in mmr_select(hits, relevance=rel, k=5)] == ["a", "b", "a2"]
    with pytest.raises(UsageError, match="vectors"):
        mmr_select([hit("x")], relevance=[1.0], k=1)
    with pytest.raises(UsageError, match="lambda_"):
        mmr_select(hits, relevance=rel, k=1, lambda_=2.0)


# -- the retriever ------------------------------------------------------------------------

DOCS = [
    Document("cats", "Cats purr when content and sleep most of the day.",
             {"lang": "en", "year": 2019, "topic": "pets"}),
    Document("dogs", "Dogs bark at strangers and love long walks.",
             {"lang": "en", "year": 2021, "topic": "pets"}),
    Document("chats", "Les chats ronronnent quand ils sont contents.",
             {"lang": "fr", "year": 2020, "topic": "pets"}),
    Document("engine", "The engine schedules nodes as soon as their inputs resolve.",
             {"lang": "en", "year": 2024, "topic": "plait"}),
    Document("checkpoint", "A checkpoint is written after each completed node.",
             {"lang": "en", "year": 2024, "topic": "plait"}),
    Document("checkpoint-copy", "A checkpoint is written after each completed node!",
             {"lang": "en", "year": 2024, "topic": "plait"}),
    Document("resume", "Resume reads the latest checkpoint and runs the pending nodes.",
             {"lang": "en", "year": 2023, "topic": "plait"}),
]


@pytest.fixture
async def store() -> AsyncIterator[VectorStore]:
    s = MemoryVectorStore()
    await Ingestor(s, HashEmbedder(dim=64), WholeDocumentChunker(), REF).ingest(DOCS)
    yield s
    await s.close()


def retriever(store: VectorStore, **options: object) -> Retriever:
    return Retriever(store, HashEmbedder(dim=64), REF, **options)  # type: ignore[arg-type]


async def test_vector_keyword_and_hybrid_modes(store: VectorStore) -> None:
    query = "checkpoint written after each completed node"
    for mode in ("vector", "keyword", "hybrid"):
        hits = await retriever(store, mode=mode, top_k=3).retrieve(query)
        assert len(hits) == 3
        assert {h.doc_id for h in hits[:2]} == {"checkpoint", "checkpoint-copy"}, mode
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    # keyword mode needs no embedder and returns BM25 scores
    hits = await Retriever(store, None, REF, mode="keyword").retrieve("dogs bark")
    assert hits[0].doc_id == "dogs"
    assert hits[0].score > 1.0


async def test_hybrid_scores_are_the_fused_scores(store: VectorStore) -> None:
    query = "cats purr"
    vec = await retriever(store, mode="vector", top_k=50).retrieve(query)
    kw = await retriever(store, mode="keyword", top_k=50).retrieve(query)
    hybrid = await retriever(store, mode="hybrid", top_k=3, fetch_k=50).retrieve(query)
    expected = rrf_fuse([vec, kw], k=60)[:3]
    assert [h.id for h in hybrid] == [h.id for h in expected]
    assert [h.score for h in hybrid] == pytest.approx([h.score for h in expected])
    weighted = await retriever(store, mode="hybrid", fusion="weighted", alpha=0.3, top_k=3,
                               fetch_k=50).retrieve(query)
    expected = weighted_fuse(vec, kw, alpha=0.3)[:3]
    assert [h.id for h in weighted] == [h.id for h in expected]
    assert [h.score for h in weighted] == pytest.approx([h.score for h in expected])
    assert weighted[0].doc_id == "cats"


async def test_filters_typed_json_and_standing(store: VectorStore) -> None:
    r = retriever(store, mode="hybrid", top_k=10)
    hits = await r.retrieve("cats", where={"lang": "fr"})
    assert [h.doc_id for h in hits] == ["chats"]
    hits = await r.retrieve("checkpoint node", where=Range("year", gte=2024))
    assert {h.doc_id for h in hits} == {"engine", "checkpoint", "checkpoint-copy"}
    standing = dataclasses.replace(r, where=Eq("topic", "plait"))
    hits = await standing.retrieve("node", where={"year": {"$lt": 2024}})
    assert [h.doc_id for h in hits] == ["resume"]
    with pytest.raises(UsageError, match="unknown operator"):
        await r.retrieve("x", where={"year": {"$between": [1, 2]}})


async def test_mmr_diversifies(store: VectorStore) -> None:
    query = "checkpoint written after each completed node"
    plain = await retriever(store, mode="vector", top_k=2).retrieve(query)
    assert {h.doc_id for h in plain} == {"checkpoint", "checkpoint-copy"}
    diverse = await retriever(store, mode="vector", top_k=2, mmr=True,
                              lambda_=0.3).retrieve(query)
    assert diverse[0].doc_id in {"checkpoint", "checkpoint-copy"}
    assert diverse[1].doc_id not in {"checkpoint", "checkpoint-copy"}
    # hybrid MMR fetches the keyword hits' vectors from the store
    diverse = await retriever(store, mode="hybrid", top_k=2, mmr=True,
                              lambda_=0.3).retrieve(query)
    assert len({h.doc_id for h in diverse} & {"checkpoint", "checkpoint-copy"}) == 1


class Reverser:
    """A reranker that reverses the candidates (records what it saw)."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    async def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        self.seen.append(len(hits))
        return [dataclasses.replace(h, score=float(i)) for i, h in enumerate(reversed(hits))]


async def test_pluggable_reranker_sees_fetch_k_candidates(store: VectorStore) -> None:
    rev = Reverser()
    assert isinstance(rev, Reranker)
    hits = await retriever(store, mode="keyword", top_k=2, fetch_k=4,
                           reranker=rev).retrieve("checkpoint node")
    assert rev.seen == [4]
    assert [h.score for h in hits] == [0.0, 1.0]


async def test_embedding_reranker_rescores_by_cosine(store: VectorStore) -> None:
    emb = HashEmbedder(dim=64)
    reranker = EmbeddingReranker(emb)
    hits = await retriever(store, mode="keyword", top_k=3,
                           reranker=reranker).retrieve("dogs bark at strangers")
    assert hits[0].doc_id == "dogs"
    q = (await emb.embed(["dogs bark at strangers"], kind="query"))[0]
    d = (await emb.embed([hits[0].text]))[0]
    assert hits[0].score == pytest.approx(float(q @ d), abs=1e-5)
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    with pytest.raises(UsageError, match="weight"):
        EmbeddingReranker(emb, weight=2)


async def test_retrieve_many_matches_retrieve(store: VectorStore) -> None:
    r = retriever(store, mode="hybrid", top_k=3)
    queries = ["cats purr", "resume checkpoint", "dogs"]
    many = await r.retrieve_many(queries, concurrency=2)
    one = [await r.retrieve(q) for q in queries]
    assert [[h.id for h in hs] for hs in many] == [[h.id for h in hs] for hs in one]


async def test_embedder_mismatch_is_refused(store: VectorStore) -> None:
    other = Retriever(store, HashEmbedder(dim=32), REF, mode="vector")
    with pytest.raises(EmbedderMismatch):
        await other.retrieve("cats")


def test_invalid_options_are_reported_together() -> None:
    with pytest.raises(UsageError) as err:
        Retriever(MemoryVectorStore(), None, REF, mode="vector", top_k=0, alpha=2)
    message = str(err.value)
    assert "top_k" in message
    assert "alpha" in message
    assert "needs an embedder" in message
