"""Chunkers from plain configuration (workflow specs, the CLI)::

    {"strategy": "recursive", "size": 800, "overlap": 100}
    {"strategy": "token", "size": 200, "overlap": 20, "tokenizer": "all-MiniLM-L6-v2"}
    {"strategy": "markdown", "size": 800}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from plait.errors import UsageError
from plait.rag.chunkers.base import Chunker, check_sizes
from plait.rag.chunkers.markdown import MarkdownChunker
from plait.rag.chunkers.text import FixedChunker, RecursiveChunker, SentenceChunker, TokenChunker
from plait.rag.tokenizer import MINILM
from plait.rag.types import Chunk, Document

__all__ = ["DEFAULT_CHUNKING", "STRATEGIES", "AutoChunker", "chunker_from_config"]

DEFAULT_CHUNKING: Final[Mapping[str, object]] = {"strategy": "recursive", "size": 800,
                                                  "overlap": 100}

STRATEGIES: Final[Mapping[str, tuple[str, ...]]] = {
    "fixed": ("size", "overlap"),
    "recursive": ("size", "overlap", "separators", "tokenizer"),
    "sentence": ("size", "overlap", "tokenizer"),
    "token": ("size", "overlap", "separators", "tokenizer"),
    "markdown": ("size", "overlap", "separators", "tokenizer"),
    "auto": ("size", "overlap", "tokenizer"),
}
"""Each strategy and the options it takes (besides ``strategy``)."""

_DEFAULTS: Final[Mapping[str, tuple[int, int]]] = {"token": (200, 20)}


class AutoChunker:
    """:class:`MarkdownChunker` for Markdown documents (``metadata["type"] == "markdown"``),
    :class:`RecursiveChunker` for the rest, with the same settings."""

    strategy = "auto"

    def __init__(self, *, size: int = 800, overlap: int = 100,
                 tokenizer: str | None = None) -> None:
        self.markdown = MarkdownChunker(size=size, overlap=overlap, tokenizer=tokenizer)
        self.other = RecursiveChunker(size=size, overlap=overlap, tokenizer=tokenizer)

    @property
    def fingerprint(self) -> str:
        return f"auto({self.markdown.fingerprint},{self.other.fingerprint})"

    def __repr__(self) -> str:
        return f"AutoChunker({self.fingerprint})"

    def split(self, document: Document) -> list[Chunk]:
        if document.metadata.get("type") == "markdown":
            return self.markdown.split(document)
        return self.other.split(document)


def chunker_from_config(config: Mapping[str, object] | None = None) -> Chunker:
    """The chunker a plain config describes (default :data:`DEFAULT_CHUNKING`); a
    ``UsageError`` lists every problem at once (unknown strategy or option, bad sizes,
    ``overlap >= size``, an unknown tokenizer)."""
    if config is None:
        config = DEFAULT_CHUNKING
    if not isinstance(config, Mapping):
        raise UsageError(f"chunking: expected an object like {dict(DEFAULT_CHUNKING)}, "
                         f"got {config!r}")
    strategy = config.get("strategy", "recursive")
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise UsageError(f"chunking.strategy: unknown strategy {strategy!r}; "
                         f"known: {', '.join(STRATEGIES)}")
    allowed = STRATEGIES[strategy]
    problems = [f"chunking.{key}: unknown option for strategy {strategy!r}; "
                f"known: {', '.join(allowed)}"
                for key in config if key != "strategy" and key not in allowed]
    size_default, overlap_default = _DEFAULTS.get(strategy, (800, 100))
    size = config.get("size", size_default)
    overlap = config.get("overlap", overlap_default)
    problems += check_sizes(size, overlap)  # type: ignore[arg-type]  # checked there
    tokenizer = config.get("tokenizer")
    if tokenizer is not None and not isinstance(tokenizer, str):
        problems.append(f"chunking.tokenizer: expected a name or a path, got {tokenizer!r}")
    separators = config.get("separators")
    if separators is not None and (not isinstance(separators, list) or not all(
            isinstance(s, str) for s in separators)):
        problems.append(f"chunking.separators: expected a list of strings, got {separators!r}")
    if problems:
        raise UsageError("; ".join(problems))
    assert isinstance(size, int)
    assert isinstance(overlap, int)
    seps = [str(x) for x in separators] if isinstance(separators, list) else None
    name = tokenizer if isinstance(tokenizer, str) else None
    if strategy == "fixed":
        return FixedChunker(size=size, overlap=overlap)
    if strategy == "recursive":
        return RecursiveChunker(size=size, overlap=overlap, separators=seps, tokenizer=name)
    if strategy == "sentence":
        return SentenceChunker(size=size, overlap=overlap, tokenizer=name)
    if strategy == "token":
        return TokenChunker(size=size, overlap=overlap, separators=seps,
                            tokenizer=name or MINILM)
    if strategy == "markdown":
        return MarkdownChunker(size=size, overlap=overlap, separators=seps, tokenizer=name)
    return AutoChunker(size=size, overlap=overlap, tokenizer=name)
