"""The persistent embedding cache: only misses reach the model, results keep their order, the
file survives the process, two processes share it, and sizes never mix."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from plait.errors import DimensionMismatch, EmbedderMismatch, UsageError
from plait.rag.embeddings import CachedEmbedder, CacheStats, HashEmbedder, embedder_from_id
from plait.rag.embeddings.base import EmbedKind
from plait.rag.types import Embedder

if TYPE_CHECKING:
    from plait.rag.types import Vectors


class Counting:
    """An embedder that records every text it is asked to embed."""

    def __init__(self, dim: int = 16, *, name: str = "hash:16", known: bool = True) -> None:
        self._inner = HashEmbedder(dim)
        self._name = name
        self._known = known
        self.calls: list[list[str]] = []
        self.closed = False

    @property
    def model_id(self) -> str:
        return self._name

    @property
    def dim(self) -> int | None:
        return self._inner.dim if self._known else None

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "document") -> Vectors:
        self.calls.append(list(texts))
        await asyncio.sleep(0)
        return await self._inner.embed(texts, kind=kind)

    async def aclose(self) -> None:
        self.closed = True

    @property
    def sent(self) -> list[str]:
        return [t for call in self.calls for t in call]


def expected(texts: Sequence[str], dim: int = 16) -> Vectors:
    return HashEmbedder(dim).embed_now(texts)


async def test_only_misses_reach_the_model_and_order_is_kept(tmp_path: Path) -> None:
    inner = Counting()
    cache = CachedEmbedder(inner, tmp_path / "e.sqlite")
    assert isinstance(cache, Embedder)
    first = await cache.embed(["a", "b", "c"])
    second = await cache.embed(["c", "d", "a", "b", "d"])
    np.testing.assert_array_equal(first, expected(["a", "b", "c"]))
    np.testing.assert_array_equal(second, expected(["c", "d", "a", "b", "d"]))
    assert inner.calls == [["a", "b", "c"], ["d"]]  # "d" twice in one call: sent once
    assert cache.stats == CacheStats(hits=3, misses=5, embedded=4)
    assert second.dtype == np.float32
    assert second.shape == (5, 16)
    await cache.aclose()
    assert inner.closed


async def test_the_cache_outlives_the_process_objects(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "e.sqlite"  # missing folders are made
    async with CachedEmbedder(Counting(), path) as cache:
        await cache.embed(["x", "y"])
    inner = Counting()
    async with CachedEmbedder(inner, path) as again:
        vectors = await again.embed(["y", "x"])
        assert await again.count() == 2
    assert inner.calls == []
    np.testing.assert_array_equal(vectors, expected(["y", "x"]))


async def test_keys_are_model_kind_and_text(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    one, other = Counting(name="hash:16"), Counting(name="other:16")
    async with CachedEmbedder(one, path) as a, CachedEmbedder(other, path) as b:
        await a.embed(["t"], kind="document")
        await a.embed(["t"], kind="query")
        await b.embed(["t"])
        await a.embed(["t"], kind="query")
        assert await a.count() == 3
        assert await a.count(model="hash:16") == 2
        assert await a.clear(model="other:16") == 1
        assert await a.count() == 2
    assert one.calls == [["t"], ["t"]]
    assert other.calls == [["t"]]


async def test_large_inputs_go_in_chunks_each_saved_as_it_returns(tmp_path: Path) -> None:
    class FailsLate(Counting):
        async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "document") -> Vectors:
            if len(self.calls) == 2:
                raise RuntimeError("the model went away")
            return await super().embed(texts, kind=kind)

    path = tmp_path / "e.sqlite"
    texts = [f"text {i}" for i in range(25)]
    async with CachedEmbedder(FailsLate(), path, chunk_size=10) as cache:
        with pytest.raises(RuntimeError):
            await cache.embed(texts)
    inner = Counting()
    async with CachedEmbedder(inner, path, chunk_size=10) as cache:
        vectors = await cache.embed(texts)
    assert inner.sent == texts[20:]  # the first two chunks were kept
    np.testing.assert_array_equal(vectors, expected(texts))


async def test_unicode_and_empty_texts(tmp_path: Path) -> None:
    texts = ["", "héllo wörld", "日本語のテキスト", "emoji 🎉", "lone \ud800 surrogate"]
    async with CachedEmbedder(Counting(), tmp_path / "e.sqlite") as cache:
        first = await cache.embed(texts)
        second = await cache.embed(texts)
        assert cache.stats.hits == len(texts)
    np.testing.assert_array_equal(first, second)


async def test_empty_input(tmp_path: Path) -> None:
    async with CachedEmbedder(Counting(), tmp_path / "e.sqlite") as cache:
        assert (await cache.embed([])).shape == (0, 16)


async def test_concurrent_callers_get_their_own_results(tmp_path: Path) -> None:
    inner = Counting()
    async with CachedEmbedder(inner, tmp_path / "e.sqlite", chunk_size=7) as cache:
        groups = [[f"w{(c * 5 + i) % 40}" for i in range(20)] for c in range(8)]
        results = await asyncio.gather(*(cache.embed(g) for g in groups))
        again = await asyncio.gather(*(cache.embed(g) for g in groups))
        assert await cache.count() == 40
    for group, first, second in zip(groups, results, again, strict=True):
        np.testing.assert_array_equal(first, expected(group))
        np.testing.assert_array_equal(second, expected(group))


async def test_a_model_returning_another_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    async with CachedEmbedder(Counting(16, name="m"), path) as cache:
        await cache.embed(["a"])
    # the same model id now makes 32-dim vectors: known up front ...
    async with CachedEmbedder(Counting(32, name="m"), path) as cache:
        with pytest.raises(DimensionMismatch) as caught:
            await cache.embed(["a"])
        assert (caught.value.expected, caught.value.actual) == (16, 32)
        assert "clear(model='m')" in str(caught.value)
    # ... or only when it answers
    async with CachedEmbedder(Counting(32, name="m", known=False), path) as cache:
        with pytest.raises(DimensionMismatch, match="holds 16-dim vectors for m"):
            await cache.embed(["b"])
        assert await cache.clear(model="m") == 1
        assert (await cache.embed(["b"])).shape == (1, 32)
    assert isinstance(caught.value, EmbedderMismatch)


async def test_dim_is_learned_from_the_file_for_an_embedder_that_does_not_know_it(
        tmp_path: Path) -> None:
    async with CachedEmbedder(Counting(known=False), tmp_path / "e.sqlite") as cache:
        assert cache.dim is None
        await cache.embed(["a"])
        assert cache.dim == 16
        assert cache.model_id == "hash:16"


async def test_the_file_is_wal_and_reopens_after_close(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite"
    cache = CachedEmbedder(Counting(), path)
    await cache.embed(["a"])
    await cache.aclose()
    await cache.embed(["b"])  # reopens
    await cache.aclose()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_chunk_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        CachedEmbedder(HashEmbedder(), tmp_path / "e.sqlite", chunk_size=0)


def test_the_factory_wraps_in_a_cache(tmp_path: Path) -> None:
    embedder = embedder_from_id("hash:8", cache=tmp_path / "e.sqlite")
    assert isinstance(embedder, CachedEmbedder)
    assert embedder.model_id == "hash:8"
    assert embedder.dim == 8


_WRITER = textwrap.dedent("""
    import asyncio, sys
    from plait.rag.embeddings import CachedEmbedder, HashEmbedder

    async def main():
        async with CachedEmbedder(HashEmbedder(16), sys.argv[1], chunk_size=3) as cache:
            print("start", flush=True)
            for round in range(30):
                await cache.embed([f"shared {i}" for i in range(round, round + 10)])
                await cache.embed([f"child {round} {i}" for i in range(5)])
        print(cache.stats.hits, cache.stats.misses)

    asyncio.run(main())
""")


async def test_two_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITER, str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 60) == b"start\n"  # both write now
    async with CachedEmbedder(HashEmbedder(16), path, chunk_size=4) as cache:
        for round in range(30):
            texts = [f"shared {i}" for i in range(round, round + 10)]
            np.testing.assert_array_equal(await cache.embed(texts), expected(texts))
            await cache.embed([f"parent {round} {i}" for i in range(5)])
        _out, err = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0, err.decode()
        # every text of both processes is in the file exactly once, with the right vector
        assert await cache.count() == 39 + 150 + 150
        everything = [f"shared {i}" for i in range(39)] + [
            f"{who} {r} {i}" for who in ("parent", "child") for r in range(30) for i in range(5)]
        before = cache.stats.embedded
        np.testing.assert_array_equal(await cache.embed(everything), expected(everything))
        assert cache.stats.embedded == before
