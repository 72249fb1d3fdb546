"""The ``Chunker`` protocol and the span machinery every chunker shares.

Chunkers work on character spans of the document's text: a chunk's text is always exactly
``document.text[start:end]`` (``start``/``end`` in its metadata), stripped of surrounding
whitespace. Sizes are measured by a *length*: characters by default, or tokens with a
:data:`~plait.rag.tokenizer.TokenCounter`.

Chunk ids are ``f"{document.id}#c{index}"``: the same document and the same settings give the
same ids on every run. Settings are not part of the id (ids stay readable, and citations show
them); ``fingerprint`` names the settings, so ingestion can tell when they changed and
re-chunk.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from plait.errors import UsageError
from plait.rag.types import Chunk, Document, MetaValue

__all__ = ["Chunker", "Length", "Span", "check_sizes", "make_chunks", "merge_spans",
           "split_spans"]

Length = Callable[[str], int]
"""Measures a text: ``len`` for characters, a token counter for tokens."""


@runtime_checkable
class Chunker(Protocol):
    """Splits documents into chunks."""

    @property
    def fingerprint(self) -> str:
        """The strategy and its settings (``recursive(size=800,overlap=100)``): equal
        fingerprints split equal documents into equal chunks."""
        ...

    def split(self, document: Document) -> list[Chunk]:
        """The document's chunks, in order, ids ``{document.id}#c{index}``."""
        ...


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of a text, ``[start, end)``, with metadata of its own (a Markdown section)."""

    start: int
    end: int
    metadata: Mapping[str, MetaValue] | None = None


def check_sizes(size: int, overlap: int, *, where: str = "chunking") -> list[str]:
    """The problems with a size and overlap (none when fine)."""
    problems: list[str] = []
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        problems.append(f"{where}.size: expected a whole number >= 1, got {size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        problems.append(f"{where}.overlap: expected a whole number >= 0, got {overlap!r}")
    elif not problems and overlap >= size:
        problems.append(f"{where}.overlap: must be smaller than size ({overlap} >= {size})")
    return problems


def raise_problems(problems: Sequence[str]) -> None:
    if problems:
        raise UsageError("; ".join(problems))


def make_chunks(document: Document, spans: Sequence[Span]) -> list[Chunk]:
    """Chunks of ``document`` for ``spans``: metadata = the document's, the span's, then
    ``chunk`` (index), ``start`` and ``end``."""
    chunks: list[Chunk] = []
    text = document.text
    for index, span in enumerate(spans):
        metadata: dict[str, MetaValue] = dict(document.metadata)
        if span.metadata:
            metadata.update(span.metadata)
        metadata.update(chunk=index, start=span.start, end=span.end)
        chunks.append(Chunk(id=f"{document.id}#c{index}", doc_id=document.id,
                            text=text[span.start:span.end], metadata=metadata))
    return chunks


# --- splitting into pieces that fit ---------------------------------------------------------

def _measure(text: str, start: int, end: int, length: Length | None) -> int:
    return end - start if length is None else length(text[start:end])


def _hard_split(text: str, start: int, end: int, size: int, length: Length | None,
                out: list[tuple[int, int, int]]) -> None:
    """Cut ``[start, end)`` at character positions into pieces that fit ``size``."""
    if length is None:
        for s in range(start, end, size):
            out.append((s, min(s + size, end), min(s + size, end) - s))
        return
    s = start
    while s < end:
        # the longest prefix that fits (binary search; a token spans at most ~100 characters)
        lo, hi = s + 1, min(end, s + size * 100)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if length(text[s:mid]) <= size:
                lo = mid
            else:
                hi = mid - 1
        out.append((s, lo, length(text[s:lo])))
        s = lo


def split_spans(text: str, start: int, end: int, *, size: int,
                levels: Sequence[re.Pattern[str]], length: Length | None,
                out: list[tuple[int, int, int]]) -> None:
    """Append to ``out`` contiguous pieces ``(start, end, length)`` covering ``[start, end)``,
    each of length <= ``size``: the whole span if it fits, else cut at the first level's
    matches (a cut falls after the match, so separators stay with the piece before) and each
    piece that is still too long cut at the next levels; characters last."""
    # Counting tokens costs time: a span of more than 8 characters per allowed token is cut
    # without counting (cutting a span that would have fit is harmless: packing rejoins it).
    if length is None or end - start <= 8 * size:
        n = _measure(text, start, end, length)
        if n <= size:
            out.append((start, end, n))
            return
    for i, pattern in enumerate(levels):
        cuts = sorted({m.end() for m in pattern.finditer(text, start, end)
                       if start < m.end() < end})
        if not cuts:
            continue
        bounds = [start, *cuts, end]
        for s, e in itertools.pairwise(bounds):
            split_spans(text, s, e, size=size, levels=levels[i + 1:], length=length, out=out)
        return
    _hard_split(text, start, end, size, length, out)


def merge_spans(text: str, pieces: Sequence[tuple[int, int, int]], *, size: int, overlap: int,
                length: Length | None) -> list[tuple[int, int]]:
    """Pack consecutive pieces into spans of length <= ``size``; each span after the first
    starts with up to ``overlap`` (length) of whole pieces from the end of the one before.
    Lengths of pieces are added up (exact for characters; for tokens the packed span is then
    counted, and shrunk if the sum was optimistic). Spans come back stripped of surrounding
    whitespace; whitespace-only spans are dropped."""
    spans: list[tuple[int, int]] = []
    count = len(pieces)
    i = 0
    while i < count:
        j, total = i, pieces[i][2]
        while j + 1 < count and total + pieces[j + 1][2] <= size:
            j += 1
            total += pieces[j][2]
        if length is not None:
            while j > i and length(text[pieces[i][0]:pieces[j][1]]) > size:
                j -= 1
        spans.append((pieces[i][0], pieces[j][1]))
        if j == count - 1:
            break
        k, tail = j + 1, 0
        while k - 1 > i and tail + pieces[k - 1][2] <= overlap:
            k -= 1
            tail += pieces[k][2]
        while k <= j and tail + pieces[j + 1][2] > size:
            tail -= pieces[k][2]
            k += 1
        i = k
    stripped: list[tuple[int, int]] = []
    for s, e in spans:
        piece = text[s:e]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        # drop whitespace, and a span inside the one before (a shrunk token span)
        if s + lead < e - trail and (not stripped or e - trail > stripped[-1][1]):
            stripped.append((s + lead, e - trail))
    return stripped
