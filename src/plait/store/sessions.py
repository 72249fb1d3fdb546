"""Sessions: a conversation's durable record (tenant, status, metadata, message history and
artifacts), with a live handle that saves itself.

``SessionStore`` is the table-level API (create, get, list, close, delete, messages).
``Session`` is a live handle: :meth:`Session.append` and :meth:`Session.set` are synchronous
and buffered; the buffer is saved by :meth:`Session.save`, on leaving ``async with``, after
``autosave_every`` changes, or ``autosave_delay`` seconds after the last change (a debounce).
A background save that fails re-raises from the next ``save()`` or ``async with`` exit.

Messages are plain JSON dicts with at least ``role`` (a string) and ``content``; each gets a
``seq`` (1, 2, ...) per session. Concurrent savers of one session never collide: a save
reserves its range of ``seq`` with one atomic ``UPDATE ... RETURNING``. Metadata and messages
are redacted of secrets like state values. Artifacts belong to a session through their
``session_id`` (see :mod:`plait.store.artifacts`).
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from plait.errors import SessionClosed, SessionNotFound, UsageError
from plait.store.artifacts import ArtifactInfo, ArtifactStore
from plait.store.db import Database
from plait.store.secrets import redact
from plait.store.state.tables import artifact_blobs, artifacts, messages, sessions
from plait.store.transactions import read_connection, write_transaction
from plait.types import JsonValue

__all__ = ["Message", "Session", "SessionInfo", "SessionStatus", "SessionStore"]

Message = dict[str, JsonValue]


class SessionStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    tenant: str | None
    status: SessionStatus
    metadata: Mapping[str, JsonValue]
    message_count: int
    created_at: float
    updated_at: float
    closed_at: float | None = None


_INFO = (sessions.c.session_id, sessions.c.tenant, sessions.c.status, sessions.c.metadata,
         sessions.c.message_count, sessions.c.created_at, sessions.c.updated_at,
         sessions.c.closed_at)


def _info(row: Any) -> SessionInfo:
    return SessionInfo(str(row[0]), row[1], SessionStatus(row[2]), json.loads(row[3]),
                       int(row[4]), float(row[5]), float(row[6]),
                       None if row[7] is None else float(row[7]))


def _json(value: JsonValue, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{what} is not storable as JSON: {exc}") from exc


def _message(message: Mapping[str, object]) -> Message:
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
        raise UsageError(f"a message is a mapping with a string 'role': {message!r}")
    if "content" not in message:
        raise UsageError(f"a message needs 'content': {message!r}")
    plain = redact(message)
    assert isinstance(plain, dict)
    return plain


class SessionStore:
    """Sessions in the database ``db`` (opened and migrated by the caller). ``artifacts``
    (created on ``db`` if not given) stores the files attached to sessions."""

    def __init__(self, db: Database, *, artifacts: ArtifactStore | None = None) -> None:
        self.db = db
        self.artifacts = artifacts if artifacts is not None else ArtifactStore(db)

    async def create(self, *, tenant: str | None = None,
                     metadata: Mapping[str, object] | None = None,
                     session_id: str | None = None, autosave_every: int | None = 50,
                     autosave_delay: float | None = None) -> Session:
        """Store a new active session and return its live handle."""
        sid = session_id or f"ses_{uuid.uuid4().hex}"
        meta = redact(dict(metadata or {}))
        assert isinstance(meta, dict)
        now = time.time()
        try:
            async with write_transaction(self.db) as conn:
                await conn.execute(sa.insert(sessions).values(
                    session_id=sid, tenant=tenant, status=SessionStatus.ACTIVE.value,
                    metadata=_json(meta, "session metadata"), message_count=0, created_at=now,
                    updated_at=now))
        except IntegrityError:
            raise UsageError(f"a session {sid!r} already exists") from None
        info = SessionInfo(sid, tenant, SessionStatus.ACTIVE, meta, 0, now, now)
        return Session(self, info, autosave_every=autosave_every, autosave_delay=autosave_delay)

    async def open(self, session_id: str, *, autosave_every: int | None = 50,
                   autosave_delay: float | None = None) -> Session:
        """A live handle on a stored session."""
        info = await self.get(session_id)
        if info is None:
            raise SessionNotFound(session_id)
        return Session(self, info, autosave_every=autosave_every, autosave_delay=autosave_delay)

    async def get(self, session_id: str) -> SessionInfo | None:
        async with read_connection(self.db) as conn:
            row = (await conn.execute(sa.select(*_INFO).where(
                sessions.c.session_id == session_id))).first()
        return None if row is None else _info(row)

    async def list(self, *, tenant: str | None = None, status: SessionStatus | str | None = None,
                   limit: int = 100, offset: int = 0) -> builtins.list[SessionInfo]:
        """Sessions, most recently updated first, of one tenant and/or status."""
        query = sa.select(*_INFO).order_by(sessions.c.updated_at.desc(),
                                           sessions.c.session_id).limit(limit).offset(offset)
        if tenant is not None:
            query = query.where(sessions.c.tenant == tenant)
        if status is not None:
            query = query.where(sessions.c.status == SessionStatus(status).value)
        async with read_connection(self.db) as conn:
            return [_info(row) for row in await conn.execute(query)]

    async def close(self, session_id: str) -> SessionInfo:
        """Mark the session closed (closing twice is harmless); it keeps its history."""
        now = time.time()
        async with write_transaction(self.db) as conn:
            await conn.execute(sa.update(sessions).where(
                sessions.c.session_id == session_id,
                sessions.c.status == SessionStatus.ACTIVE.value,
            ).values(status=SessionStatus.CLOSED.value, closed_at=now, updated_at=now))
        info = await self.get(session_id)
        if info is None:
            raise SessionNotFound(session_id)
        return info

    async def delete(self, session_id: str) -> bool:
        """Remove the session, its messages and its artifact records (and their blobs when
        no other artifact shares them)."""
        async with write_transaction(self.db) as conn:
            digests = [str(d) for d in (await conn.execute(sa.delete(artifacts).where(
                artifacts.c.session_id == session_id).returning(artifacts.c.digest))).scalars()]
            await conn.execute(sa.delete(messages).where(messages.c.session_id == session_id))
            found = (await conn.execute(sa.delete(sessions).where(
                sessions.c.session_id == session_id))).rowcount
            for digest in set(digests):
                await conn.execute(sa.delete(artifact_blobs).where(
                    artifact_blobs.c.digest == digest,
                    ~sa.exists().where(artifacts.c.digest == digest)))
        return bool(found)

    async def append(self, session_id: str,
                     new: Sequence[Mapping[str, object]]) -> int:
        """Append messages now (not buffered); returns the session's message count."""
        return await self._save(session_id, [_message(m) for m in new], None)

    async def messages(self, session_id: str, *, after: int = 0,
                       limit: int | None = None) -> builtins.list[Message]:
        """The session's messages with ``seq > after``, in order."""
        query = sa.select(messages.c.message).where(
            messages.c.session_id == session_id, messages.c.seq > after,
        ).order_by(messages.c.seq)
        if limit is not None:
            query = query.limit(limit)
        async with read_connection(self.db) as conn:
            return [json.loads(text) for text in (await conn.execute(query)).scalars()]

    async def _save(self, session_id: str, new: builtins.list[Message],
                    metadata: dict[str, JsonValue] | None) -> int:
        now = time.time()
        values: dict[str, object] = {"updated_at": now,
                                     "message_count": sessions.c.message_count + len(new)}
        if metadata is not None:
            values["metadata"] = _json(metadata, "session metadata")
        texts = [_json(m, "a message") for m in new]
        async with write_transaction(self.db) as conn:
            count = (await conn.execute(sa.update(sessions).where(
                sessions.c.session_id == session_id,
                sessions.c.status == SessionStatus.ACTIVE.value,
            ).values(values).returning(sessions.c.message_count))).scalar_one_or_none()
            if count is None:
                info = await self._get_in(conn, session_id)
                raise SessionNotFound(session_id) if info is None else SessionClosed(session_id)
            first = int(count) - len(new) + 1
            if texts:
                await conn.execute(sa.insert(messages), [
                    {"session_id": session_id, "seq": first + i, "message": text,
                     "created_at": now} for i, text in enumerate(texts)])
        return int(count)

    @staticmethod
    async def _get_in(conn: Any, session_id: str) -> SessionInfo | None:
        row = (await conn.execute(sa.select(*_INFO).where(
            sessions.c.session_id == session_id))).first()
        return None if row is None else _info(row)


class Session:
    """A live session: buffered changes, saved on ``async with`` exit, every
    ``autosave_every`` changes (None: never by count), or ``autosave_delay`` seconds after
    the last change (None: no timer)."""

    def __init__(self, store: SessionStore, info: SessionInfo, *,
                 autosave_every: int | None = 50, autosave_delay: float | None = None) -> None:
        if autosave_every is not None and autosave_every < 1:
            raise UsageError(f"autosave_every must be >= 1 or None, got {autosave_every!r}")
        self.store = store
        self.id = info.session_id
        self.tenant = info.tenant
        self.created_at = info.created_at
        self._info = info
        self._metadata: dict[str, JsonValue] = dict(info.metadata)
        self._metadata_dirty = False
        self._pending: builtins.list[Message] = []
        self._changes = 0
        self._autosave_every = autosave_every
        self._autosave_delay = autosave_delay
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._timer: asyncio.TimerHandle | None = None
        self._error: BaseException | None = None

    # -- reading --------------------------------------------------------------------------
    @property
    def info(self) -> SessionInfo:
        """What was last loaded or saved (``message_count`` includes only saved messages)."""
        return self._info

    @property
    def status(self) -> SessionStatus:
        return self._info.status

    @property
    def metadata(self) -> Mapping[str, JsonValue]:
        return dict(self._metadata)

    @property
    def pending(self) -> int:
        """Changes not saved yet."""
        return self._changes

    async def history(self, *, after: int = 0, limit: int | None = None) -> builtins.list[Message]:
        """Saved messages plus those still buffered, in order."""
        saved = await self.store.messages(self.id, after=after, limit=limit)
        if limit is not None and len(saved) >= limit:
            return saved
        extra = list(self._pending)
        return saved + (extra if limit is None else extra[:limit - len(saved)])

    async def artifacts(self) -> builtins.list[ArtifactInfo]:
        return await self.store.artifacts.list(session_id=self.id)

    # -- changing -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._info.status is SessionStatus.CLOSED:
            raise SessionClosed(self.id)

    def append(self, message: Mapping[str, object] | None = None, /, *,
               role: str | None = None, content: object = None,
               **fields: object) -> Message:
        """Buffer a message: ``append({"role": "user", "content": "hi"})`` or
        ``append(role="user", content="hi")``. Returns the stored (redacted) form."""
        self._check_open()
        if message is None:
            message = {"role": role, "content": content, **fields}
        plain = _message(message)
        self._pending.append(plain)
        self._touch()
        return plain

    def set(self, key: str, value: object) -> None:
        """Set a metadata entry (saved with the next save; secrets redacted)."""
        self._check_open()
        self._metadata[key] = redact(value, key=key)
        self._metadata_dirty = True
        self._touch()

    async def attach(self, data: bytes, *, name: str,
                     media_type: str = "application/octet-stream",
                     metadata: Mapping[str, object] | None = None) -> ArtifactInfo:
        """Store an artifact for this session now (content-addressed, deduplicated)."""
        self._check_open()
        return await self.store.artifacts.put(data, name=name, media_type=media_type,
                                              session_id=self.id, metadata=metadata)

    def _touch(self) -> None:
        self._changes += 1
        if self._autosave_every is not None and self._changes >= self._autosave_every:
            self._schedule()
        elif self._autosave_delay is not None:
            loop = asyncio.get_running_loop()
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(self._autosave_delay, self._schedule)

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._background())
        else:
            self._again = True  # the save in flight took an earlier batch: go once more

    async def _background(self) -> None:
        try:
            again = True
            while again:
                self._again = False
                await self._flush()
                again = self._again
        except Exception as exc:  # kept for the next save() / exit
            self._error = exc

    # -- saving ---------------------------------------------------------------------------
    async def save(self) -> SessionInfo:
        """Write buffered changes now (waits for a background save in flight)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._flush()
        error, self._error = self._error, None
        if error is not None:
            raise error
        return self._info

    async def _flush(self) -> None:
        async with self._lock:
            if not self._changes:
                return
            batch, self._pending = self._pending, []
            changes, self._changes = self._changes, 0
            metadata = dict(self._metadata) if self._metadata_dirty else None
            self._metadata_dirty = False
            try:
                count = await self.store._save(self.id, batch, metadata)
            except BaseException:
                self._pending = batch + self._pending
                self._changes += changes
                self._metadata_dirty = self._metadata_dirty or metadata is not None
                raise
            self._info = SessionInfo(self.id, self.tenant, self._info.status,
                                     dict(self._metadata), count, self.created_at, time.time(),
                                     self._info.closed_at)

    async def close(self) -> SessionInfo:
        """Save, then mark the session closed."""
        await self.save()
        self._info = await self.store.close(self.id)
        return self._info

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._info.status is SessionStatus.ACTIVE or self._changes:
            await self.save()

    def __repr__(self) -> str:
        return f"<Session {self.id} {self._info.status.value} pending={self._changes}>"
