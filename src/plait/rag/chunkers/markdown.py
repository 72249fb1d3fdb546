"""Markdown-aware chunking: one chunk per section where it fits, the heading path kept."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from plait.rag.chunkers.base import Span, make_chunks
from plait.rag.chunkers.text import RecursiveChunker
from plait.rag.tokenizer import TokenCounter
from plait.rag.types import Chunk, Document

__all__ = ["MarkdownChunker", "Section", "markdown_sections"]

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class Section:
    """``[start, end)`` of the text, from a heading line to the next heading; ``path`` is
    the titles of the headings above and of its own (``("Guide", "Install")``)."""

    start: int
    end: int
    path: tuple[str, ...]
    body_start: int
    """Where the text after the heading line starts."""


def markdown_sections(text: str) -> list[Section]:
    """The sections of a Markdown text: ATX headings (``#`` to ``######``) outside fenced
    code start one; text before the first heading is a section with an empty path."""
    heads: list[tuple[int, int, int, str]] = []  # (line start, body start, level, title)
    fence: str | None = None
    pos = 0
    for line in text.split("\n"):
        start, pos = pos, min(pos + len(line) + 1, len(text))
        bare = line.rstrip("\r")
        m = _FENCE.match(bare)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence) and not bare[m.end():].strip():
                fence = None
            continue
        if fence is None:
            h = _ATX.match(bare)
            if h:
                heads.append((start, pos, len(h.group(1)), (h.group(2) or "").strip()))
    sections: list[Section] = []
    if not heads or heads[0][0] > 0:
        sections.append(Section(0, heads[0][0] if heads else len(text), (), 0))
    stack: list[tuple[int, str]] = []
    for i, (start, body, level, title) in enumerate(heads):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        end = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        sections.append(Section(start, end, tuple(t for _, t in stack), body))
    return sections


class MarkdownChunker(RecursiveChunker):
    """Splits at Markdown headings: a section (its heading line included) that fits ``size``
    is one chunk; a bigger one is split like :class:`RecursiveChunker` within the section.
    Chunks never cross a heading, and ``metadata["section"]`` is the heading path joined by
    ``" > "`` (``"Guide > Install"``; absent before the first heading). A heading directly
    followed by another heading is kept with the section that follows."""

    strategy = "markdown"

    def __init__(self, *, size: int = 800, overlap: int = 100,
                 separators: Sequence[str] | None = None,
                 tokenizer: TokenCounter | str | Path | None = None) -> None:
        super().__init__(size=size, overlap=overlap, separators=separators, tokenizer=tokenizer)

    def split(self, document: Document) -> list[Chunk]:
        text = document.text
        spans: list[Span] = []
        pending: int | None = None  # start of headings that had no text of their own
        for section in markdown_sections(text):
            if section.path and not text[section.body_start:section.end].strip() \
                    and section.end < len(text):
                pending = section.start if pending is None else pending
                continue
            start = section.start if pending is None else pending
            pending = None
            meta = {"section": " > ".join(section.path)} if section.path else None
            spans.extend(Span(s, e, meta) for s, e in self.spans_of(text, start, section.end))
        return make_chunks(document, spans)
