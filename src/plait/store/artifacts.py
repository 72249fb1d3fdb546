"""Content-addressed artifacts: files and outputs a session or run keeps (images, reports,
generated code...), stored once per distinct content and verified on every read.

- **Addressed by content**: a blob's id is the blake3 hex digest of its raw bytes.
- **Deduplicated**: an artifact *record* (id, name, media type, session, metadata) points at a
  blob; storing the same bytes again adds a record, not a blob. A blob lives as long as a
  record points at it: deleting the last record deletes the blob in the same transaction, and
  :meth:`ArtifactStore.gc` sweeps any blob left unreferenced (by a deleted session, say). This
  is garbage collection by reachability, not reference counting: there is no counter that
  could drift from the records.
- **Compressed** with lz4 (frame format, content checksum) when larger than
  ``compress_above`` (10 KiB), and kept compressed only if that is smaller.
- **Size-limited**: bytes over ``max_size`` raise :class:`~plait.errors.ArtifactTooLarge`
  before anything is hashed or written.
- **Verified on read**: the blob is decompressed and re-hashed; anything that does not match
  (a flipped bit on disk, a truncated blob, a wrong size) raises
  :class:`~plait.errors.ArtifactCorrupted` naming the artifact, and the bytes are never
  returned.

Blobs are stored in the database (``plait_artifact_blobs``, ``LargeBinary``) rather than as
files: a record and its blob commit in one transaction, so a crash never leaves a half-written
file or an orphan, a PostgreSQL store serves every worker without a shared disk, and a
database backup includes them. The price is that a read holds the whole artifact in memory,
which ``max_size`` (64 MiB by default) bounds.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lz4.frame  # type: ignore[import-untyped]
import sqlalchemy as sa
from blake3 import blake3
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from plait.errors import ArtifactCorrupted, ArtifactNotFound, ArtifactTooLarge, UsageError
from plait.store.db import Database
from plait.store.secrets import redact
from plait.store.state.tables import artifact_blobs, artifacts
from plait.store.transactions import read_connection, write_transaction
from plait.types import JsonValue

__all__ = ["ArtifactInfo", "ArtifactStats", "ArtifactStore", "digest"]

DEFAULT_MAX_SIZE = 64 * 1024 * 1024
COMPRESS_ABOVE = 10 * 1024
_THREAD_ABOVE = 1024 * 1024
"""Hash and compress larger payloads in a worker thread (blake3 and lz4 release the GIL)."""


def digest(data: bytes) -> str:
    """The blake3 hex digest that addresses ``data``."""
    return blake3(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    artifact_id: str
    digest: str
    """blake3 hex of the raw bytes."""
    name: str
    media_type: str
    size: int
    """Raw bytes."""
    session_id: str | None
    created_at: float
    metadata: Mapping[str, JsonValue]


@dataclass(frozen=True, slots=True)
class ArtifactStats:
    artifacts: int
    blobs: int
    size: int
    """Raw bytes of all distinct blobs."""
    stored_size: int
    """Bytes the blobs take in the database, after compression."""


def _encode(data: bytes, compress_above: int) -> tuple[str, str, bytes]:
    hexdigest = digest(data)
    if len(data) > compress_above:
        packed: bytes = lz4.frame.compress(data, content_checksum=True)
        if len(packed) < len(data):
            return hexdigest, "lz4", packed
    return hexdigest, "none", data


def _decode(artifact_id: str, hexdigest: str, codec: str, size: int, stored: bytes) -> bytes:
    if codec == "lz4":
        try:
            data: bytes = lz4.frame.decompress(stored)
        except Exception as exc:  # lz4 raises RuntimeError, but be sure nothing leaks
            raise ArtifactCorrupted(artifact_id, hexdigest, f"lz4 frame is damaged ({exc})"
                                    ) from exc
    elif codec == "none":
        data = bytes(stored)
    else:
        raise ArtifactCorrupted(artifact_id, hexdigest, f"unknown codec {codec!r}")
    if len(data) != size:
        raise ArtifactCorrupted(artifact_id, hexdigest, f"{len(data)} bytes, {size} recorded")
    if digest(data) != hexdigest:
        raise ArtifactCorrupted(artifact_id, hexdigest, "blake3 digest does not match")
    return data


_INFO = (artifacts.c.artifact_id, artifacts.c.digest, artifacts.c.name,
         artifacts.c.media_type, artifacts.c.size, artifacts.c.session_id,
         artifacts.c.created_at, artifacts.c.metadata)


def _info(row: Any) -> ArtifactInfo:
    return ArtifactInfo(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]),
                        None if row[5] is None else str(row[5]), float(row[6]),
                        json.loads(row[7]))


class ArtifactStore:
    """Artifacts in the database ``db`` (opened and migrated by the caller)."""

    def __init__(self, db: Database, *, max_size: int = DEFAULT_MAX_SIZE,
                 compress_above: int = COMPRESS_ABOVE) -> None:
        if max_size < 1 or compress_above < 0:
            raise UsageError("max_size must be >= 1 and compress_above >= 0")
        self.db = db
        self.max_size = max_size
        self.compress_above = compress_above

    def _insert(self) -> Any:
        return (postgresql if self.db.backend == "postgresql" else sqlite).insert(artifact_blobs)

    async def put(self, data: bytes | bytearray | memoryview, *, name: str,
                  media_type: str = "application/octet-stream", session_id: str | None = None,
                  metadata: Mapping[str, object] | None = None) -> ArtifactInfo:
        """Store ``data`` as a new artifact record (its blob is shared with any identical
        content already stored). ``metadata`` is JSON, secrets redacted."""
        if len(data) > self.max_size:
            raise ArtifactTooLarge(name, len(data), self.max_size)
        if not isinstance(name, str) or not name or len(name) > 1024:
            raise UsageError(f"an artifact name is a string of 1 to 1024 characters: {name!r}")
        raw = bytes(data)
        meta = json.dumps(redact(dict(metadata or {})), ensure_ascii=False,
                          separators=(",", ":"), allow_nan=False)
        if len(raw) > _THREAD_ABOVE:
            hexdigest, codec, stored = await asyncio.to_thread(_encode, raw, self.compress_above)
        else:
            hexdigest, codec, stored = _encode(raw, self.compress_above)
        info = ArtifactInfo(f"art_{uuid.uuid4().hex}", hexdigest, name, media_type, len(raw),
                            session_id, time.time(), json.loads(meta))
        for attempt in range(3):
            try:
                async with write_transaction(self.db) as conn:
                    await conn.execute(self._insert().values(
                        digest=hexdigest, codec=codec, size=len(raw), stored_size=len(stored),
                        data=stored, created_at=info.created_at,
                    ).on_conflict_do_nothing(index_elements=[artifact_blobs.c.digest]))
                    await conn.execute(sa.insert(artifacts).values(
                        artifact_id=info.artifact_id, digest=hexdigest, name=name,
                        media_type=media_type, size=len(raw), session_id=session_id,
                        metadata=meta, created_at=info.created_at))
                return info
            except IntegrityError:  # the blob was collected between our two statements
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, artifact_id: str) -> bytes:
        """The artifact's bytes, verified against its digest."""
        query = sa.select(artifacts.c.digest, artifact_blobs.c.codec, artifact_blobs.c.size,
                          artifact_blobs.c.data).join(
            artifact_blobs, artifact_blobs.c.digest == artifacts.c.digest,
        ).where(artifacts.c.artifact_id == artifact_id)
        async with read_connection(self.db) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise ArtifactNotFound(artifact_id)
        hexdigest, codec, size, stored = str(row[0]), str(row[1]), int(row[2]), bytes(row[3])
        if size > _THREAD_ABOVE:
            return await asyncio.to_thread(_decode, artifact_id, hexdigest, codec, size, stored)
        return _decode(artifact_id, hexdigest, codec, size, stored)

    async def verify(self, artifact_id: str) -> ArtifactInfo:
        """Read and check the artifact (raises :class:`~plait.errors.ArtifactCorrupted`)."""
        await self.get(artifact_id)
        info = await self.info(artifact_id)
        assert info is not None
        return info

    async def info(self, artifact_id: str) -> ArtifactInfo | None:
        async with read_connection(self.db) as conn:
            row = (await conn.execute(sa.select(*_INFO).where(
                artifacts.c.artifact_id == artifact_id))).first()
        return None if row is None else _info(row)

    async def list(self, *, session_id: str | None = None, digest: str | None = None,
                   limit: int | None = None) -> list[ArtifactInfo]:
        """Artifact records, oldest first, of one session and/or one content digest."""
        query = sa.select(*_INFO).order_by(artifacts.c.created_at, artifacts.c.artifact_id)
        if session_id is not None:
            query = query.where(artifacts.c.session_id == session_id)
        if digest is not None:
            query = query.where(artifacts.c.digest == digest)
        if limit is not None:
            query = query.limit(limit)
        async with read_connection(self.db) as conn:
            return [_info(row) for row in await conn.execute(query)]

    async def delete(self, artifact_id: str) -> bool:
        """Remove the record; its blob goes too when no other record points at it."""
        async with write_transaction(self.db) as conn:
            found = (await conn.execute(sa.delete(artifacts).where(
                artifacts.c.artifact_id == artifact_id).returning(artifacts.c.digest))).first()
            if found is None:
                return False
            await _drop_unreferenced(conn, [str(found[0])])
        return True

    async def gc(self) -> int:
        """Delete every blob no record points at; returns how many."""
        unreferenced = sa.select(artifact_blobs.c.digest).where(~sa.exists().where(
            artifacts.c.digest == artifact_blobs.c.digest))
        async with write_transaction(self.db) as conn:
            digests = [str(d) for d in (await conn.execute(unreferenced)).scalars()]
            return await _drop_unreferenced(conn, digests)

    async def stats(self) -> ArtifactStats:
        async with read_connection(self.db) as conn:
            records = (await conn.execute(sa.select(sa.func.count()).select_from(artifacts))
                       ).scalar_one()
            blobs, size, stored = (await conn.execute(sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.sum(artifact_blobs.c.size), 0),
                sa.func.coalesce(sa.func.sum(artifact_blobs.c.stored_size), 0)))).one()
        return ArtifactStats(int(records), int(blobs), int(size), int(stored))


async def _drop_unreferenced(conn: AsyncConnection, digests: list[str]) -> int:
    """Delete the blobs among ``digests`` that no record references. On PostgreSQL a record
    inserted concurrently makes the delete fail its foreign key check: a savepoint keeps the
    blob and the rest of the transaction. (SQLite runs one writer at a time.)"""
    dropped = 0
    for hexdigest in digests:
        delete = sa.delete(artifact_blobs).where(
            artifact_blobs.c.digest == hexdigest,
            ~sa.exists().where(artifacts.c.digest == hexdigest))
        if conn.dialect.name != "postgresql":
            dropped += (await conn.execute(delete)).rowcount
            continue
        try:
            async with conn.begin_nested():
                dropped += (await conn.execute(delete)).rowcount
        except IntegrityError:
            continue
    return dropped
