"""Incremental ingestion and resumable re-embedding, on the in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from plait.errors import DimensionMismatch, EmbedderMismatch, UsageError
from plait.rag.chunkers import RecursiveChunker
from plait.rag.embeddings import HashEmbedder
from plait.rag.ingest import Ingestor, Progress, WholeDocumentChunker, doc_hash
from plait.rag.reembed import RenamingStore, reembed, shadow_ref
from plait.rag.stores.memory import MemoryVectorStore
from plait.rag.types import CollectionRef, Document, Record, VectorStore

REF = CollectionRef("acme", "kb")
CHUNKER = RecursiveChunker(size=60, overlap=0)


class Salted(HashEmbedder):
    """Another model of the same size: the hashing embedder's vectors, reversed."""

    @property
    def model_id(self) -> str:
        return f"salted:{self.dim}"

    def embed_now(self, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        return np.ascontiguousarray(super().embed_now(texts)[:, ::-1])


class Flaky(Salted):
    """Fails on its ``fail_at``-th call (1-based), like a model server going away."""

    def __init__(self, dim: int, fail_at: int) -> None:
        super().__init__(dim)
        self.calls = 0
        self.texts = 0
        self.fail_at = fail_at

    async def embed(self, texts, *, kind="document"):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == self.fail_at:
            raise ConnectionError("embedding server went away")
        self.texts += len(texts)
        return await super().embed(texts, kind=kind)


def docs(n: int = 6) -> list[Document]:
    return [Document(f"doc{i}", f"Document number {i} talks about topic {i % 3}. " * 3,
                     {"source": f"doc{i}.txt", "modified": 1.0})
            for i in range(n)]


@pytest.fixture
async def store() -> AsyncIterator[VectorStore]:
    s = MemoryVectorStore()
    yield s
    await s.close()


async def snapshot(store: VectorStore, ref: CollectionRef = REF) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    async for batch in store.scan(ref, with_vectors=True):
        for r in batch:
            assert r.vector is not None
            out[r.id] = (r.text, r.doc_id, r.doc_hash, tuple(sorted(r.metadata.items())),
                         tuple(np.round(np.asarray(r.vector, dtype=np.float64), 5)))
    return out


# -- ingestion ----------------------------------------------------------------------------

async def test_first_ingest_creates_the_collection(store: VectorStore) -> None:
    steps: list[Progress] = []
    report = await Ingestor(store, HashEmbedder(dim=32), CHUNKER, REF,
                            batch_size=4).ingest(docs(), progress=steps.append)
    assert sorted(report.added) == [f"doc{i}" for i in range(6)]
    assert report.chunks > 6
    assert not report.failed
    info = await store.get_collection(REF)
    assert info is not None
    assert (info.dim, info.embedder) == (32, "hash:32")
    assert steps[-1] == Progress("ingest", 6, 6)
    assert [s.done for s in steps] == sorted(s.done for s in steps)
    hits = await store.keyword_search(REF, "number 3")
    assert hits[0].doc_id == "doc3"
    assert hits[0].metadata["doc_id"] == "doc3"


async def test_incremental_skip_replace_and_prune(store: VectorStore) -> None:
    ingestor = Ingestor(store, HashEmbedder(dim=32), CHUNKER, REF)
    await ingestor.ingest(docs())
    again = await ingestor.ingest(docs())
    assert sorted(again.unchanged) == [f"doc{i}" for i in range(6)]
    assert again.chunks == 0
    assert not again.added
    assert not again.updated

    # touching a file (its mtime) changes nothing; editing it replaces its chunks
    changed = docs()
    changed[0] = Document("doc0", changed[0].text, {"source": "doc0.txt", "modified": 9.0})
    changed[1] = Document("doc1", "Short now.", {"source": "doc1.txt"})
    before = await store.stats(REF)
    report = await ingestor.ingest(changed[:5], prune=True)
    assert report.updated == ["doc1"]
    assert report.removed == ["doc5"]
    assert "doc0" in report.unchanged
    hashes = await store.doc_hashes(REF)
    assert set(hashes) == {f"doc{i}" for i in range(5)}
    assert hashes["doc1"] == doc_hash(changed[1], CHUNKER.fingerprint)
    after = await store.stats(REF)
    assert after.count < before.count
    records = await store.get(REF, ["doc1#c0", "doc1#c1"])
    assert [r.text for r in records] == ["Short now."]  # the old second chunk is gone


async def test_a_new_chunker_rechunks(store: VectorStore) -> None:
    await Ingestor(store, HashEmbedder(dim=32), CHUNKER, REF).ingest(docs(2))
    report = await Ingestor(store, HashEmbedder(dim=32), WholeDocumentChunker(),
                            REF).ingest(docs(2))
    assert sorted(report.updated) == ["doc0", "doc1"]
    assert (await store.stats(REF)).count == 2


async def test_directory_prune_keeps_failed_files_and_other_roots(
        store: VectorStore, tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("# Alpha\n\nApples are red.")
    (root / "b.txt").write_text("Bananas are yellow.")
    (root / "c.txt").write_text("Cherries are dark red.")
    ingestor = Ingestor(store, HashEmbedder(dim=32), CHUNKER, REF)
    extra = await ingestor.ingest([Document("manual", "Added by hand.")])
    assert extra.added == ["manual"]
    first = await ingestor.ingest(root)
    assert sorted(first.added) == ["a.md", "b.txt", "c.txt"]

    (root / "b.txt").unlink()
    (root / "c.txt").write_bytes(b"\x00\x01 binary junk \x00")  # now unreadable
    (root / "d.txt").write_text("Dates are sweet.")
    second = await ingestor.ingest(root)
    assert second.added == ["d.txt"]
    assert second.unchanged == ["a.md"]
    assert second.removed == ["b.txt"]  # c.txt failed to load: its old version stays
    assert [f.source for f in second.failed] == ["c.txt"]
    assert set(await store.doc_hashes(REF)) == {"manual", "a.md", "c.txt", "d.txt"}


async def test_another_model_is_refused_unless_reembedding(store: VectorStore) -> None:
    await Ingestor(store, HashEmbedder(dim=32), CHUNKER, REF).ingest(docs(3))
    with pytest.raises(DimensionMismatch):
        await Ingestor(store, HashEmbedder(dim=16), CHUNKER, REF).ingest(docs(3))
    with pytest.raises(EmbedderMismatch, match="salted:32"):
        await Ingestor(store, Salted(dim=32), CHUNKER, REF).ingest(docs(3))
    steps: list[str] = []
    report = await Ingestor(store, Salted(dim=32), CHUNKER, REF, reembed=True).ingest(
        docs(4), progress=lambda p: steps.append(p.phase))
    assert report.added == ["doc3"]
    assert len(report.unchanged) == 3
    info = await store.get_collection(REF)
    assert info is not None
    assert info.embedder == "salted:32"
    assert steps[0] == "reembed"
    assert "ingest" in steps


async def test_ingest_rejects_mixed_sources(store: VectorStore) -> None:
    with pytest.raises(UsageError, match="not a mix"):
        await Ingestor(store, HashEmbedder(dim=32), CHUNKER, REF).ingest(
            [Document("a", "x"), "some/path"])  # type: ignore[list-item]


# -- re-embedding -------------------------------------------------------------------------

async def build(store: VectorStore, n: int = 40) -> None:
    await Ingestor(store, HashEmbedder(dim=32), CHUNKER, REF).ingest(docs(n))


async def test_reembed_swaps_in_the_new_model(store: VectorStore) -> None:
    await build(store)
    old = await snapshot(store)
    steps: list[Progress] = []
    report = await reembed(store, REF, Salted(dim=32), batch_size=16, progress=steps.append)
    assert (report.old_embedder, report.new_embedder) == ("hash:32", "salted:32")
    assert report.records == report.embedded == len(old)
    assert not report.resumed
    assert report.swap == ("rename" if isinstance(store, RenamingStore) else "copy")
    new = await snapshot(store)
    assert set(new) == set(old)
    assert all(new[i][:4] == old[i][:4] for i in old)  # text, ids, hashes, metadata kept
    assert all(new[i][4] != old[i][4] for i in old)    # vectors replaced
    assert await store.get_collection(shadow_ref(REF)) is None
    assert any(s.phase == "reembed" and s.done == s.total == len(old) for s in steps)
    again = await reembed(store, REF, Salted(dim=32))
    assert (again.embedded, again.swap) == (0, "none")


async def test_reembed_resumes_after_a_crash_and_equals_an_uninterrupted_run() -> None:
    clean = MemoryVectorStore()
    await build(clean)
    await reembed(clean, REF, Salted(dim=32), batch_size=8)
    expected = await snapshot(clean)

    store = MemoryVectorStore()
    await build(store)
    total = (await store.stats(REF)).count
    flaky = Flaky(32, fail_at=4)
    with pytest.raises(ConnectionError):
        await reembed(store, REF, flaky, batch_size=8)
    assert flaky.texts == 3 * 8
    # the live collection is untouched; the shadow holds the finished batches
    info = await store.get_collection(REF)
    assert info is not None
    assert info.embedder == "hash:32"
    assert (await store.stats(shadow_ref(REF))).count == 3 * 8

    resumed = Flaky(32, fail_at=0)
    report = await reembed(store, REF, resumed, batch_size=8)
    assert report.resumed
    assert report.embedded == resumed.texts == total - 3 * 8  # nothing embedded twice
    assert await snapshot(store) == expected
    assert await store.get_collection(shadow_ref(REF)) is None
    await clean.close()
    await store.close()


async def test_reembed_finishes_a_swap_cut_off_after_the_drop(store: VectorStore) -> None:
    await build(store, 10)
    expected_store = MemoryVectorStore()
    await build(expected_store, 10)
    await reembed(expected_store, REF, Salted(dim=32))
    expected = await snapshot(expected_store)

    # a crash between dropping the live collection and putting the shadow in its place
    shadow = shadow_ref(REF)
    await store.create_collection(shadow, dim=32, embedder="salted:32")
    async for batch in expected_store.scan(REF, with_vectors=True):
        await store.upsert(shadow, batch)
    await store.drop_collection(REF)
    report = await reembed(store, REF, Salted(dim=32))
    assert report.resumed
    assert report.embedded == 0
    assert await snapshot(store) == expected
    await expected_store.close()


async def test_reembed_catches_up_with_changes_and_drops_stale_shadows(
        store: VectorStore) -> None:
    await build(store, 10)
    shadow = shadow_ref(REF)
    # a shadow left by a job for another model is discarded
    await store.create_collection(shadow, dim=32, embedder="hash:other")
    await store.upsert(shadow, [Record("junk", "junk", np.ones(32, dtype=np.float32))])
    flaky = Flaky(32, fail_at=2)
    with pytest.raises(ConnectionError):
        await reembed(store, REF, flaky, batch_size=4)
    # meanwhile the live collection changes: one record edited, one deleted
    first = (await store.get(REF, ["doc0#c0"]))[0]
    await store.upsert(REF, [Record(first.id, "edited text", np.ones(32, dtype=np.float32),
                                    first.doc_id, "new-hash", first.metadata)])
    await store.delete(REF, ["doc1#c0"])
    await reembed(store, REF, Flaky(32, fail_at=0), batch_size=4)
    records = {r.id: r for batch in [b async for b in store.scan(REF)] for r in batch}
    assert records["doc0#c0"].text == "edited text"
    assert "doc1#c0" not in records
    assert "junk" not in records
    vec = (await store.get(REF, ["doc0#c0"], with_vectors=True))[0].vector
    assert np.allclose(vec, (await Salted(dim=32).embed(["edited text"]))[0], atol=1e-5)


async def test_reembed_a_missing_collection_is_a_usage_error(store: VectorStore) -> None:
    with pytest.raises(UsageError, match="no collection"):
        await reembed(store, REF, Salted(dim=32))


async def test_reembed_resumes_in_a_new_process_on_the_embedded_store(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    from plait.rag.stores.embedded import EmbeddedVectorStore

    clean = EmbeddedVectorStore(tmp_path / "clean")
    await build(clean)
    await reembed(clean, REF, Salted(dim=32), batch_size=8)
    expected = await snapshot(clean)
    await clean.close()

    store = EmbeddedVectorStore(tmp_path / "store")
    await build(store)
    with pytest.raises(ConnectionError):
        await reembed(store, REF, Flaky(32, fail_at=4), batch_size=8)
    await store.close()  # the process ends; a new one opens the directory
    store = EmbeddedVectorStore(tmp_path / "store")
    resumed = Flaky(32, fail_at=0)
    report = await reembed(store, REF, resumed, batch_size=8)
    assert report.resumed
    assert report.embedded == resumed.texts == report.records - 3 * 8
    assert await snapshot(store) == expected
    await store.close()
