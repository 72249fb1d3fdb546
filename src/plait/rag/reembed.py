"""Re-embedding a whole collection when the embedding model changes: a resumable batch job.

::

    report = await reembed(store, ref, LocalEmbedder(), progress=bar.update)

**Mechanism.** The job never touches the live collection until the new vectors are complete:

1. **Build** a *shadow* collection beside it, ``{name}__reembed`` (same tenant and namespace,
   the new model's size and id, the same metric and remaining TTL). The job walks the live
   collection with ``store.scan`` in batches; for each batch it asks the shadow which ids it
   already holds with the same text, metadata and ``doc_hash``, embeds only the others, and
   upserts them into the shadow.
2. **Reconcile**: ids in the shadow that the live collection no longer holds (deleted while the
   job ran) are deleted from the shadow.
3. **Swap**: when the store can rename collections (a ``rename_collection(src, dst, *,
   replace=True)`` method, done atomically by the backend), the shadow replaces the live
   collection in one step. Otherwise the live collection is dropped, made again for the new
   model, and the shadow's records (vectors included) are copied into it before the shadow is
   dropped: readers may then see a partial collection for the few seconds the copy takes, but
   no vector is computed twice.

**The cursor is the shadow itself.** There is no separate progress file that could disagree
with the data: what the shadow holds *is* the progress, and upserts are idempotent. After a
crash (an embedder error, a killed process), calling :func:`reembed` again with the same model
goes on where the job stopped: batches already in the shadow cost one ``get`` each and no
embedding. The phase is told by which collections exist and which model made them:

=====================================  ================================================
live collection / shadow               what a new call does
=====================================  ================================================
old model / none or new model          build (resume), reconcile, swap
missing / new model                    the swap was cut off after the drop: finish it
new model / new model                  a copy-back swap was cut off: finish the copy
new model / none                       nothing: already re-embedded
=====================================  ================================================

A shadow left by a job for a *different* model is dropped and the job starts afresh. Do not
ingest into the collection while it is re-embedded: changes made during the build are caught
by the per-batch comparison only for batches not yet walked (and deletions by the reconcile
step); a change made after its batch was walked is lost at the swap.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from plait.errors import UsageError
from plait.rag.embeddings.base import resolve_dim
from plait.rag.embeddings.factory import canonical_id
from plait.rag.ingest import Progress, ProgressCallback
from plait.rag.types import CollectionInfo, CollectionRef, Embedder, Record, VectorStore

__all__ = ["SHADOW_SUFFIX", "ReembedReport", "RenamingStore", "reembed", "shadow_ref"]

SHADOW_SUFFIX = "__reembed"


@runtime_checkable
class RenamingStore(Protocol):
    """A store that can rename a collection atomically (replacing ``dst`` when asked)."""

    async def rename_collection(self, src: CollectionRef, dst: CollectionRef, *,
                                replace: bool = False) -> CollectionInfo: ...


@dataclass(frozen=True, slots=True)
class ReembedReport:
    ref: CollectionRef
    old_embedder: str | None
    new_embedder: str
    records: int
    """Records in the collection after the job."""
    embedded: int
    """Records embedded by this call (fewer than ``records`` when it resumed)."""
    removed: int
    """Shadow records dropped because the live collection lost them during the job."""
    resumed: bool
    swap: Literal["rename", "copy", "none"]
    seconds: float


def shadow_ref(ref: CollectionRef) -> CollectionRef:
    """Where the re-embedding of ``ref`` builds its new vectors."""
    return CollectionRef(ref.tenant, f"{ref.name}{SHADOW_SUFFIX}", ref.namespace)


def _same_model(info: CollectionInfo | None, model_id: str, dim: int) -> bool:
    return (info is not None and info.embedder is not None and info.dim == dim
            and canonical_id(info.embedder) == canonical_id(model_id))


def _ttl(info: CollectionInfo) -> float | None:
    if info.expires_at is None:
        return None
    return max(info.expires_at - time.time(), 1.0)


def _unchanged(old: Record | None, new: Record) -> bool:
    return (old is not None and old.text == new.text and old.doc_id == new.doc_id
            and old.doc_hash == new.doc_hash and dict(old.metadata) == dict(new.metadata))


async def reembed(store: VectorStore, ref: CollectionRef, embedder: Embedder, *,
                  batch_size: int = 256,
                  progress: ProgressCallback | None = None) -> ReembedReport:
    """Re-embed every record of ``ref`` with ``embedder`` and swap the result in; resumable.
    See the module docstring for the mechanism."""
    if batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")
    started = time.perf_counter()
    model = embedder.model_id
    dim = await resolve_dim(embedder)
    shadow = shadow_ref(ref)
    live = await store.get_collection(ref)
    built = await store.get_collection(shadow)

    def report(old: str | None, records: int, embedded: int, removed: int, resumed: bool,
               swap: Literal["rename", "copy", "none"]) -> ReembedReport:
        return ReembedReport(ref, old, model, records, embedded, removed, resumed, swap,
                             time.perf_counter() - started)

    if live is None:
        if built is None or not _same_model(built, model, dim):
            raise UsageError(f"no collection {ref} to re-embed")
        swap = await _swap(store, ref, shadow, built, progress)  # cut off after the drop
        return report(None, (await store.stats(ref)).count, 0, 0, True, swap)
    if _same_model(live, model, dim):
        if built is not None and _same_model(built, model, dim):  # cut off copying back
            await _copy(store, shadow, ref, progress)
            await store.drop_collection(shadow)
            return report(live.embedder, (await store.stats(ref)).count, 0, 0, True, "copy")
        return report(live.embedder, (await store.stats(ref)).count, 0, 0, False, "none")

    if built is not None and not _same_model(built, model, dim):
        await store.drop_collection(shadow)  # a job for another model: start afresh
        built = None
    resumed = built is not None
    if built is None:
        built = await store.create_collection(shadow, dim=dim, metric=live.metric,
                                              embedder=model, ttl=_ttl(live), exist_ok=True)
    total = (await store.stats(ref)).count
    done = embedded = 0
    seen: set[str] = set()
    if progress is not None:
        progress(Progress("reembed", 0, total))
    async for batch in store.scan(ref, batch=batch_size):
        seen.update(r.id for r in batch)
        have = {r.id: r for r in await store.get(shadow, [r.id for r in batch])}
        todo = [r for r in batch if not _unchanged(have.get(r.id), r)]
        if todo:
            vectors = await embedder.embed([r.text for r in todo], kind="document")
            await store.upsert(shadow, [
                Record(id=r.id, text=r.text, vector=vectors[i], doc_id=r.doc_id,
                       doc_hash=r.doc_hash, metadata=r.metadata) for i, r in enumerate(todo)])
            embedded += len(todo)
        done += len(batch)
        if progress is not None:
            progress(Progress("reembed", done, max(total, done)))
    extra: list[str] = []
    async for batch in store.scan(shadow, batch=batch_size):
        extra.extend(r.id for r in batch if r.id not in seen)
    removed = await store.delete(shadow, extra) if extra else 0
    swap = await _swap(store, ref, shadow, built, progress)
    return report(live.embedder, (await store.stats(ref)).count, embedded, removed, resumed,
                  swap)


async def _swap(store: VectorStore, ref: CollectionRef, shadow: CollectionRef,
                built: CollectionInfo,
                progress: ProgressCallback | None) -> Literal["rename", "copy"]:
    if isinstance(store, RenamingStore):
        await store.rename_collection(shadow, ref, replace=True)
        if progress is not None:
            progress(Progress("swap", 1, 1))
        return "rename"
    live = await store.get_collection(ref)
    if live is not None and not _same_model(live, built.embedder or "", built.dim):
        await store.drop_collection(ref)
    await store.create_collection(ref, dim=built.dim, metric=built.metric,
                                  embedder=built.embedder, ttl=_ttl(built), exist_ok=True)
    await _copy(store, shadow, ref, progress)
    await store.drop_collection(shadow)
    return "copy"


async def _copy(store: VectorStore, src: CollectionRef, dst: CollectionRef,
                progress: ProgressCallback | None, batch_size: int = 512) -> None:
    total = (await store.stats(src)).count
    done = 0
    async for batch in store.scan(src, batch=batch_size, with_vectors=True):
        records: Sequence[Record] = batch
        await store.upsert(dst, records)
        done += len(batch)
        if progress is not None:
            progress(Progress("swap", done, max(total, done)))
