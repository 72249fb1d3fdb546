"""Chunkers: documents in, :class:`~plait.rag.types.Chunk` s out.

Strategies: ``fixed`` (sliding character windows), ``recursive`` (paragraphs, lines,
sentences, words), ``sentence``, ``token`` (sizes in the embedding model's tokens),
``markdown`` (split at headings, heading path kept) and ``auto`` (markdown for Markdown
documents, recursive for the rest). Build one with :func:`chunker_from_config`.

Every chunk's text is ``document.text[start:end]`` (``start``/``end`` in its metadata), and its
id is ``f"{document.id}#c{index}"``: stable across runs for the same document and settings.
"""

from plait.rag.chunkers.base import Chunker, Length, Span, make_chunks
from plait.rag.chunkers.config import (
    DEFAULT_CHUNKING,
    STRATEGIES,
    AutoChunker,
    chunker_from_config,
)
from plait.rag.chunkers.markdown import MarkdownChunker, Section, markdown_sections
from plait.rag.chunkers.text import (
    LEVELS,
    FixedChunker,
    RecursiveChunker,
    SentenceChunker,
    TokenChunker,
)
from plait.rag.types import Chunk, Document

__all__ = [
    "DEFAULT_CHUNKING",
    "LEVELS",
    "STRATEGIES",
    "AutoChunker",
    "Chunker",
    "FixedChunker",
    "Length",
    "MarkdownChunker",
    "RecursiveChunker",
    "Section",
    "SentenceChunker",
    "Span",
    "TokenChunker",
    "chunk_documents",
    "chunker_from_config",
    "make_chunks",
    "markdown_sections",
]


def chunk_documents(chunker: Chunker, documents: list[Document]) -> list[Chunk]:
    """Every document's chunks, in order."""
    return [chunk for document in documents for chunk in chunker.split(document)]
