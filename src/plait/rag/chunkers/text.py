"""Chunkers for any text: fixed-size windows, recursive by separators, sentences, tokens."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

from plait.errors import UsageError
from plait.rag.chunkers.base import (
    Length,
    Span,
    check_sizes,
    make_chunks,
    merge_spans,
    raise_problems,
    split_spans,
)
from plait.rag.tokenizer import MINILM, TokenCounter, check_tokenizer, get_tokenizer
from plait.rag.types import Chunk, Document

__all__ = ["LEVELS", "FixedChunker", "RecursiveChunker", "SentenceChunker", "TokenChunker"]

PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
LINE = re.compile(r"\n")
# ., ! or ? (closing quotes and brackets stay with the sentence), then spaces, unless a
# lower-case letter follows ("e.g. this"); CJK full stops need no space.
SENTENCE = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s++(?![a-z])|[\u3002\uff01\uff1f]+\s*")
WORD = re.compile(r"\s+")

LEVELS: dict[str, re.Pattern[str]] = {"paragraph": PARAGRAPH, "line": LINE,
                                      "sentence": SENTENCE, "word": WORD}
"""The recursive chunker's default separators, coarsest first; characters come last."""


class FixedChunker:
    """Windows of ``size`` characters, each starting ``size - overlap`` after the one before;
    the last window ends at the end of the text. Cuts anywhere, even inside a word; chunk
    text is the exact window (whitespace-only windows are dropped)."""

    strategy = "fixed"

    def __init__(self, *, size: int = 800, overlap: int = 100) -> None:
        raise_problems(check_sizes(size, overlap))
        self.size, self.overlap = size, overlap

    @property
    def fingerprint(self) -> str:
        return f"fixed(size={self.size},overlap={self.overlap})"

    def __repr__(self) -> str:
        return f"FixedChunker(size={self.size}, overlap={self.overlap})"

    def spans(self, text: str) -> list[Span]:
        spans: list[Span] = []
        step = self.size - self.overlap
        start = 0
        while start < len(text):
            end = min(start + self.size, len(text))
            if text[start:end].strip():
                spans.append(Span(start, end))
            if end == len(text):
                break
            start += step
        return spans

    def split(self, document: Document) -> list[Chunk]:
        return make_chunks(document, self.spans(document.text))


def _tokenizer_name(tokenizer: TokenCounter | str | Path) -> str:
    if isinstance(tokenizer, str | Path):
        return str(tokenizer)
    name = getattr(tokenizer, "name", None)
    if isinstance(name, str):
        return name
    return f"{getattr(tokenizer, '__module__', '?')}.{getattr(tokenizer, '__qualname__', '?')}"


class RecursiveChunker:
    """Pieces cut at paragraphs, then lines, sentences, words and characters, each level only
    where a piece is still longer than ``size``; then consecutive pieces packed into chunks of
    at most ``size``, each starting with up to ``overlap`` of whole pieces from the end of the
    one before.

    ``separators``: literal strings to cut at instead of the default levels, coarsest first
    (``["\\n\\n", "\\n", " "]``; characters always come last). ``tokenizer``: measure ``size``
    and ``overlap`` in tokens instead of characters: a tokenizer name (``all-MiniLM-L6-v2``),
    a ``tokenizer.json`` path, or any callable counting the tokens of a text."""

    strategy = "recursive"
    _default_levels: tuple[re.Pattern[str], ...] = (PARAGRAPH, LINE, SENTENCE, WORD)

    def __init__(self, *, size: int = 800, overlap: int = 100,
                 separators: Sequence[str] | None = None,
                 tokenizer: TokenCounter | str | Path | None = None) -> None:
        problems = check_sizes(size, overlap)
        if separators is not None and (isinstance(separators, str) or not all(
                isinstance(s, str) for s in separators)):
            problems.append("chunking.separators: expected a list of strings")
        if isinstance(tokenizer, str | Path):
            try:
                check_tokenizer(tokenizer)
            except UsageError as e:
                problems.append(f"chunking.tokenizer: {e}")
        elif tokenizer is not None and not callable(tokenizer):
            problems.append("chunking.tokenizer: expected a name, a path or a callable")
        raise_problems(problems)
        self.size, self.overlap = size, overlap
        self.separators = list(separators) if separators is not None else None
        self.levels: tuple[re.Pattern[str], ...] = self._default_levels if separators is None \
            else tuple(re.compile(re.escape(s)) for s in separators if s)
        self.tokenizer = tokenizer
        self._length: Length | None = None  # a named tokenizer, once loaded
        self._lock = threading.Lock()

    @property
    def length(self) -> Length | None:
        """The length function: None for characters, else the token counter (loaded once)."""
        if self.tokenizer is None:
            return None
        if callable(self.tokenizer):
            return self.tokenizer
        with self._lock:
            if self._length is None:
                self._length = get_tokenizer(self.tokenizer)
            return self._length

    @property
    def unit(self) -> str:
        return "chars" if self.tokenizer is None else f"tokens:{_tokenizer_name(self.tokenizer)}"

    @property
    def fingerprint(self) -> str:
        seps = "" if self.separators is None else f",separators={self.separators!r}"
        return (f"{self.strategy}(size={self.size},overlap={self.overlap},"
                f"unit={self.unit}{seps})")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.fingerprint})"

    def spans_of(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """The chunk spans of ``text[start:end]``."""
        length = self.length
        pieces: list[tuple[int, int, int]] = []
        split_spans(text, start, end, size=self.size, levels=self.levels, length=length,
                    out=pieces)
        return merge_spans(text, pieces, size=self.size, overlap=self.overlap, length=length)

    def split(self, document: Document) -> list[Chunk]:
        text = document.text
        return make_chunks(document, [Span(s, e) for s, e in self.spans_of(text, 0, len(text))])


class SentenceChunker(RecursiveChunker):
    """Whole sentences (paragraph breaks end one too) packed into chunks of at most ``size``,
    ``overlap`` carried over as whole sentences; a sentence longer than ``size`` is cut at
    words. Sentences end at ``.``, ``!``, ``?`` or ``…`` followed by a space and not by a
    lower-case letter, or at a CJK full stop."""

    strategy = "sentence"
    _default_levels = (re.compile(f"{PARAGRAPH.pattern}|{SENTENCE.pattern}"), WORD)

    def __init__(self, *, size: int = 800, overlap: int = 100,
                 tokenizer: TokenCounter | str | Path | None = None) -> None:
        super().__init__(size=size, overlap=overlap, tokenizer=tokenizer)


class TokenChunker(RecursiveChunker):
    """:class:`RecursiveChunker` measuring ``size`` and ``overlap`` in tokens of the embedding
    model (all-MiniLM-L6-v2 unless told otherwise). MiniLM reads 256 tokens, two of them its
    own markers: the default 200 leaves room."""

    strategy = "token"

    def __init__(self, *, size: int = 200, overlap: int = 20,
                 separators: Sequence[str] | None = None,
                 tokenizer: TokenCounter | str | Path = MINILM) -> None:
        super().__init__(size=size, overlap=overlap, separators=separators, tokenizer=tokenizer)
