"""Stored runs in the CLI: the settings' database, a run's lock, its recorded calls.

* **Database**: ``Settings.database`` (``PLAIT_DATABASE_URL``, else ``plait.db`` in
  ``PLAIT_HOME``), opened once per command inside its event loop.
* **Lock**: while a command executes a run, it holds an exclusive ``flock`` on
  ``$PLAIT_HOME/runs/ID/lock`` (holding its pid). The kernel drops the lock when the process
  dies, even by ``kill -9``, so ``plait runs resume`` and ``plait runs cancel`` can tell a run
  that is still executing (refused: ``run_busy``) from one whose process is gone. It guards
  one machine; several machines sharing a PostgreSQL database rely on the checkpoints'
  immutability instead (a second writer fails with ``record_exists``).
* **Recorded calls**: every model and tool call of a stored run is appended (and flushed) to
  ``$PLAIT_HOME/runs/ID/calls.jsonl`` as it happens, so a killed process loses none. When the
  command ends (the run completed, failed, paused or was cancelled), that file goes into the
  database as a content-addressed artifact (blake3; lz4 above 10 KB; the same bytes are stored
  once) and a ``CallsRecorded`` event in the run's log points at it; the file is removed. A
  resumed run records its new calls the same way, so a run's recording is the union of its
  ``CallsRecorded`` artifacts (plus a file a killed process left behind, and for a fork, its
  parent's recording). ``plait runs replay`` answers every call from it.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path
from typing import IO

from plait.errors import RecordExists, RunBusy, RunNotFound, UsageError
from plait.graph.durability import Durability, LoggedEvent, RunRecord
from plait.graph.events import Event, EventSink, RunStarted
from plait.graph.spec import WorkflowSpec
from plait.nodes.recording import Cassette
from plait.settings import Settings
from plait.store import Stores, open_store

try:  # POSIX only; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CALLS_EVENT",
    "CallRecorder",
    "RunLock",
    "StoredRun",
    "check_run_id",
    "find_run",
    "open_stores",
    "pin_default_model",
    "recorded_calls",
    "run_dir",
    "sweep_recordings",
]

RUNS_DIR = "runs"
CALLS_FILE = "calls.jsonl"
LOCK_FILE = "lock"
CALLS_EVENT = "CallsRecorded"
"""The run log event that points at a stored recording (``artifact_id``, ``calls``)."""
CALLS_KIND = "run_calls"
"""``metadata["kind"]`` of a recording's artifact (``metadata["run_id"]`` names the run)."""
MODEL_KINDS = frozenset({"llm", "agent", "answer"})
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_run_id(run_id: str | None) -> str | None:
    """``run_id`` if it is a valid id for a new run (it names a folder under PLAIT_HOME)."""
    if run_id is not None and not _RUN_ID.fullmatch(run_id):
        raise UsageError(f"--run-id {run_id!r}: use 1 to 128 letters, digits, '.', '_' or "
                         "'-', starting with a letter or digit")
    return run_id


async def open_stores(config: Settings) -> Stores:
    """The settings' database, opened and migrated."""
    return await open_store(config.database)


def run_dir(config: Settings, run_id: str) -> Path:
    return config.home / RUNS_DIR / run_id


def _uses_models(data: object) -> bool:
    if isinstance(data, dict):
        if data.get("kind") in MODEL_KINDS:
            return True
        return any(_uses_models(v) for v in data.values())
    if isinstance(data, list):
        return any(_uses_models(v) for v in data)
    return False


def pin_default_model(spec: WorkflowSpec, default: str) -> WorkflowSpec:
    """``spec`` with ``default`` as its model when it names none and calls models: the stored
    spec then says which model ran, and a resume or replay elsewhere (other keys, other
    ``PLAIT_MODEL``) asks the same one."""
    if spec.settings.model is not None or not _uses_models(spec.model_dump(mode="json")):
        return spec
    return spec.model_copy(update={"settings": spec.settings.model_copy(
        update={"model": default})})


# -- ids -----------------------------------------------------------------------------------


async def find_run(stores: Stores, text: str) -> RunRecord:
    """The stored run ``text`` names: its id, or a unique prefix of it (at least 4 chars)."""
    text = text.strip()
    if not text:
        raise UsageError("give a run id (see plait runs list)")
    record = await stores.checkpoints.get_run(text)
    if record is not None:
        return record
    if len(text) >= 4:
        import sqlalchemy as sa

        from plait.store.run_tables import runs
        from plait.store.transactions import read_connection

        query = sa.select(runs.c.run_id).where(
            runs.c.run_id.startswith(text, autoescape=True)).limit(6)
        async with read_connection(stores.db) as conn:
            found = [str(r) for r in (await conn.execute(query)).scalars()]
        if len(found) > 1:
            raise UsageError(f"run id prefix {text!r} is ambiguous: it starts "
                             f"{', '.join(found[:5])}{' ...' if len(found) > 5 else ''}")
        if found:
            record = await stores.checkpoints.get_run(found[0])
            if record is not None:
                return record
    raise RunNotFound(text)


# -- the lock ------------------------------------------------------------------------------


class RunLock:
    """An exclusive, non-blocking ``flock`` on a run's lock file, released by the kernel when
    the process dies. The file holds the holder's pid (for messages only)."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`~plait.errors.RunBusy`."""
        if fcntl is None or self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = self.path.open("a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise RunBusy(self.run_id, _pid(self.path)) from None
            try:  # the holder before us may have unlinked the file: lock the current one
                same = os.fstat(handle.fileno()).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        handle.close()  # closing drops the flock
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()  # only if empty

    @staticmethod
    def holder(path: Path) -> int | None:
        """The pid of the live process holding the lock at ``path`` (0 if unknown), or
        ``None`` when nobody holds it."""
        if fcntl is None or not path.is_file():
            return None
        try:
            handle = path.open("r", encoding="utf-8")
        except OSError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _pid(path) or 0
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip() or 0) or None
    except (OSError, ValueError):
        return None


# -- recorded calls ------------------------------------------------------------------------


class CallRecorder:
    """The cassette that records one run's calls into its working file. A fork learns its
    run id only when it starts: it records to a placeholder path until :meth:`adopt`."""

    def __init__(self, config: Settings, run_id: str | None) -> None:
        self.config = config
        self.run_id = run_id
        path = (run_dir(config, run_id) if run_id is not None
                else config.home / RUNS_DIR / f".new-{uuid.uuid4().hex}") / CALLS_FILE
        self.cassette = Cassette(path, mode="record")

    def adopt(self, run_id: str) -> None:
        """The run's id is known (before any call is made): record under it."""
        if self.run_id is None:
            self.run_id = run_id
            self.cassette.path = run_dir(self.config, run_id) / CALLS_FILE

    async def save(self, stores: Stores) -> None:
        """Move the working file into the database (an artifact and a ``CallsRecorded``
        event); a run that is not stored keeps its file."""
        path = self.cassette.path
        run_id = self.run_id
        if run_id is None or not path.is_file():
            return
        data = path.read_bytes()
        calls = sum(1 for line in data.splitlines() if line.strip())
        if calls and await stores.checkpoints.get_run(run_id) is not None:
            from plait.store.artifacts import ArtifactStore

            info = await ArtifactStore(stores.db).put(
                data, name=f"runs/{run_id}/{CALLS_FILE}", media_type="application/jsonl",
                metadata={"kind": CALLS_KIND, "run_id": run_id, "calls": calls})
            logged = await stores.runlog.events(run_id)
            seq = logged[-1].seq + 1 if logged else 1
            await stores.runlog.append_events([LoggedEvent(
                run_id=run_id, seq=seq, type=CALLS_EVENT,
                data={"type": "calls_recorded", "run_id": run_id, "path": [],
                      "artifact_id": info.artifact_id, "digest": info.digest,
                      "calls": calls, "bytes": len(data)},
                ts=info.created_at)])
        elif calls:
            return  # nothing to attach it to (durability "exit" and a crash): keep the file
        with contextlib.suppress(OSError):
            path.unlink()
            path.parent.rmdir()


async def recorded_calls(stores: Stores, config: Settings, record: RunRecord) -> list[bytes]:
    """A run's recording, oldest first (later entries win): its parents' (a fork replays
    the calls it kept from them), its stored artifacts, and a working file left behind."""
    from plait.store.artifacts import ArtifactStore

    artifacts = ArtifactStore(stores.db)
    chain: list[RunRecord] = [record]
    while chain[-1].parent_id is not None and len(chain) < 64:
        parent = await stores.checkpoints.get_run(chain[-1].parent_id)
        if parent is None:
            break
        chain.append(parent)
    parts: list[bytes] = []
    for run in reversed(chain):
        for event in await stores.runlog.events(run.run_id):
            if event.type == CALLS_EVENT:
                parts.append(await artifacts.get(str(event.data["artifact_id"])))
        left = run_dir(config, run.run_id) / CALLS_FILE
        if left.is_file():
            parts.append(left.read_bytes())
    return parts


async def sweep_recordings(stores: Stores, config: Settings) -> int:
    """Delete recordings (artifacts and working folders) of runs no longer stored; returns
    how many runs' recordings went."""
    from plait.store.artifacts import ArtifactStore

    artifacts = ArtifactStore(stores.db)
    gone: set[str] = set()
    known: dict[str, bool] = {}

    async def stored(run_id: str) -> bool:
        if run_id not in known:
            known[run_id] = await stores.checkpoints.get_run(run_id) is not None
        return known[run_id]

    for info in await artifacts.list():
        run_id = info.metadata.get("run_id")
        if (info.metadata.get("kind") == CALLS_KIND and isinstance(run_id, str)
                and not await stored(run_id)):
            await artifacts.delete(info.artifact_id)
            gone.add(run_id)
    folder = config.home / RUNS_DIR
    if folder.is_dir():
        for entry in folder.iterdir():
            if (entry.is_dir() and not entry.name.startswith(".")
                    and RunLock.holder(entry / LOCK_FILE) is None
                    and not await stored(entry.name)):
                for item in entry.iterdir():
                    with contextlib.suppress(OSError):
                        item.unlink()
                with contextlib.suppress(OSError):
                    entry.rmdir()
                gone.add(entry.name)
    return len(gone)


# -- one command's hold on a run -----------------------------------------------------------


class StoredRun:
    """What one command needs to execute a stored run: the database (opened in the run's
    loop by :meth:`open`), the run's lock, and the recorder of its calls. :meth:`close`
    stores the recording, closes the database and releases the lock."""

    def __init__(self, config: Settings, run_id: str | None, *,
                 durability: Durability = Durability.SYNC, record_calls: bool = True,
                 new: bool = False) -> None:
        self.config = config
        self.run_id = run_id
        self.new = new
        """The run must not be stored yet (``plait run --run-id``)."""
        self.durability = durability
        self.recorder = CallRecorder(config, run_id) if record_calls else None
        self.lock = RunLock(run_dir(config, run_id) / LOCK_FILE, run_id) if run_id else None
        self._stores: Stores | None = None

    @property
    def calls(self) -> Cassette | None:
        return None if self.recorder is None else self.recorder.cassette

    @property
    def stores(self) -> Stores:
        if self._stores is None:
            raise RuntimeError("StoredRun.open() was not awaited")
        return self._stores

    async def open(self) -> Stores:
        if self.lock is not None:
            self.lock.acquire()
        try:
            self._stores = await open_stores(self.config)
            if (self.new and self.run_id is not None
                    and await self._stores.checkpoints.get_run(self.run_id) is not None):
                raise RecordExists(f"run {self.run_id!r} is already stored; give another "
                                   "--run-id (or resume it: plait runs resume "
                                   f"{self.run_id})", keys=(self.run_id,))
        except BaseException:
            if self._stores is not None:
                await self._stores.close()
                self._stores = None
            if self.lock is not None:
                self.lock.release()
            raise
        return self._stores

    def sink(self, inner: EventSink) -> EventSink:
        """``inner``, after learning the run id from the top-level ``RunStarted`` (a fork)."""
        if self.run_id is not None:
            return inner

        def deliver(event: Event) -> None:
            if self.run_id is None and isinstance(event, RunStarted) and not event.path:
                self.adopt(event.run_id)
            inner(event)

        return deliver

    def adopt(self, run_id: str) -> None:
        self.run_id = run_id
        if self.recorder is not None:
            self.recorder.adopt(run_id)
        self.lock = RunLock(run_dir(self.config, run_id) / LOCK_FILE, run_id)
        with contextlib.suppress(RunBusy):
            self.lock.acquire()

    async def close(self) -> None:
        stores, self._stores = self._stores, None
        try:
            if stores is not None and self.recorder is not None:
                await self.recorder.save(stores)
        finally:
            try:
                if stores is not None:
                    await stores.close()
            finally:
                if self.lock is not None:
                    self.lock.release()

