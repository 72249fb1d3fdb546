"""Sessions: lifecycle, history, auto-save, artifacts, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from plait.errors import SessionClosed, SessionNotFound, UsageError
from plait.store.db import Database
from plait.store.sessions import SessionStatus, SessionStore


@pytest.fixture(params=["sqlite", "postgres"])
async def sessions(request: pytest.FixtureRequest,
                   tmp_path: Path) -> AsyncIterator[SessionStore]:
    url = (str(tmp_path / "plait.db") if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    async with await Database.open(url) as db:
        yield SessionStore(db)


async def test_lifecycle(sessions: SessionStore) -> None:
    session = await sessions.create(tenant="acme", metadata={"title": "Support"})
    assert session.id.startswith("ses_")
    info = await sessions.get(session.id)
    assert info is not None
    assert (info.tenant, info.status, info.metadata, info.message_count) == (
        "acme", SessionStatus.ACTIVE, {"title": "Support"}, 0)
    assert info.created_at == info.updated_at
    other = await sessions.create(tenant="globex", session_id="chosen-id")
    assert other.id == "chosen-id"
    with pytest.raises(UsageError, match="already exists"):
        await sessions.create(session_id="chosen-id")

    closed = await sessions.close(session.id)
    assert closed.status is SessionStatus.CLOSED
    assert closed.closed_at is not None
    assert (await sessions.close(session.id)).closed_at == closed.closed_at
    assert await sessions.get("nope") is None
    with pytest.raises(SessionNotFound, match="'nope'"):
        await sessions.close("nope")
    with pytest.raises(SessionNotFound):
        await sessions.open("nope")


async def test_list_by_tenant_and_status(sessions: SessionStore) -> None:
    a = await sessions.create(tenant="acme")
    b = await sessions.create(tenant="acme")
    c = await sessions.create(tenant="globex")
    await sessions.append(a.id, [{"role": "user", "content": "latest"}])  # a: most recent
    await sessions.close(c.id)
    assert [s.session_id for s in await sessions.list(tenant="acme")] == [a.id, b.id]
    assert [s.session_id for s in await sessions.list(status="closed")] == [c.id]
    assert [s.session_id for s in await sessions.list(tenant="acme", status="closed")] == []
    assert len(await sessions.list()) == 3
    assert len(await sessions.list(limit=2)) == 2
    assert len(await sessions.list(limit=2, offset=2)) == 1


async def test_history_is_buffered_and_saved_on_exit(sessions: SessionStore) -> None:
    async with await sessions.create(tenant="acme") as session:
        session.append({"role": "system", "content": "Be brief."})
        session.append(role="user", content="Hi", name="ada")
        session.append(role="assistant", content=None,
                       tool_calls=[{"name": "search", "arguments": {"q": "x"}}])
        session.set("topic", "greeting")
        assert session.pending == 4
        assert await sessions.messages(session.id) == []  # not saved yet
        assert len(await session.history()) == 3  # saved + buffered
    assert session.pending == 0
    history = await sessions.messages(session.id)
    assert history == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi", "name": "ada"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"name": "search", "arguments": {"q": "x"}}]},
    ]
    assert await sessions.messages(session.id, after=1, limit=1) == [history[1]]
    info = await sessions.get(session.id)
    assert info is not None
    assert (info.message_count, info.metadata) == (3, {"topic": "greeting"})
    assert info.updated_at > info.created_at

    reopened = await sessions.open(session.id)
    assert reopened.metadata == {"topic": "greeting"}
    reopened.append(role="user", content="again")
    await reopened.save()
    assert (await sessions.messages(session.id, after=3)) == [
        {"role": "user", "content": "again"}]


async def test_messages_are_validated_and_redacted(sessions: SessionStore) -> None:
    session = await sessions.create()
    with pytest.raises(UsageError, match="string 'role'"):
        session.append({"content": "no role"})
    with pytest.raises(UsageError, match="needs 'content'"):
        session.append({"role": "user"})
    session.append(role="tool", content={"api_key": "sk-1", "ok": True},
                   token=SecretStr("t"))
    session.set("password", "hunter2")
    await session.save()
    assert await sessions.messages(session.id) == [
        {"role": "tool", "content": {"api_key": "***", "ok": True}, "token": "***"}]
    assert session.metadata == {"password": "***"}


async def test_autosave_after_n_changes(sessions: SessionStore) -> None:
    session = await sessions.create(autosave_every=3)

    async def saved() -> list[object]:
        if session._task is not None:
            await session._task  # the background save, if one started
        return [m["content"] for m in await sessions.messages(session.id)]

    for i in range(3):
        session.append(role="user", content=str(i))
    assert await saved() == ["0", "1", "2"]
    assert session.pending == 0
    session.append(role="user", content="3")
    session.set("k", "v")
    assert await saved() == ["0", "1", "2"]  # two changes: below the threshold
    session.append(role="user", content="4")
    assert await saved() == ["0", "1", "2", "3", "4"]
    info = await sessions.get(session.id)
    assert info is not None
    assert info.metadata == {"k": "v"}

    for i in range(5, 30):  # a burst while saves are in flight loses nothing
        session.append(role="user", content=str(i))
        await asyncio.sleep(0)
    await session.save()
    assert await saved() == [str(i) for i in range(30)]


async def test_autosave_after_a_quiet_delay(sessions: SessionStore) -> None:
    session = await sessions.create(autosave_every=None, autosave_delay=0.05)
    session.append(role="user", content="a")
    await asyncio.sleep(0.02)
    session.append(role="user", content="b")  # restarts the timer
    await asyncio.sleep(0.03)
    assert await sessions.messages(session.id) == []
    for _ in range(100):
        if session.pending == 0 and len(await sessions.messages(session.id)) == 2:
            break
        await asyncio.sleep(0.01)
    assert [m["content"] for m in await sessions.messages(session.id)] == ["a", "b"]


async def test_concurrent_savers_never_collide(sessions: SessionStore) -> None:
    created = await sessions.create()
    handles = [await sessions.open(created.id, autosave_every=None) for _ in range(4)]
    for n, handle in enumerate(handles):
        for i in range(5):
            handle.append(role="user", content=f"{n}.{i}")
    await asyncio.gather(*(h.save() for h in handles),
                         sessions.append(created.id, [{"role": "user", "content": "direct"}]))
    history = await sessions.messages(created.id)
    assert len(history) == 21
    assert sorted(str(m["content"]) for m in history) == sorted(
        [f"{n}.{i}" for n in range(4) for i in range(5)] + ["direct"])
    info = await sessions.get(created.id)
    assert info is not None
    assert info.message_count == 21


async def test_a_closed_session_takes_no_changes(sessions: SessionStore) -> None:
    session = await sessions.create()
    session.append(role="user", content="last words")
    info = await session.close()
    assert info.status is SessionStatus.CLOSED
    assert info.message_count == 1
    with pytest.raises(SessionClosed):
        session.append(role="user", content="more")
    with pytest.raises(SessionClosed):
        await session.attach(b"x", name="x")
    stale = await sessions.open(session.id)
    assert stale.status is SessionStatus.CLOSED
    with pytest.raises(SessionClosed):
        await sessions.append(session.id, [{"role": "user", "content": "x"}])
    with pytest.raises(SessionNotFound):
        await sessions.append("nope", [{"role": "user", "content": "x"}])


async def test_a_failed_background_save_surfaces_on_exit(sessions: SessionStore) -> None:
    session = await sessions.create(autosave_every=1)
    await sessions.close(session.id)  # closed behind the handle's back
    session.append(role="user", content="lost?")
    for _ in range(100):
        if session._task is not None and session._task.done():
            break
        await asyncio.sleep(0.01)
    with pytest.raises(SessionClosed):
        await session.save()
    assert session.pending == 1  # kept, not dropped


async def test_artifacts_belong_to_sessions(sessions: SessionStore) -> None:
    async with await sessions.create(tenant="acme") as session:
        report = await session.attach(b"# Report\n" * 2000, name="report.md",
                                      media_type="text/markdown")
        await session.attach(b"# Report\n" * 2000, name="copy.md")
    other = await sessions.create()
    await other.attach(b"# Report\n" * 2000, name="shared.md")
    assert [a.name for a in await session.artifacts()] == ["report.md", "copy.md"]
    assert await sessions.artifacts.get(report.artifact_id) == b"# Report\n" * 2000
    assert (await sessions.artifacts.stats()).blobs == 1

    assert await sessions.delete(session.id) is True
    assert await sessions.get(session.id) is None
    assert await sessions.messages(session.id) == []
    assert await sessions.artifacts.list(session_id=session.id) == []
    assert (await sessions.artifacts.stats()).blobs == 1  # still used by the other session
    assert await sessions.delete(other.id) is True
    assert (await sessions.artifacts.stats()).blobs == 0
    assert await sessions.delete(other.id) is False


def _database_bytes(path: Path) -> bytes:
    """The SQLite file with its WAL and shared-memory files."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


async def test_no_raw_secret_reaches_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    async with await Database.open(path) as db:
        store = SessionStore(db)
        async with await store.create(metadata={"api_key": "SECRET-A"}) as session:
            session.append(role="user", content="hi", password="SECRET-B")
            session.set("token", SecretStr("SECRET-C"))
            await session.attach(b"data", name="x", metadata={"clientSecret": "SECRET-D"})
    data = _database_bytes(path)
    assert b"***" in data
    for secret in (b"SECRET-A", b"SECRET-B", b"SECRET-C", b"SECRET-D"):
        assert secret not in data
