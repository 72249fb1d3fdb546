"""Artifacts: content-addressed by blake3, lz4 above 10 KiB, deduplicated, size-limited and
verified on read, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import lz4.frame  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from blake3 import blake3

from plait.errors import ArtifactCorrupted, ArtifactNotFound, ArtifactTooLarge, UsageError
from plait.store.artifacts import ArtifactStore, digest
from plait.store.db import Database
from plait.store.state.tables import artifact_blobs

TEXT = b"All work and no play makes Jack a dull boy.\n" * 1000  # 44 KB, compresses well


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = (str(tmp_path / "plait.db") if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    async with await Database.open(url) as database:
        yield database


async def _blob(db: Database, hexdigest: str) -> tuple[str, bytes]:
    async with db.engine.connect() as conn:
        row = (await conn.execute(sa.select(artifact_blobs.c.codec, artifact_blobs.c.data).where(
            artifact_blobs.c.digest == hexdigest))).one()
    return str(row[0]), bytes(row[1])


async def _overwrite(db: Database, hexdigest: str, data: bytes) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(sa.update(artifact_blobs).where(
            artifact_blobs.c.digest == hexdigest).values(data=data))


async def test_put_get_and_metadata(db: Database) -> None:
    store = ArtifactStore(db)
    info = await store.put(b"hello", name="hello.txt", media_type="text/plain",
                           session_id="s1", metadata={"lang": "en", "api_key": "sk-1"})
    assert info.digest == blake3(b"hello").hexdigest() == digest(b"hello")
    assert (info.name, info.media_type, info.size, info.session_id) == (
        "hello.txt", "text/plain", 5, "s1")
    assert info.metadata == {"lang": "en", "api_key": "***"}
    assert info.artifact_id.startswith("art_")
    assert await store.get(info.artifact_id) == b"hello"
    assert await store.info(info.artifact_id) == info
    assert await store.info("art_missing") is None
    with pytest.raises(ArtifactNotFound, match="art_missing"):
        await store.get("art_missing")
    empty = await store.put(b"", name="empty")
    assert await store.get(empty.artifact_id) == b""


async def test_large_artifacts_are_compressed_small_ones_are_not(db: Database) -> None:
    store = ArtifactStore(db)
    small = await store.put(TEXT[:10 * 1024], name="small")  # exactly 10 KiB: not above
    big = await store.put(TEXT, name="big")
    noise = await store.put(random.Random(1).randbytes(50_000), name="noise")
    assert (await _blob(db, small.digest))[0] == "none"
    codec, stored = await _blob(db, big.digest)
    assert codec == "lz4"
    assert len(stored) < len(TEXT) // 10
    assert lz4.frame.decompress(stored) == TEXT
    assert (await _blob(db, noise.digest))[0] == "none"  # compression would not help
    assert await store.get(big.artifact_id) == TEXT
    stats = await store.stats()
    assert stats.blobs == 3
    assert stats.size == 10 * 1024 + len(TEXT) + 50_000
    assert stats.stored_size < stats.size - len(TEXT) // 2


async def test_identical_content_is_stored_once(db: Database) -> None:
    store = ArtifactStore(db)
    first = await store.put(TEXT, name="a.txt", session_id="s1")
    second = await store.put(TEXT, name="b.txt", session_id="s2")
    concurrent = await asyncio.gather(*(store.put(TEXT, name=f"c{i}") for i in range(5)))
    assert first.artifact_id != second.artifact_id
    assert {first.digest, second.digest, *(c.digest for c in concurrent)} == {first.digest}
    stats = await store.stats()
    assert (stats.artifacts, stats.blobs) == (7, 1)
    assert [a.name for a in await store.list(session_id="s2")] == ["b.txt"]
    assert len(await store.list(digest=first.digest)) == 7


async def test_blobs_live_while_a_record_points_at_them(db: Database) -> None:
    store = ArtifactStore(db)
    a = await store.put(TEXT, name="a")
    b = await store.put(TEXT, name="b")
    assert await store.delete(a.artifact_id) is True
    assert await store.delete(a.artifact_id) is False
    assert await store.get(b.artifact_id) == TEXT  # still shared by b
    assert await store.delete(b.artifact_id) is True
    stats = await store.stats()
    assert (stats.artifacts, stats.blobs) == (0, 0)  # the last record took the blob along
    assert await store.gc() == 0


async def test_gc_sweeps_unreferenced_blobs(db: Database) -> None:
    store = ArtifactStore(db)
    keep = await store.put(b"keep", name="keep")
    async with db.engine.begin() as conn:  # an orphan, as a bulk delete could leave one
        await conn.execute(sa.insert(artifact_blobs).values(
            digest=digest(b"orphan"), codec="none", size=6, stored_size=6, data=b"orphan",
            created_at=0.0))
    assert (await store.stats()).blobs == 2
    assert await store.gc() == 1
    assert await store.get(keep.artifact_id) == b"keep"


async def test_size_limit_refuses_before_writing(db: Database) -> None:
    store = ArtifactStore(db, max_size=1000)
    with pytest.raises(ArtifactTooLarge, match=r"'big.bin' is 1001 bytes, over the limit of "
                                               r"1000 bytes") as info:
        await store.put(b"x" * 1001, name="big.bin")
    assert (info.value.size, info.value.limit, info.value.code) == (
        1001, 1000, "artifact_too_large")
    assert await store.stats() == type(await store.stats())(0, 0, 0, 0)
    assert (await store.put(b"x" * 1000, name="ok")).size == 1000
    with pytest.raises(UsageError, match="artifact name"):
        await store.put(b"x", name="")


@pytest.mark.parametrize("content", [b"short plain content", TEXT], ids=["plain", "lz4"])
async def test_a_flipped_byte_is_reported_never_returned(db: Database, content: bytes) -> None:
    store = ArtifactStore(db)
    info = await store.put(content, name="doc.txt")
    _, stored = await _blob(db, info.digest)
    for position in (0, len(stored) // 2, len(stored) - 1):
        damaged = bytearray(stored)
        damaged[position] ^= 0x01
        await _overwrite(db, info.digest, bytes(damaged))
        with pytest.raises(ArtifactCorrupted, match=info.artifact_id) as caught:
            await store.get(info.artifact_id)
        assert caught.value.artifact_id == info.artifact_id
        assert caught.value.digest == info.digest
        with pytest.raises(ArtifactCorrupted):
            await store.verify(info.artifact_id)
    await _overwrite(db, info.digest, stored[:-1])  # truncated
    with pytest.raises(ArtifactCorrupted):
        await store.get(info.artifact_id)
    await _overwrite(db, info.digest, stored)
    assert await store.get(info.artifact_id) == content
    assert (await store.verify(info.artifact_id)).digest == info.digest


async def test_big_payloads_hash_and_compress_off_the_loop(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "plait.db") as db:
        store = ArtifactStore(db)
        payload = os.urandom(512) * 4096  # 2 MiB, repetitive
        info = await store.put(payload, name="big")
        assert await store.get(info.artifact_id) == payload
        assert (await _blob(db, info.digest))[0] == "lz4"
