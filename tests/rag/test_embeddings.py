"""Embedder ids and the factory, options, batching, the hashing embedder, and the checks that
keep two models' vectors apart."""

from __future__ import annotations

import dataclasses
from typing import get_type_hints

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from plait.errors import DimensionMismatch, EmbedderMismatch, UsageError
from plait.rag.embeddings import (
    EmbedderConfig,
    EmbedderOptions,
    GeminiEmbedder,
    HashEmbedder,
    LocalEmbedder,
    OllamaEmbedder,
    OpenAIEmbedder,
    TEIEmbedder,
    canonical_id,
    check_compatible,
    embedder_from_id,
    parse_id,
    resolve_dim,
)
from plait.rag.embeddings.base import split_batches
from plait.rag.types import CollectionInfo, CollectionRef, CollectionStats, Embedder
from plait.testing import MockLLMServer, hash_embedding

# -- ids and the factory ----------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "parsed"), [
    ("local", ("local", "all-MiniLM-L6-v2", None)),
    ("local:", ("local", "all-MiniLM-L6-v2", None)),
    ("LOCAL:all-minilm-l6-v2", ("local", "all-MiniLM-L6-v2", None)),
    ("openai:text-embedding-3-small", ("openai", "text-embedding-3-small", None)),
    ("openai:text-embedding-3-large@256", ("openai", "text-embedding-3-large", 256)),
    ("ollama:nomic-embed-text:latest", ("ollama", "nomic-embed-text:latest", None)),
    ("tei:BAAI/bge-small-en-v1.5", ("tei", "BAAI/bge-small-en-v1.5", None)),
    ("gemini:models/text-embedding-004", ("gemini", "text-embedding-004", None)),
    ("hash", ("hash", "384", None)),
    ("hash:64", ("hash", "64", None)),
])
def test_parse_id(spec: str, parsed: tuple[str, str, int | None]) -> None:
    assert parse_id(spec) == parsed


@pytest.mark.parametrize(("spec", "message"), [
    ("cohere:embed-english-v3.0", "unknown embedding provider 'cohere'"),
    ("text-embedding-3-small", "must be written 'provider:model'"),
    ("openai:", "names no model"),
    ("local:all-MiniLM-L6-v2@128", "fixed size"),
    ("hash:big", "hash:DIM"),
    ("openai:m@0", "dimensions must be >= 1"),
])
def test_bad_ids_are_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        embedder_from_id(spec)


def test_the_unknown_provider_error_lists_the_known_ones() -> None:
    with pytest.raises(UsageError) as caught:
        embedder_from_id("voyage:voyage-3")
    for provider in ("local", "openai", "ollama", "tei", "gemini"):
        assert provider in str(caught.value)


@pytest.mark.parametrize(("spec", "cls"), [
    ("openai:text-embedding-3-small", OpenAIEmbedder),
    ("ollama:nomic-embed-text", OllamaEmbedder),
    ("tei:BAAI/bge-small-en-v1.5", TEIEmbedder),
    ("gemini:text-embedding-004", GeminiEmbedder),
    ("hash:32", HashEmbedder),
    ("local", LocalEmbedder),
])
def test_the_factory_builds_each_provider_and_its_id_round_trips(spec: str, cls: type) -> None:
    embedder = embedder_from_id(spec)  # nothing connects or loads yet
    assert isinstance(embedder, cls)
    assert isinstance(embedder, Embedder)
    assert canonical_id(embedder.model_id) == embedder.model_id == canonical_id(spec)
    assert type(embedder_from_id(embedder.model_id)) is cls


def test_the_factory_passes_options_and_config() -> None:
    key = SecretStr("sk-secret-123456")
    embedder = embedder_from_id("openai:text-embedding-3-small@256", api_key=key,
                                base_url="http://127.0.0.1:1/v1/", batch_size=8)
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.config.api_key == key
    assert embedder.config.dimensions == 256
    assert embedder.dim == 256
    assert embedder.base_url == "http://127.0.0.1:1/v1"
    assert embedder.batch_size == 8
    assert embedder.model_id == "openai:text-embedding-3-small@256"
    base = EmbedderConfig(base_url="http://gateway:8080", timeout=5)
    tei = embedder_from_id("tei:m", base, batch_size=4)
    assert isinstance(tei, TEIEmbedder)
    assert (tei.base_url, tei.batch_size, tei.config.timeout) == ("http://gateway:8080", 4, 5)
    with pytest.raises(UsageError, match="says @256, but dimensions=128"):
        embedder_from_id("openai:m@256", dimensions=128)


def test_the_local_embedder_takes_only_its_own_options() -> None:
    local = embedder_from_id("local", batch_size=64, normalize=False)
    assert isinstance(local, LocalEmbedder)
    assert (local.batch_size, local.normalize) == (64, False)
    with pytest.raises(UsageError, match="takes no api_key, base_url"):
        embedder_from_id("local", api_key=SecretStr("k"), base_url="http://x")
    with pytest.raises(UsageError, match="takes no batch_size"):
        embedder_from_id("hash", batch_size=3)


def test_options_mirror_the_config_fields() -> None:
    fields = {f.name for f in dataclasses.fields(EmbedderConfig)}
    assert set(get_type_hints(EmbedderOptions)) == fields


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"concurrency": 0}, {"dimensions": -1},
                                 {"max_retries": -1}, {"timeout": 0}])
def test_bad_options_are_usage_errors(bad: dict[str, int]) -> None:
    with pytest.raises(UsageError, match="invalid embedder option"):
        EmbedderConfig(**bad)  # type: ignore[arg-type]


def test_a_plain_string_key_is_kept_secret() -> None:
    config = EmbedderConfig(api_key="sk-plain-123456")  # type: ignore[arg-type]
    assert isinstance(config.api_key, SecretStr)
    assert "sk-plain" not in repr(config)
    assert "sk-plain" not in repr(embedder_from_id("openai:m", config))


# -- batching ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=60), st.integers(1, 9),
       st.none() | st.integers(1, 80))
def test_batches_cover_the_texts_in_order_within_limits(texts: list[str], size: int,
                                                        chars: int | None) -> None:
    batches = list(split_batches(texts, size, chars))
    assert [t for _, batch in batches for t in batch] == texts
    position = 0
    for start, batch in batches:
        assert start == position
        assert 1 <= len(batch) <= size
        if chars is not None and len(batch) > 1:
            assert sum(map(len, batch)) <= chars
        position += len(batch)


# -- the hashing embedder ----------------------------------------------------------------------


async def test_hash_embedder_matches_the_mock_servers_vectors() -> None:
    texts = ["cats sleep a lot", "", "!!!", "Bond yields ROSE"] * 20  # inline and threaded
    embedder = HashEmbedder(64)
    vectors = await embedder.embed(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (80, 64)
    np.testing.assert_allclose(vectors, [hash_embedding(t, 64) for t in texts], atol=1e-6)
    assert (embedder.model_id, embedder.dim) == ("hash:64", 64)


# -- compatibility -----------------------------------------------------------------------------

REF = CollectionRef("acme", "docs")


def test_a_compatible_collection_passes() -> None:
    check_compatible(CollectionInfo(REF, 384, embedder="hash:384"), HashEmbedder())
    check_compatible(CollectionInfo(REF, 384), HashEmbedder())  # no model recorded
    check_compatible(CollectionInfo(REF, 384, embedder="local"), embedder_from_id("local"))


def test_another_size_names_both_sides() -> None:
    info = CollectionInfo(REF, 768, embedder="ollama:nomic-embed-text")
    with pytest.raises(DimensionMismatch) as caught:
        check_compatible(info, HashEmbedder())
    message = str(caught.value)
    assert "acme/default/docs" in message
    assert "768-dim" in message
    assert "384-dim" in message
    assert "ollama:nomic-embed-text" in message
    assert "hash:384" in message
    assert (caught.value.expected, caught.value.actual) == (768, 384)
    assert caught.value.code == "dimension_mismatch"


def test_another_model_of_the_same_size_is_a_mismatch_too() -> None:
    stats = CollectionStats(REF, count=3, documents=1, dim=384,
                            embedder="local:all-MiniLM-L6-v2")
    with pytest.raises(EmbedderMismatch, match="embedded with local:all-MiniLM-L6-v2, not "
                                               "hash:384") as caught:
        check_compatible(stats, HashEmbedder())
    assert not isinstance(caught.value, DimensionMismatch)


def test_an_embedder_of_unknown_size_is_checked_by_model_or_a_given_dim() -> None:
    embedder = OllamaEmbedder("nomic-embed-text")
    assert embedder.dim is None
    check_compatible(CollectionInfo(REF, 768, embedder="ollama:nomic-embed-text"), embedder)
    with pytest.raises(DimensionMismatch):
        check_compatible(CollectionInfo(REF, 768), embedder, dim=384)


async def test_resolve_dim_probes_only_when_it_must() -> None:
    assert await resolve_dim(HashEmbedder(12)) == 12
    async with MockLLMServer(embedding_dims=48) as server:
        embedder = OllamaEmbedder("m", EmbedderConfig(base_url=server.url))
        assert await resolve_dim(embedder) == 48
        assert embedder.dim == 48
        await embedder.aclose()
        assert len(server.requests) == 1
