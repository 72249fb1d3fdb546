"""The hosted embedders against the mock LLM server on loopback: request shapes, batching,
retries, failures mapped onto plait's errors, dimension checks, and keys kept secret."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from plait.errors import (
    DimensionMismatch,
    OutputInvalid,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    UsageError,
)
from plait.rag.embeddings import (
    EmbedderConfig,
    GeminiEmbedder,
    HTTPEmbedder,
    OllamaEmbedder,
    OpenAIEmbedder,
    TEIEmbedder,
)
from plait.rag.types import Embedder
from plait.testing import Fault, MockLLMServer, hash_embedding
from plait.testing.mock_tgi import TEI_MAX_CLIENT_BATCH

KEY = "sk-embed-test-0123456789"
JSON = dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    cls: type[HTTPEmbedder]
    model: str
    suffix: str
    """Appended to the mock server's URL to make the base URL."""
    path: str
    """Where its calls arrive (part of the path)."""
    texts_of: Callable[[JSON], list[str]]
    """The texts a request body carries."""
    keyed: bool = True

    def build(self, url: str, **options: Any) -> HTTPEmbedder:
        options.setdefault("api_key", SecretStr(KEY) if self.keyed else None)
        options.setdefault("retry_backoff", 0.01)
        return self.cls(self.model, EmbedderConfig(base_url=url + self.suffix, **options))


CASES = [
    Case("openai", OpenAIEmbedder, "text-embedding-3-small", "/v1", "/v1/embeddings",
         lambda body: body["input"]),
    Case("ollama", OllamaEmbedder, "nomic-embed-text", "", "/api/embed",
         lambda body: body["input"], keyed=False),
    Case("tei", TEIEmbedder, "BAAI/bge-small-en-v1.5", "", "/embed",
         lambda body: body["inputs"]),
    Case("gemini", GeminiEmbedder, "text-embedding-004", "",
         "/v1beta/models/text-embedding-004:batchEmbedContents",
         lambda body: [r["content"]["parts"][0]["text"] for r in body["requests"]]),
]


@pytest.fixture(params=CASES, ids=lambda c: c.id)
def case(request: pytest.FixtureRequest) -> Case:
    param: Case = request.param
    return param


@contextlib.asynccontextmanager
async def serving(case: Case, *, faults: list[Fault | None] | None = None,
                  dims: int = 384, **options: Any,
                  ) -> AsyncIterator[tuple[MockLLMServer, HTTPEmbedder]]:
    server = MockLLMServer(faults=faults, api_key=KEY if case.keyed else None,
                           embedding_dims=dims)
    async with server:
        embedder = case.build(server.url, **options)
        try:
            yield server, embedder
        finally:
            await embedder.aclose()


def bodies(server: MockLLMServer, case: Case) -> list[JSON]:
    return [x.body for x in server.exchanges if case.path in x.path and isinstance(x.body, dict)]


TEXTS = ["cats sleep a lot", "bond yields rose", "the cat sleeps on the mat"]


async def test_vectors_in_order_float32_and_unit_length(case: Case) -> None:
    async with serving(case) as (_server, embedder):
        assert isinstance(embedder, Embedder)
        assert embedder.dim is None  # known from the first reply
        vectors = await embedder.embed(TEXTS)
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 384)
    expected = np.array([hash_embedding(t) for t in TEXTS], dtype=np.float32)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 384
    assert embedder.model_id == f"{case.id}:{case.model}"


async def test_empty_input_makes_no_request(case: Case) -> None:
    async with serving(case) as (server, embedder):
        vectors = await embedder.embed([])
    assert vectors.shape == (0, 0)
    assert server.http_request_count == 0


async def test_batches_split_by_batch_size_and_reassemble_in_order(case: Case) -> None:
    texts = [f"text number {i} about topic {i % 7}" for i in range(23)]
    async with serving(case, batch_size=5, concurrency=3) as (server, embedder):
        vectors = await embedder.embed(texts)
        sent = [case.texts_of(body) for body in bodies(server, case)]
    assert sorted(len(b) for b in sent) == [3, 5, 5, 5, 5]
    assert sorted(t for b in sent for t in b) == sorted(texts)
    expected = np.array([hash_embedding(t) for t in texts], dtype=np.float32)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


async def test_the_key_travels_the_way_the_api_wants(case: Case) -> None:
    if not case.keyed:
        pytest.skip("Ollama takes no key")
    async with serving(case) as (server, embedder):  # the server checks the key
        await embedder.embed(["x"])
        headers = server.exchanges[-1].headers
    assert ("x-goog-api-key" if case.id == "gemini" else "authorization") in headers


async def test_a_wrong_key_is_rejected_and_never_shown(case: Case) -> None:
    if not case.keyed:
        pytest.skip("Ollama takes no key")
    wrong = "sk-wrong-key-987654321"
    async with MockLLMServer(api_key=KEY) as server:
        embedder = case.cls(case.model, EmbedderConfig(base_url=server.url + case.suffix,
                                                       api_key=SecretStr(wrong)))
        with pytest.raises(ProviderRejected) as caught:
            await embedder.embed(["x"])
        await embedder.aclose()
    assert caught.value.status in (400, 401)
    assert wrong not in str(caught.value)
    assert wrong not in repr(embedder)
    assert wrong not in repr(embedder.config)


async def test_429_is_retried_after_retry_after(case: Case) -> None:
    async with serving(case, faults=[Fault.rate_limit(0.05)] * 2) as (server, embedder):
        loop = asyncio.get_running_loop()
        start = loop.time()
        vectors = await embedder.embed(["a b"])
        waited = loop.time() - start
    assert vectors.shape == (1, 384)
    assert len(bodies(server, case)) == 3
    assert waited >= 0.09  # two waits of retry-after-ms = 50


async def test_429_after_the_retries_is_rate_limited_with_retry_after(case: Case) -> None:
    async with serving(case, faults=[Fault.rate_limit(2.5)], max_retries=0) as (_, embedder):
        with pytest.raises(RateLimited) as caught:
            await embedder.embed(["a"])
    assert caught.value.retry_after == pytest.approx(2.5)
    assert caught.value.status == 429
    assert caught.value.provider == case.id
    assert caught.value.retryable


async def test_a_retry_after_beyond_a_minute_is_not_waited_for(case: Case) -> None:
    async with serving(case, faults=[Fault.rate_limit(120)]) as (server, embedder):
        with pytest.raises(RateLimited):
            await embedder.embed(["a"])
    assert len(bodies(server, case)) == 1


async def test_500_is_retried_then_unavailable(case: Case) -> None:
    async with serving(case, faults=[Fault.server_error()] * 3) as (server, embedder):
        with pytest.raises(ProviderUnavailable) as caught:
            await embedder.embed(["a"])
    assert caught.value.status == 500
    assert "mock: internal server error" in str(caught.value)
    assert len(bodies(server, case)) == 3  # the call and two retries


async def test_500_then_success(case: Case) -> None:
    async with serving(case, faults=[Fault.server_error(), None]) as (_server, embedder):
        vectors = await embedder.embed(["a"])
    assert vectors.shape == (1, 384)


async def test_bad_json_is_output_invalid_and_not_retried(case: Case) -> None:
    async with serving(case, faults=[Fault.malformed_json()]) as (server, embedder):
        with pytest.raises(OutputInvalid, match="not valid JSON"):
            await embedder.embed(["a"])
    assert len(bodies(server, case)) == 1


async def test_an_html_page_is_unavailable(case: Case) -> None:
    async with serving(case, faults=[Fault.wrong_content_type()], max_retries=0) as (
            _, embedder):
        with pytest.raises(ProviderUnavailable, match="HTML"):
            await embedder.embed(["a"])


async def test_a_hanging_server_times_out(case: Case) -> None:
    async with serving(case, faults=[Fault.timeout()], timeout=0.2, max_retries=0) as (
            _, embedder):
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await embedder.embed(["a"])


async def test_nobody_listening_is_unavailable(case: Case) -> None:
    async with MockLLMServer() as server:
        url = server.url
    embedder = case.build(url, max_retries=0)
    with pytest.raises(ProviderUnavailable, match="connection failed"):
        await embedder.embed(["a"])
    await embedder.aclose()


async def test_one_failing_batch_fails_the_call_with_its_own_error(case: Case) -> None:
    faults: list[Fault | None] = [None, Fault.error(400, "mock: bad batch"), None]
    async with serving(case, faults=faults, batch_size=1, concurrency=1) as (_, embedder):
        with pytest.raises(ProviderRejected, match="mock: bad batch"):
            await embedder.embed(["a", "b", "c"])


async def test_dimensions_are_requested_and_name_the_model(case: Case) -> None:
    async with serving(case, dimensions=64) as (server, embedder):
        assert embedder.dim == 64
        vectors = await embedder.embed(["cats sleep"])
        body = bodies(server, case)[0]
    assert vectors.shape == (1, 64)
    assert embedder.model_id == f"{case.id}:{case.model}@64"
    if case.id == "gemini":
        assert body["requests"][0]["outputDimensionality"] == 64
    else:
        assert body["dimensions"] == 64


def without_size(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: without_size(v) for k, v in body.items()
                if k not in ("dimensions", "outputDimensionality")}
    return [without_size(v) for v in body] if isinstance(body, list) else body


async def test_a_reply_of_another_size_is_a_dimension_mismatch(case: Case) -> None:
    async with MockLLMServer(api_key=KEY if case.keyed else None, embedding_dims=32) as server:
        # a proxy that drops the size field: the server answers its native size
        embedder = case.build(server.url, dimensions=64)
        original = embedder.body
        embedder.body = lambda texts, kind: without_size(  # type: ignore[method-assign]
            original(texts, kind))
        with pytest.raises(DimensionMismatch) as caught:
            await embedder.embed(["a"])
        await embedder.aclose()
    assert (caught.value.expected, caught.value.actual) == (64, 32)
    assert "32-dim" in str(caught.value)
    assert "dimensions=64" in str(caught.value)


async def test_the_model_changing_size_between_calls_is_a_dimension_mismatch(
        case: Case) -> None:
    async with serving(case) as (server, embedder):
        await embedder.embed(["a"])
        server.embedding_dims = 768  # the model behind the name was replaced
        with pytest.raises(DimensionMismatch, match="768-dim vectors, but 384"):
            await embedder.embed(["b"])


async def test_concurrent_callers_share_the_embedder(case: Case) -> None:
    async with serving(case, batch_size=4) as (_, embedder):
        groups = [[f"caller {c} text {i}" for i in range(9)] for c in range(6)]
        results = await asyncio.gather(*(embedder.embed(g) for g in groups))
    for group, vectors in zip(groups, results, strict=True):
        expected = np.array([hash_embedding(t) for t in group], dtype=np.float32)
        np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_one_embedder_serves_one_event_loop_after_another(case: Case) -> None:
    with MockLLMServer(api_key=KEY if case.keyed else None) as server:
        embedder = case.build(server.url)

        async def embed_then_close() -> np.ndarray:
            try:
                return await embedder.embed(["a"])
            finally:
                await embedder.aclose()

        first = asyncio.run(embedder.embed(["a"]))  # its pool stays with the finished loop
        second = asyncio.run(embed_then_close())  # a new pool on the new loop
    np.testing.assert_array_equal(first, second)


async def test_retries_are_logged_without_the_key(case: Case,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="plait.rag.embeddings")
    async with serving(case, faults=[Fault.rate_limit(0.01)]) as (_, embedder):
        await embedder.embed(["a"])
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert all(KEY not in r.getMessage() and KEY not in str(r.__dict__) for r in caplog.records)


# -- provider specifics ---------------------------------------------------------------------


async def test_openai_asks_for_base64_and_reads_plain_numbers_too() -> None:
    case = CASES[0]
    async with serving(case) as (server, embedder):
        await embedder.embed(["a"])
        assert bodies(server, case)[0]["encoding_format"] == "base64"
        embedder.body = lambda texts, kind: {  # type: ignore[method-assign]
            "model": "m", "input": list(texts)}
        vectors = await embedder.embed(["cats"])
    np.testing.assert_allclose(vectors[0], hash_embedding("cats"), atol=1e-5)


async def test_openai_batches_stop_at_the_character_budget() -> None:
    case = CASES[0]
    texts = ["x" * 400, "y" * 400, "z" * 400, "w"]
    async with serving(case, max_batch_chars=1000) as (server, embedder):
        await embedder.embed(texts)
        sizes = [len(case.texts_of(b)) for b in bodies(server, case)]
    assert sorted(sizes) == [2, 2]


async def test_gemini_says_whether_a_text_is_a_query() -> None:
    case = CASES[3]
    async with serving(case) as (server, embedder):
        await embedder.embed(["d"], kind="document")
        await embedder.embed(["q"], kind="query")
        tasks = [b["requests"][0]["taskType"] for b in bodies(server, case)]
    assert tasks == ["RETRIEVAL_DOCUMENT", "RETRIEVAL_QUERY"]


async def test_tei_defaults_to_its_server_limit_and_a_larger_batch_is_rejected() -> None:
    case = CASES[2]
    texts = [f"t{i}" for i in range(TEI_MAX_CLIENT_BATCH * 2 + 1)]
    async with serving(case) as (server, embedder):
        assert (await embedder.embed(texts)).shape == (len(texts), 384)
        assert len(bodies(server, case)) == 3
    async with serving(case, batch_size=TEI_MAX_CLIENT_BATCH + 1) as (_, embedder):
        with pytest.raises(ProviderRejected, match="maximum allowed batch size") as caught:
            await embedder.embed(texts)
    assert caught.value.status == 413


@pytest.mark.parametrize(("cls", "size"), [(OpenAIEmbedder, 2049), (GeminiEmbedder, 101)])
def test_a_batch_size_over_the_api_limit_is_a_usage_error(cls: type[HTTPEmbedder],
                                                          size: int) -> None:
    with pytest.raises(UsageError, match="at most"):
        cls("m", EmbedderConfig(batch_size=size))


def test_gemini_accepts_the_models_prefix() -> None:
    assert GeminiEmbedder("models/text-embedding-004").model_id == "gemini:text-embedding-004"


async def test_a_lone_string_or_a_bad_kind_is_a_usage_error() -> None:
    embedder = OllamaEmbedder("m", EmbedderConfig(base_url="http://127.0.0.1:9"))
    with pytest.raises(UsageError, match="not one string"):
        await embedder.embed("oops")
    with pytest.raises(UsageError, match="kind"):
        await embedder.embed(["a"], kind="passage")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"texts\[1\]"):
        await embedder.embed(["a", 3])  # type: ignore[list-item]
