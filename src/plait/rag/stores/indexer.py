"""The embedded store's background thread: one per store, it links fresh vectors into the
collections' HNSW graphs, compacts collections full of tombstones and saves snapshots.

Graph insertion holds a collection's ``state`` lock, which searches need too, so the thread
works in chunks sized to hold it about a millisecond and pauses whenever a search waits:
searches never queue behind indexing. FAISS runs single-threaded here (this thread's OpenMP
setting only), leaving the other cores to the application.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from plait.rag.stores.collection_dir import CollectionDir
from plait.rag.stores.hnsw import import_faiss

__all__ = ["BackgroundIndexer"]

log = logging.getLogger(__name__)


class BackgroundIndexer:
    def __init__(self, collections: Callable[[], list[CollectionDir]], *, name: str,
                 snapshot_every: float) -> None:
        self._collections = collections
        self.snapshot_every = snapshot_every
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def kick(self) -> None:
        """New work arrived (or the store closes): wake the thread now."""
        with self._wake:
            self._wake.notify()

    def stop(self) -> None:
        """Stop and wait: a running compaction is abandoned, nothing half-written is used."""
        self._stop.set()
        self.kick()
        self._thread.join()

    def _run(self) -> None:
        with contextlib.suppress(Exception):
            import_faiss().omp_set_num_threads(1)
        chunk = 16
        last_save = time.monotonic()
        bulk = False  # a big backlog was worked off: give freed memory back once idle
        while not self._stop.is_set():
            busy = False
            for coll in self._collections():
                if self._stop.is_set():
                    break
                try:
                    bulk = bulk or coll.index.pending >= 4096
                    if coll.compact_due:
                        coll.compact(abort=self._stop.is_set)
                        busy = bulk = True
                    elif coll.index.pending:
                        started = time.perf_counter()
                        if coll.index_some(chunk):
                            busy = True
                            took = max(time.perf_counter() - started, 1e-6)
                            chunk = int(min(1024, max(1, chunk * 0.001 / took)))
                        time.sleep(0.0005 if coll.readers else 0)
                except Exception:  # keep the thread alive; the data stays on disk
                    log.exception("background work on %s failed", coll.info.ref)
            if busy:
                continue
            if bulk:
                bulk = False
                release_memory()
            if time.monotonic() - last_save >= self.snapshot_every:
                last_save = time.monotonic()
                for coll in self._collections():
                    try:
                        coll.persist()
                    except Exception:
                        log.exception("saving snapshots of %s failed", coll.info.ref)
            with self._wake:
                if not self._stop.is_set():
                    self._wake.wait(timeout=min(self.snapshot_every, 1.0))


def release_memory() -> None:
    """Hand freed heap memory back to the OS (glibc keeps what big transient arrays of a bulk
    load leave in its per-thread arenas: tens of MB of resident memory otherwise)."""
    with contextlib.suppress(Exception):
        import ctypes
        import ctypes.util

        libc = ctypes.util.find_library("c")
        if libc and "libc.so" in libc:
            ctypes.CDLL(libc).malloc_trim(0)
