"""Incremental ingestion: documents (or files and directories) into a collection.

::

    ingestor = Ingestor(store, embedder, RecursiveChunker(size=800, overlap=100), ref)
    report = await ingestor.ingest("docs/", progress=print)

What one call does:

1. **Load** the files (through :func:`plait.rag.loaders.load`, in a worker thread) or take the
   documents given. A file that cannot be read is a failure in the report; the rest go on.
2. **Compare** each document's hash with the collection's (``store.doc_hashes``). The hash
   (:func:`doc_hash`) covers the text, the metadata (but ``modified``, a file's mtime, so
   touching a file changes nothing) and the chunker's ``fingerprint``: the same text chunked
   differently is a changed document. Unchanged documents are skipped. The embedding model
   is deliberately not in the hash: a collection holds one model's vectors (checked as a
   whole, below), and :func:`~plait.rag.reembed.reembed` keeps the stored hashes valid, so
   ingesting after a re-embed skips every unchanged document.
3. **Chunk, embed and write** the new and changed ones, in batches of about ``batch_size``
   chunks: the embedder works off the event loop; a changed document's old chunks are deleted
   just before its new ones are written (a crash in between leaves it missing, and the next
   run adds it again). Every record carries ``doc_id`` (and, for files found in a directory,
   ``ingest_root``) in its metadata.
4. **Prune** (``prune=True``, the default for a directory): documents that an earlier run
   loaded from the same directory and that are gone now are deleted; a file that failed to
   load this time keeps its earlier version. With documents or files given directly,
   ``prune=True`` deletes every document of the collection that is not among them.

The collection is created on first use with the embedder's size and model id. A collection
made by another model is refused (:class:`~plait.errors.EmbedderMismatch`, or
``DimensionMismatch`` for another size) unless the ingestor was made with ``reembed=True``:
then the whole collection is re-embedded first (:func:`plait.rag.reembed.reembed`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from plait.errors import UsageError
from plait.rag.embeddings.base import check_compatible, resolve_dim
from plait.rag.filters import And, Filter, In
from plait.rag.loaders import LoadReport, load
from plait.rag.types import (
    Chunk,
    CollectionInfo,
    CollectionRef,
    Document,
    Embedder,
    MetaValue,
    Record,
    VectorStore,
)

__all__ = [
    "ChunkerLike",
    "IngestFailure",
    "IngestReport",
    "Ingestor",
    "Progress",
    "ProgressCallback",
    "WholeDocumentChunker",
    "doc_hash",
]

StrPath = str | os.PathLike[str]
_VOLATILE = frozenset({"modified"})


@dataclass(frozen=True, slots=True)
class Progress:
    """One progress step of a long job: ``done`` of ``total`` units (documents for ingestion,
    records for re-embedding) in ``phase``. The CLI draws a progress bar from it."""

    phase: str
    done: int
    total: int
    message: str = ""


ProgressCallback = Callable[[Progress], object]


class ChunkerLike(Protocol):
    """What ingestion needs of a chunker (:class:`plait.rag.chunkers.base.Chunker`)."""

    @property
    def fingerprint(self) -> str: ...

    def split(self, document: Document) -> list[Chunk]: ...


class WholeDocumentChunker:
    """One chunk per document, the whole text (for corpora of passages already short enough,
    such as retrieval benchmarks). Chunk ids are ``{document.id}#c0``."""

    @property
    def fingerprint(self) -> str:
        return "whole"

    def split(self, document: Document) -> list[Chunk]:
        if not document.text.strip():
            return []
        meta = {**document.metadata, "chunk": 0, "start": 0, "end": len(document.text)}
        return [Chunk(id=f"{document.id}#c0", doc_id=document.id, text=document.text,
                      metadata=meta)]


def doc_hash(document: Document, chunker_fingerprint: str) -> str:
    """The content hash ingestion compares: text, metadata (without ``modified``) and the
    chunker's fingerprint, as a hex BLAKE2b digest."""
    meta = {k: v for k, v in document.metadata.items() if k not in _VOLATILE}
    payload = json.dumps([document.text, meta, chunker_fingerprint], sort_keys=True,
                         ensure_ascii=False, default=str)
    return hashlib.blake2b(payload.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class IngestFailure:
    """A file or document that could not be ingested, and why."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(slots=True)
class IngestReport:
    """What one :meth:`Ingestor.ingest` call did (document ids in each list)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[IngestFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Documents with no text to index (no chunks)."""
    chunks: int = 0
    """Chunks embedded and written."""
    seconds: float = 0.0

    def summary(self) -> dict[str, int | float]:
        return {"added": len(self.added), "updated": len(self.updated),
                "unchanged": len(self.unchanged), "removed": len(self.removed),
                "failed": len(self.failed), "skipped": len(self.skipped),
                "chunks": self.chunks, "seconds": round(self.seconds, 3)}


@dataclass(slots=True)
class _Pending:
    doc: Document
    digest: str
    root: str | None
    replaces: bool
    chunks: list[Chunk] = field(default_factory=list)


def _failed(doc_id: str, sources: set[str]) -> bool:
    """Whether ``doc_id`` belongs to a file that failed to load this time (kept, not pruned)."""
    return doc_id in sources or doc_id.partition("#")[0] in sources


class Ingestor:
    """Ingests into the collection ``ref`` of ``store``: chunks with ``chunker``, embeds with
    ``embedder``. ``batch_size`` is about how many chunks go to the embedder at once;
    ``include``/``exclude`` are the loader's globs for directories."""

    def __init__(self, store: VectorStore, embedder: Embedder, chunker: ChunkerLike,
                 ref: CollectionRef, *, batch_size: int = 256, reembed: bool = False,
                 include: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> None:
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.ref = ref
        self.batch_size = batch_size
        self.reembed = reembed
        self.include = include
        self.exclude = exclude

    async def ensure_collection(self, *,
                                progress: ProgressCallback | None = None) -> CollectionInfo:
        """The collection, created for the embedder if missing; checked (or re-embedded, with
        ``reembed=True``) if it exists."""
        info = await self.store.get_collection(self.ref)
        if info is None:
            dim = await resolve_dim(self.embedder)
            return await self.store.create_collection(
                self.ref, dim=dim, embedder=self.embedder.model_id, exist_ok=True)
        try:
            check_compatible(info, self.embedder, dim=await resolve_dim(self.embedder))
        except UsageError:
            if not self.reembed:
                raise
            from plait.rag.reembed import reembed

            await reembed(self.store, self.ref, self.embedder, progress=progress,
                          batch_size=self.batch_size)
            info = await self.store.get_collection(self.ref)
            assert info is not None
        return info

    async def ingest(self, source: Sequence[Document] | StrPath | Iterable[StrPath], *,
                     prune: bool | None = None,
                     progress: ProgressCallback | None = None) -> IngestReport:
        """Bring the collection up to date with ``source``: documents, or paths of files and
        directories. See the module docstring."""
        started = time.perf_counter()
        report = IngestReport()
        docs, roots = await self._gather(source, report)
        if prune is None:
            prune = bool(roots)
        await self.ensure_collection(progress=progress)
        existing = await self.store.doc_hashes(self.ref)
        fingerprint = self.chunker.fingerprint
        todo: list[_Pending] = []
        seen: dict[str, _Pending | None] = {}
        for doc, root in docs:
            if doc.id in seen:
                report.failed.append(IngestFailure(doc.id, "duplicate document id; the "
                                                   "first one was kept"))
                continue
            digest = doc_hash(doc, fingerprint)
            if existing.get(doc.id) == digest:
                report.unchanged.append(doc.id)
                seen[doc.id] = None
                continue
            pending = _Pending(doc, digest, root, replaces=doc.id in existing)
            seen[doc.id] = pending
            todo.append(pending)
        total = len(todo)
        done = 0
        if progress is not None:
            progress(Progress("ingest", 0, total))
        batch: list[_Pending] = []
        size = 0
        for pending in todo:
            try:
                pending.chunks = await asyncio.to_thread(self.chunker.split, pending.doc)
            except Exception as exc:  # a chunker choking on one document: report, go on
                report.failed.append(IngestFailure(pending.doc.id,
                                                   f"{type(exc).__name__}: {exc}"))
                done += 1
                continue
            batch.append(pending)
            size += len(pending.chunks)
            if size >= self.batch_size:
                done += await self._write(batch, report)
                batch, size = [], 0
                if progress is not None:
                    progress(Progress("ingest", done, total))
        if batch:
            done += await self._write(batch, report)
        if progress is not None:
            progress(Progress("ingest", done, total))
        if prune:
            await self._prune(existing, seen, roots, report)
        report.seconds = time.perf_counter() - started
        return report

    async def _gather(self, source: Sequence[Document] | StrPath | Iterable[StrPath],
                      report: IngestReport) -> tuple[list[tuple[Document, str | None]],
                                                     list[str]]:
        """(document, directory root or None) pairs, and the directory roots walked."""
        items: list[Document | StrPath] = (
            [source] if isinstance(source, str | os.PathLike) else list(source))
        docs = [i for i in items if isinstance(i, Document)]
        paths = [Path(os.fspath(i)) for i in items if not isinstance(i, Document)]
        if docs and paths:
            raise UsageError("ingest() takes documents or paths, not a mix of both")
        out: list[tuple[Document, str | None]] = [(d, None) for d in docs]
        roots: list[str] = []
        for path in paths:
            loaded, root = await asyncio.to_thread(self._load, path)
            report.failed.extend(IngestFailure(f.source, f.message) for f in loaded.failures)
            if root is not None:
                roots.append(root)
            out.extend((d, root) for d in loaded.documents)
        return out, roots

    def _load(self, path: Path) -> tuple[LoadReport, str | None]:
        """The path's documents, and its resolved directory name when it is a directory."""
        loaded = load([path], include=self.include, exclude=self.exclude)
        return loaded, (path.resolve().as_posix() if path.is_dir() else None)

    async def _write(self, batch: list[_Pending], report: IngestReport) -> int:
        """Embed and write one batch; returns how many documents it held."""
        chunks = [c for p in batch for c in p.chunks]
        vectors = (await self.embedder.embed([c.text for c in chunks], kind="document")
                   if chunks else None)
        records: list[Record] = []
        row = 0
        for p in batch:
            extra: dict[str, MetaValue] = {"doc_id": p.doc.id}
            if p.root is not None:
                extra["ingest_root"] = p.root
            for c in p.chunks:
                assert vectors is not None
                records.append(Record(id=c.id, text=c.text, vector=vectors[row],
                                      doc_id=p.doc.id, doc_hash=p.digest,
                                      metadata={**c.metadata, **extra}))
                row += 1
        stale = [p.doc.id for p in batch if p.replaces]
        if stale:
            await self.store.delete(self.ref, where=In("doc_id", tuple(stale)))
        if records:
            await self.store.upsert(self.ref, records)
        for p in batch:
            if not p.chunks:
                report.skipped.append(p.doc.id)
            elif p.replaces:
                report.updated.append(p.doc.id)
            else:
                report.added.append(p.doc.id)
        report.chunks += len(records)
        return len(batch)

    async def _prune(self, existing: dict[str, str], seen: dict[str, _Pending | None],
                     roots: list[str], report: IngestReport) -> None:
        failed = {f.source for f in report.failed}
        gone = tuple(sorted(d for d in existing if d not in seen and not _failed(d, failed)))
        if not gone:
            return
        where: Filter = In("doc_id", gone)
        if roots:  # only documents that an earlier run loaded from these directories
            where = And(where, In("ingest_root", tuple(roots)))
        await self.store.delete(self.ref, where=where)
        after = await self.store.doc_hashes(self.ref)
        report.removed.extend(d for d in gone if d not in after)
