"""A throwaway PostgreSQL cluster for tests and benchmarks: ``initdb`` + ``pg_ctl`` in a temp
dir, listening on a free loopback port, with ``vector`` and ``ltree`` installed in its database.

    with ThrowawayPostgres() as pg:
        pg.url   # postgresql://plait@127.0.0.1:PORT/plait

PostgreSQL refuses to run as root: when this process is root, the cluster runs as the ``postgres``
system user (created by Debian's package). ``scripts/setup-postgres.sh`` installs the server and
builds pgvector; :func:`available` tells whether that has been done.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PG_BIN", "ThrowawayPostgres", "available", "unavailable_reason"]

PG_BIN = Path(os.environ.get("PLAIT_PG_BIN", "/usr/lib/postgresql/15/bin"))
_EXT_DIR = Path("/usr/share/postgresql/15/extension")


def unavailable_reason() -> str | None:
    """Why a throwaway cluster cannot start here, or None when it can."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL server binaries not found in {PG_BIN} (run scripts/setup-postgres.sh)"
    if not (_EXT_DIR / "vector.control").exists():
        return "pgvector is not installed (run scripts/setup-postgres.sh)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


def available() -> bool:
    return unavailable_reason() is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """A private PostgreSQL cluster; removed on :meth:`stop`."""

    def __init__(self, *, database: str = "plait", user: str = "plait",
                 extensions: tuple[str, ...] = ("vector", "ltree")) -> None:
        self.database = database
        self.user = user
        self.extensions = extensions
        self.port = 0
        self._dir: Path | None = None

    @property
    def url(self) -> str:
        """A libpq URL (``postgresql://``); SQLAlchemy users add a driver (``+asyncpg``)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        kwargs: dict[str, object] = {}
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")

            def demote() -> None:
                os.setgid(entry.pw_gid)
                os.setuid(entry.pw_uid)

            kwargs["preexec_fn"] = demote
        proc: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
            cmd, capture_output=True, text=True, check=False,
            env={**os.environ, "LC_ALL": "C"}, **kwargs)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                               f"{proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def start(self) -> ThrowawayPostgres:
        reason = unavailable_reason()
        if reason is not None:
            raise RuntimeError(reason)
        self._dir = Path(tempfile.mkdtemp(prefix="plait-pg-"))
        data = self._dir / "data"
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self._dir, entry.pw_uid, entry.pw_gid)
        self._run(str(PG_BIN / "initdb"), "-D", str(data), "-U", self.user, "-A", "trust",
                  "-E", "UTF8", "--no-sync")
        for _ in range(5):
            self.port = _free_port()
            try:
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-t", "30",
                          "-l", str(self._dir / "log"), "-o",
                          f"-p {self.port} -k {self._dir} -h 127.0.0.1 -c fsync=off "
                          "-c synchronous_commit=off -c full_page_writes=off "
                          "-c max_connections=200", "start")
                break
            except RuntimeError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"PostgreSQL did not start; see {self._dir / 'log'}")
        self.create_database(self.database)
        return self

    def create_database(self, name: str) -> str:
        """A new empty database with the extensions installed; returns its URL."""
        psql = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                "-v", "ON_ERROR_STOP=1", "-q"]
        self._run(*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{name}"')
        for ext in self.extensions:
            self._run(*psql, "-d", name, "-c", f"CREATE EXTENSION IF NOT EXISTS {ext}")
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self._dir is None:
            return
        data = self._dir / "data"
        if data.exists():
            with contextlib.suppress(RuntimeError):
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                          "stop")
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
