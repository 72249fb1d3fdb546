"""Fixtures shared by every test package."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from plait.testing.postgres import ThrowawayPostgres, unavailable_reason

_databases = itertools.count(1)


@pytest.fixture(autouse=True)
def _plait_home(tmp_path_factory: pytest.TempPathFactory,
                monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own PLAIT_HOME (``plait run`` stores runs there by default), and
    PLAIT_DATABASE_URL from the machine never leaks in: no test writes to ``~/.plait``."""
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path_factory.mktemp("plait-home")))
    monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayPostgres]:
    """One throwaway PostgreSQL cluster (pgvector, ltree) for the whole test session.

    Skipped when PostgreSQL is missing, unless PLAIT_REQUIRE_PG=1 (``make test`` sets it, after
    ``scripts/setup-postgres.sh``), where a missing server is a failure."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("PLAIT_REQUIRE_PG") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with ThrowawayPostgres() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: ThrowawayPostgres) -> str:
    """A fresh, empty database in the session's cluster (``postgresql://...``)."""
    return pg_cluster.create_database(f"test_{os.getpid()}_{next(_databases)}")
