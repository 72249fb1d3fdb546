"""Opening the default store: a data directory, a SQLite file or a database URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from plait.graph.durability import CheckpointStore, RunLog
from plait.store.stores import Stores, open_store, store_url
from plait.types import RunStatus

from .conformance_checkpoints import checkpoint, record


def test_where_the_database_is(tmp_path: Path) -> None:
    assert store_url(tmp_path) == f"sqlite:///{tmp_path / 'plait.db'}"
    assert store_url(tmp_path / "data") == f"sqlite:///{tmp_path / 'data' / 'plait.db'}"
    assert store_url(tmp_path / "runs.sqlite") == f"sqlite:///{tmp_path / 'runs.sqlite'}"
    assert store_url("~/x").startswith(f"sqlite:///{Path.home()}")
    assert store_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert store_url("sqlite:///rel.db") == "sqlite:///rel.db"


async def test_a_data_directory_is_created_migrated_and_reopened(tmp_path: Path) -> None:
    home = tmp_path / "home" / ".plait"
    async with await open_store(home) as stores:
        assert isinstance(stores, Stores)
        assert isinstance(stores.checkpoints, CheckpointStore)
        assert isinstance(stores.runlog, RunLog)
        await stores.checkpoints.create_run(record("r1", status=RunStatus.WAITING))
        await stores.checkpoints.append([checkpoint("r1", 1)])
    assert (home / "plait.db").is_file()
    async with await open_store(home) as stores:
        assert [c.seq for c in await stores.checkpoints.checkpoints("r1")] == [1]
        async with stores.db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
