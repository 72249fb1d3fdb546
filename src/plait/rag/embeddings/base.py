"""What every embedder shares: the provider options, input checks, batching and the checks
that keep vectors of different models and sizes apart.

:func:`check_compatible` is for stores and ingestion: before a collection receives (or is
searched with) an embedder's vectors, it raises :class:`~plait.errors.DimensionMismatch` or
:class:`~plait.errors.EmbedderMismatch` naming both sides.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal, TypedDict

import numpy as np
from pydantic import SecretStr

from plait.errors import DimensionMismatch, EmbedderMismatch, UsageError

if TYPE_CHECKING:
    from plait.rag.types import CollectionInfo, CollectionStats, Embedder, Vectors

__all__ = [
    "DEFAULT_LOCAL_ID",
    "EmbedKind",
    "EmbedderConfig",
    "EmbedderOptions",
    "as_vectors",
    "check_compatible",
    "check_texts",
    "check_width",
    "resolve_dim",
    "split_batches",
]

EmbedKind = Literal["document", "query"]
DEFAULT_LOCAL_ID: Final = "local:all-MiniLM-L6-v2"
_KINDS: Final = ("document", "query")


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedderConfig:
    """How to reach an embedding provider. Every field has a default; ``None`` means the
    provider's own (its public endpoint, its batch limit, the model's native size).

    ``api_key`` is a :class:`~pydantic.SecretStr` (a plain string is wrapped on the way in);
    it is never printed, logged or quoted in an error message.
    """

    api_key: SecretStr | None = None
    base_url: str | None = None
    dimensions: int | None = None
    """Ask for vectors of this size where the API can (OpenAI ``dimensions``, Gemini
    ``outputDimensionality``, Ollama and TEI ``dimensions``); a reply of another size is a
    :class:`~plait.errors.DimensionMismatch`."""
    batch_size: int | None = None
    """Texts per request (per encode call for the local model)."""
    max_batch_chars: int | None = None
    """Characters per request, so a batch of long texts stays under a token limit."""
    concurrency: int = 2
    """Requests in flight at once per embedder."""
    timeout: float = 60.0
    max_retries: int = 2
    """Retries of a rate-limited or unavailable request (429, 5xx, timeouts), waiting what
    ``Retry-After`` says or ``retry_backoff * 2**attempt`` seconds."""
    retry_backoff: float = 0.5
    normalize: bool = True
    """Scale every vector to unit length (cosine = dot product)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra HTTP headers (a gateway's, a proxy's)."""

    def __post_init__(self) -> None:
        if isinstance(self.api_key, str):  # untyped callers: keep the key secret all the same
            object.__setattr__(self, "api_key", SecretStr(self.api_key))
        problems = [name for name, value, least in (
            ("dimensions", self.dimensions, 1), ("batch_size", self.batch_size, 1),
            ("max_batch_chars", self.max_batch_chars, 1), ("concurrency", self.concurrency, 1),
            ("max_retries", self.max_retries, 0)) if value is not None and value < least]
        if self.timeout <= 0:
            problems.append("timeout")
        if problems:
            raise UsageError(f"invalid embedder option(s): {', '.join(problems)} "
                             "(sizes and counts are positive, max_retries >= 0)")


class EmbedderOptions(TypedDict, total=False):
    """The fields of :class:`EmbedderConfig`, as keyword arguments of
    :func:`~plait.rag.embeddings.embedder_from_id`."""

    api_key: SecretStr | None
    base_url: str | None
    dimensions: int | None
    batch_size: int | None
    max_batch_chars: int | None
    concurrency: int
    timeout: float
    max_retries: int
    retry_backoff: float
    normalize: bool
    headers: Mapping[str, str]


def check_texts(texts: Sequence[str], kind: str) -> list[str]:
    """``texts`` as a list, or a :class:`UsageError` for a lone string, a non-string item or
    an unknown ``kind``."""
    if isinstance(texts, str | bytes):
        raise UsageError("embed() takes a sequence of texts, not one string: embed([text])")
    if kind not in _KINDS:
        raise UsageError(f"kind must be 'document' or 'query', not {kind!r}")
    found = list(texts)
    bad = next((i for i, t in enumerate(found) if not isinstance(t, str)), None)
    if bad is not None:
        raise UsageError(f"texts[{bad}] is a {type(found[bad]).__name__}, not a str")
    return found


def split_batches(texts: Sequence[str], size: int, max_chars: int | None = None,
                  ) -> Iterator[tuple[int, Sequence[str]]]:
    """``(start, batch)`` pairs covering ``texts`` in order: at most ``size`` texts and, when
    given, ``max_chars`` characters per batch (a longer text goes alone)."""
    start = 0
    while start < len(texts):
        end, chars = start, 0
        while end < len(texts) and end - start < size:
            chars += len(texts[end])
            if max_chars is not None and chars > max_chars and end > start:
                break
            end += 1
        yield start, texts[start:end]
        start = end


def check_width(vectors: Vectors, expected: int | None, *, model_id: str, why: str) -> int:
    """The width of ``vectors`` (n, dim); a :class:`DimensionMismatch` if it is not
    ``expected`` (``why`` says where the expectation came from)."""
    actual = int(vectors.shape[1])
    if expected is not None and actual != expected:
        raise DimensionMismatch(
            f"{model_id} returned {actual}-dim vectors, but {expected} were expected ({why})",
            expected=expected, actual=actual)
    return actual


def as_vectors(rows: Sequence[Sequence[float] | Vectors] | Vectors, *,
               normalize: bool) -> Vectors:
    """A float32 ``(n, dim)`` array, rows scaled to unit length when ``normalize``."""
    array = np.asarray(rows, dtype=np.float32)
    if array.ndim != 2:
        array = array.reshape(len(array), -1)
    if normalize and array.size:
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        array = (array / np.where(norms == 0.0, 1.0, norms)).astype(np.float32)
    return np.ascontiguousarray(array, dtype=np.float32)


async def resolve_dim(embedder: Embedder) -> int:
    """The embedder's vector size: ``embedder.dim`` when known, otherwise the width of one
    probe embedding (a hosted model's size shows only in its first reply)."""
    if embedder.dim is not None:
        return embedder.dim
    return int((await embedder.embed(["dimension probe"], kind="query")).shape[1])


def check_compatible(info: CollectionInfo | CollectionStats, embedder: Embedder, *,
                     dim: int | None = None) -> None:
    """Raise unless ``embedder``'s vectors belong in the collection ``info`` describes.

    :class:`~plait.errors.DimensionMismatch` when the sizes differ (``dim`` overrides an
    embedder whose size is not known yet: see :func:`resolve_dim`);
    :class:`~plait.errors.EmbedderMismatch` when the collection records another model
    (vectors of two models of one size are no more comparable than of two sizes).
    """
    from plait.rag.embeddings.factory import canonical_id

    where = f"collection {info.ref}"
    theirs = canonical_id(info.embedder) if info.embedder else None
    ours = embedder.model_id
    size = dim if dim is not None else embedder.dim
    if size is not None and size != info.dim:
        made_by = f" by {theirs}" if theirs else ""
        raise DimensionMismatch(
            f"{where} holds {info.dim}-dim vectors{made_by}, but embedder {ours} makes "
            f"{size}-dim vectors: use {theirs or f'a {info.dim}-dim model'} or re-embed the "
            "collection", expected=info.dim, actual=size)
    if theirs is not None and theirs != canonical_id(ours):
        raise EmbedderMismatch(
            f"{where} was embedded with {theirs}, not {ours}: search it with {theirs} or "
            "re-embed the collection")
